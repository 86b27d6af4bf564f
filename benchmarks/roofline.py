"""How close rlvr's sampling and update come to the machine's arithmetic limit, measured in one run.

    python benchmarks/roofline.py [--threads 2] [--sizes 10M 50M 150M] [--new-tokens 128] [--json PATH]

First the machine's matmul rate: a 2048 x 2048 matmul in float32, and in bfloat16 where the CPU runs it.
Then, for random Qwen2-shaped models of about 10M, 50M and 150M parameters (the shipped tokenizer's
vocabulary; the EOS logit masked so that every row decodes the whole budget):

- sampling: rlvr's engine, 16 prompts x 8 completions (a batch of 128), ``--new-tokens`` each, float32 and
  with the weights in bfloat16; completion tokens per second;
- update: the log-probs of those 128 rows under autograd, forward and backward, in microbatches of 32 as
  GRPO's update runs them (``rlvr/train/forward.py``); trained tokens per second.

Each model is measured in a fresh process, whose peak resident memory is reported with it.
Each rate is also given as a share of the matmul limit, counting 2N FLOPs per sampled token and 6N per
trained token (N: the parameters, the tied embedding counted once as the output head), plus attention (4 x layers x width x context per
sampled token, three times that per trained token).
"""
from __future__ import annotations

import argparse
import json
import resource
import time

import torch

SIZES = {  # name: (hidden, layers, intermediate, heads, kv heads)
    "10M": (384, 6, 1024, 6, 2),
    "50M": (640, 10, 2048, 10, 2),
    "150M": (1024, 12, 3072, 16, 4),
}
PROMPTS = [f"{a}+{b}=\n" for a, b in zip(range(12345, 99999, 5371), range(2345, 9999, 477))][:16]
GROUP, MICRO = 8, 32


def matmul_gflops(dtype: torch.dtype, n: int = 2048, seconds: float = 2.0) -> float:
    """GFLOP/s of an n x n matmul. A CPU without native bfloat16 (AMX, AVX-512 BF16) emulates it about a
    hundred times slower than float32: a 256 x 256 trial decides whether the full size is worth timing."""
    if dtype != torch.float32 and n > 256 and matmul_gflops(dtype, 256, 0.2) < 0.5 * matmul_gflops(torch.float32, 256, 0.2):
        return matmul_gflops(dtype, 256, seconds)
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    torch.mm(a, b)
    reps, t0 = 0, time.time()
    while time.time() - t0 < seconds:
        torch.mm(a, b)
        reps += 1
    return 2 * n ** 3 * reps / (time.time() - t0) / 1e9


