"""Do the samplers draw the model's distribution? First tokens of the shipped base, counted against its
probabilities (docs/scaling.md).

    python scripts/sampler_checks.py [--rounds 30]

16 prompts x 8 samples a round; the count of ``<answer>`` as the first token is compared with the sum of
the model's probabilities of it (a z-score over all rounds) for: rlvr's batch generator, rlvr's per-group
draws, ``torch.multinomial`` on the same probabilities, vLLM with the engine's hashed per-request seeds,
and vLLM with consecutive seeds handed over as they are. Needs the vllm extra for the last two.
"""
from __future__ import annotations

import argparse
import os

os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")

PROMPTS = [f"{a}{op}{b}=\n" for a, op, b in zip(range(12345, 99999, 5371), "+-" * 8, range(2345, 9999, 477))][:16]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=30)
    args = ap.parse_args()
    import torch
    from transformers import AutoModelForCausalLM

    from rlvr.models import load_tokenizer, shipped_base_path
    from rlvr.prompts import encode_prompt
    from rlvr.rollout import SamplingConfig, generate
    from rlvr.rollout.vllm_engine import RolloutConfig, VLLMEngine

    path = str(shipped_base_path())
    tok, model = load_tokenizer(path), AutoModelForCausalLM.from_pretrained(path).eval()
    aid = tok.convert_tokens_to_ids("<answer>")
    with torch.no_grad():
        probs = torch.stack([model(torch.tensor([encode_prompt(tok, q)])).logits[0, -1].softmax(-1)
                             for q in PROMPTS]).repeat_interleave(8, 0)                 # [128, V]
    p = float(probs[:, aid].mean())
    one = SamplingConfig(max_new_tokens=1)
    engine = VLLMEngine(path, tok, RolloutConfig(backend="vllm"), max_model_len=1024)

    def consecutive(r):                   # vLLM with seeds r*100 + i handed over unhashed
        from vllm.inputs import TokensPrompt
        outs = engine.llm.generate([TokensPrompt(prompt_token_ids=encode_prompt(tok, q)) for q in PROMPTS],
                                   [engine._params(one, 8, r * 100 + i) for i in range(16)], use_tqdm=False)
        return [c.token_ids[0] for o in outs for c in o.outputs]

    draws = {
        "rlvr, batch generator": lambda r: [c[0] for c in generate(model, tok, PROMPTS, 8, SamplingConfig(
            max_new_tokens=1, seed=r)).completion_ids],
        "rlvr, per-group draws": lambda r: [c[0] for c in generate(model, tok, PROMPTS, 8, one, seeds=[
            r * 100 + i for i in range(16)]).completion_ids],
        "torch.multinomial": lambda r: torch.multinomial(probs, 1, generator=torch.Generator().manual_seed(r))
        .squeeze(-1).tolist(),
        "vLLM, hashed seeds": lambda r: [c[0] for c in engine.generate_rollouts(PROMPTS, 8, one, seeds=[
            r * 100 + i for i in range(16)]).completion_ids],
        "vLLM, consecutive seeds": consecutive,
    }
    n = args.rounds * 128
    sd = (n * p * (1 - p)) ** 0.5
    print(f"expected <answer> first: {n * p:.0f} of {n} (sd {sd:.0f})")
    for name, draw in draws.items():
        hits = sum(t == aid for r in range(args.rounds) for t in draw(r))
        print(f"{name:<26} {hits:>6}  z = {(hits - n * p) / sd:+.2f}")


if __name__ == "__main__":
    main()
