"""Where rlvr's sampling spends its time on the shipped base, in one run.

    python benchmarks/decode_profile.py [--threads 2]

1. The model's forward against the whole of ``rollout.generate``: 16 prompts x 8 completions of 150 tokens
   (EOS masked, so every row decodes the whole budget), the forward timed around ``model.forward``.
2. ``torch.profiler`` over 20 decoding steps of 128 rows at a context of 80, through the engine's cache:
   the share of the forward's CPU time in attention, the linear layers and everything else.
"""
from __future__ import annotations

import argparse
import json
import time

import torch

PROMPTS = [f"{a}+{b}=\n" for a, b in zip(range(12345, 99999, 5371), range(2345, 9999, 477))][:16]
ATTENTION, LINEAR = ("scaled_dot_product", "attention"), ("aten::mm", "aten::addmm", "aten::bmm")


def forward_share(model, tok) -> dict:
    from rlvr.rollout import SamplingConfig, generate

    generate(model, tok, PROMPTS[:2], n=2, sampling=SamplingConfig(max_new_tokens=4))            # warm-up
    spent, original = [0.0], model.forward

    def timed(*a, **k):
        t = time.perf_counter()
        out = original(*a, **k)
        spent[0] += time.perf_counter() - t
        return out
    model.forward = timed
    t0 = time.perf_counter()
    ro = generate(model, tok, PROMPTS, n=8, sampling=SamplingConfig(max_new_tokens=150, seed=0))
    total = time.perf_counter() - t0
    del model.forward
    tokens = sum(len(c) for c in ro.completion_ids)
    return {"seconds": round(total, 2), "forward_share": round(spent[0] / total, 3), "tokens_per_s": round(tokens / total)}


@torch.inference_mode()
def op_shares(model, rows: int = 128, context: int = 80, steps: int = 20) -> dict:
    from torch.profiler import profile

    from rlvr.rollout.engine import _room_cache

    ids = torch.randint(3, 100, (rows, context))
    cache = _room_cache(model)
    model(input_ids=ids, attention_mask=torch.ones_like(ids), past_key_values=cache, use_cache=True)
    feed, attn, pos = torch.randint(3, 100, (rows, 1)), torch.ones(rows, context + 1, dtype=torch.long), \
        torch.full((rows, 1), context)

    def step():
        model(input_ids=feed, attention_mask=attn, position_ids=pos, past_key_values=cache, use_cache=True)
        for layer in cache.layers:                                   # back to the same context each step
            layer.n = context
            layer.keys, layer.values = layer.room_k[:, :, :context], layer.room_v[:, :, :context]
    for _ in range(5):
        step()
    with profile() as p:
        for _ in range(steps):
            step()
    own = {e.key: e.self_cpu_time_total for e in p.key_averages()}
    total = sum(own.values())
    attention = sum(v for k, v in own.items() if any(a in k for a in ATTENTION))
    linear = sum(v for k, v in own.items() if k in LINEAR)
    return {"ms_per_step": round(total / steps / 1e3, 2), "attention": round(attention / total, 3),
            "linear": round(linear / total, 3), "rest": round(1 - (attention + linear) / total, 3)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    from transformers import AutoModelForCausalLM

    from rlvr.models import load_tokenizer, shipped_base_path

    torch.set_num_threads(args.threads)
    path = str(shipped_base_path())
    tok = load_tokenizer(path)
    model = AutoModelForCausalLM.from_pretrained(path).eval()
    eos = tok.eos_token_id
    model.lm_head.register_forward_hook(lambda m, i, out: out.index_fill(-1, torch.tensor([eos]), float("-inf")))
    print(json.dumps({"sampling": forward_share(model, tok), "decode_step_ops": op_shares(model)}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