def random_qwen(size: str, tokenizer, layers: int | None = None, mask_eos: bool = True):
    """A random Qwen2 of ``size`` (``layers`` overrides its depth); with ``mask_eos`` its EOS logit is masked
    by a forward hook, so that no row ends early."""
    from transformers import Qwen2Config, Qwen2ForCausalLM

    h, depth, inter, heads, kv = SIZES[size]
    layers = layers or depth
    cfg = Qwen2Config(vocab_size=len(tokenizer), hidden_size=h, intermediate_size=inter, num_hidden_layers=layers,
                      num_attention_heads=heads, num_key_value_heads=kv, max_position_embeddings=1024,
                      tie_word_embeddings=True, eos_token_id=tokenizer.eos_token_id,
                      bos_token_id=tokenizer.bos_token_id, pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(cfg).eval()
    eos = tokenizer.eos_token_id
    if mask_eos:
        model.lm_head.register_forward_hook(lambda m, i, out: out.index_fill(-1, torch.tensor([eos]), float("-inf")))
    return model


def in_own_process(threads: int, fn, *args):
    """``fn(*args)`` in a fresh process (spawned, ``threads`` torch threads), so that what it reports as
    its peak resident memory is its own and not the running peak of one process that ran every row."""
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(_with_threads, (threads, fn, *args))


def _with_threads(threads: int, fn, *args):
    torch.set_num_threads(threads)
    return fn(*args)


def peak_mib() -> int:
    """This process's peak resident memory so far, MiB."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def flops_per_token(model, context: float) -> tuple[float, float]:
    """(2N + attention, N) for one sampled token at the given mean context; N counts every parameter, the
    tied embedding once, as the output head's matmul (its lookup costs nothing)."""
    cfg = model.config
    n = sum(p.numel() for p in model.parameters())
    return 2 * n + 4 * cfg.num_hidden_layers * cfg.hidden_size * context, n


def sample_rate(model, tok, new_tokens: int) -> tuple[float, object]:
    from rlvr.rollout import SamplingConfig, generate

    generate(model, tok, PROMPTS[:2], n=2, sampling=SamplingConfig(max_new_tokens=4))            # warm-up
    t0 = time.time()
    ro = generate(model, tok, PROMPTS, n=GROUP, sampling=SamplingConfig(max_new_tokens=new_tokens, batch_size=128))
    seconds = time.time() - t0
    return sum(len(c) for c in ro.completion_ids) / seconds, ro


def update_rate(model, ro, pad_id: int) -> float:
    from rlvr.train.forward import completion_logprobs

    model.train()
    rows = list(range(len(ro.completion_ids)))
    tokens = sum(len(p) + len(c) for p, c in zip(ro.prompt_ids, ro.completion_ids))
    t0 = time.time()
    for i in range(0, len(rows), MICRO):
        mb = rows[i:i + MICRO]
        lp, ent, mask = completion_logprobs(model, [ro.prompt_ids[j] for j in mb], [ro.completion_ids[j] for j in mb],
                                            pad_id)
        ((lp + 0.01 * ent) * mask).sum().backward()
    seconds = time.time() - t0
    model.zero_grad(set_to_none=True)
    model.eval()
    return tokens / seconds


def measure(size: str, tok, new_tokens: int, fp32: float, bf16: float | None) -> dict:
    model = random_qwen(size, tok)
    prompt_len = sum(len(tok(p)["input_ids"]) for p in PROMPTS) / len(PROMPTS)
    per_sampled, n = flops_per_token(model, prompt_len + new_tokens / 2)
    rate32, ro = sample_rate(model, tok, new_tokens)
    up = update_rate(model, ro, tok.pad_token_id)
    per_trained = 3 * per_sampled                               # forward + backward, context alike
    row = {"parameters_M": round(n / 1e6, 1), "sample_tokens_per_s_fp32": round(rate32),
           "sample_share_of_fp32_limit": round(rate32 * per_sampled / (fp32 * 1e9), 3),
           "update_tokens_per_s": round(up), "update_share_of_fp32_limit": round(up * per_trained / (fp32 * 1e9), 3)}
    if bf16:
        rate16, _ = sample_rate(model.to(torch.bfloat16), tok, new_tokens)
        row.update({"sample_tokens_per_s_bf16": round(rate16), "bf16_over_fp32": round(rate16 / rate32, 2),
                    "sample_share_of_bf16_limit": round(rate16 * per_sampled / (bf16 * 1e9), 3)})
    row["peak_mib"] = peak_mib()
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    ap.add_argument("--new-tokens", type=int, default=128)
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args(argv)
    from rlvr.models import load_tokenizer, shipped_base_path

    torch.set_num_threads(args.threads)
    fp32 = matmul_gflops(torch.float32)
    bf16 = matmul_gflops(torch.bfloat16)
    if bf16 < fp32:                                  # emulated: sampling in bfloat16 would only be slower
        print(f"bfloat16 matmul at {bf16:.1f} GFLOP/s, below float32: no native bfloat16, not sampled in it")
        bf16_native = False
    else:
        bf16_native = True
    out = {"threads": args.threads, "new_tokens": args.new_tokens, "matmul_gflops_fp32": round(fp32, 1),
           "matmul_gflops_bf16": round(bf16, 1), "bf16_native": bf16_native, "models": {}}
    print(f"matmul: fp32 {fp32:.0f} GFLOP/s, bf16 {bf16:.1f} GFLOP/s ({args.threads} threads)", flush=True)
    tok = load_tokenizer(str(shipped_base_path()))
    for size in args.sizes:
        out["models"][size] = in_own_process(args.threads, measure, size, tok, args.new_tokens, fp32,
                                             bf16 if bf16_native else None)
        print(size, json.dumps(out["models"][size]), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
