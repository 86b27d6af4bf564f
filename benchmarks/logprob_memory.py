"""Peak memory of one microbatch's completion log-probs, forward and backward, with a large vocabulary.

The update (``train/update.py``) scores a microbatch with ``forward.completion_logprobs``: the output head
runs a chunk of completion positions at a time, each chunk checkpointed, so the float32 logits of the
whole microbatch never exist. This compares that path with the naive one, ``model(ids).logits`` ->
``.float().log_softmax(-1)`` -> gather, over the same microbatch: rows of ``--tokens`` tokens, a prompt
of 16 to ``--prompt-max`` tokens (seeded) and a completion filling the row, so no padding; the loss is
the sum of the completion tokens' log-probs, then ``.backward()``. The model is a small random Qwen2
(``transformers.Qwen2Config``) with Qwen2.5's vocabulary (151,936) and tied embeddings, in float32.

Each variant runs in a fresh process. On the CPU its peak is the peak resident set during the call
(``ru_maxrss``; the high-water mark is first reset through ``/proc/self/clear_refs`` where Linux allows)
minus the resident set just before it, once the model and inputs are built; on CUDA it is
``torch.cuda.max_memory_allocated`` minus the memory allocated before the call. The two variants'
log-probs and some parameters' gradients must agree (asserted).

    python benchmarks/logprob_memory.py [--batch 8] [--tokens 1024] [--prompt-max 256] [--vocab 151936]
        [--hidden 256] [--layers 2] [--heads 4] [--threads 1] [--device cpu|cuda] [--json PATH]
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time

VARIANTS = ("rlvr", "naive")
GRAD_PARAMS = ("model.norm.weight", "model.layers.0.self_attn.q_proj.weight", "model.layers.0.mlp.down_proj.weight")


def _rss_mib() -> float:
    """The resident set now (VmRSS), MiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def _reset_peak_rss() -> bool:
    """Reset this process's resident-set high-water mark (Linux >= 4.0); False where not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _build(args):
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    cfg = Qwen2Config(vocab_size=args.vocab, hidden_size=args.hidden, intermediate_size=4 * args.hidden,
                      num_hidden_layers=args.layers, num_attention_heads=args.heads,
                      num_key_value_heads=max(1, args.heads // 2), max_position_embeddings=max(2048, args.tokens),
                      tie_word_embeddings=True, attention_dropout=0.0)
    model = Qwen2ForCausalLM(cfg).float().to(args.device)
    model.train()
    g = torch.Generator().manual_seed(1)
    plen = torch.randint(16, args.prompt_max + 1, (args.batch,), generator=g).tolist()
    ids = torch.randint(3, args.vocab, (args.batch, args.tokens), generator=g)
    prompts = [ids[i, :plen[i]].tolist() for i in range(args.batch)]
    completions = [ids[i, plen[i]:].tolist() for i in range(args.batch)]
    return model, prompts, completions


def _rlvr(model, prompts, completions, device):
    """The update's path: ``completion_logprobs`` with its entropy, as ``update._microbatch`` calls it.

    The entropy is dropped before the backward pass, as ``_microbatch`` drops it when the loss has no
    entropy bonus: an entropy still referenced during the backward pass of the log-probs alone would keep
    each chunk's recomputed [B, chunk, V] tensors that only its own backward pass would release."""
    from rlvr.train.forward import chosen_logprobs, completion_logprobs, hidden_states, right_padded

    if device == "cpu":
        logp, ent, mask = completion_logprobs(model, prompts, completions, pad_id=0)    # [B, Tc]
    else:           # completion_logprobs builds its inputs on the CPU: its steps, with them on the device
        ids, attn, mask, targets, index = (t.to(device) for t in right_padded(prompts, completions, 0))
        h = hidden_states(model, ids, attn)                                            # [B, L, H]
        sel = h.gather(1, index[:, :, None].expand(-1, -1, h.size(-1)))                # [B, Tc, H]
        logp, ent = chosen_logprobs(model, sel, targets)
    del ent
    (logp * mask).sum().backward()
    return logp.detach(), mask


def _naive(model, prompts, completions, device):
    """Logits of the whole microbatch, a float32 log-softmax, then a gather of the completion tokens."""
    import torch

    Tc = max(len(c) for c in completions)
    ids = torch.tensor([p + c for p, c in zip(prompts, completions)], device=device)  # [B, L] (no padding)
    logp_all = model(input_ids=ids).logits.float().log_softmax(-1)                     # [B, L, V]
    logp_next = logp_all[:, :-1].gather(-1, ids[:, 1:, None]).squeeze(-1)              # [B, L-1]: log p(ids[t+1])
    index = torch.zeros((len(prompts), Tc), dtype=torch.long)                          # position predicting t
    mask = torch.zeros((len(prompts), Tc))
    for i, (p, c) in enumerate(zip(prompts, completions)):
        index[i, :len(c)] = torch.arange(len(p) - 1, len(p) + len(c) - 1)
        mask[i, :len(c)] = 1
    mask = mask.to(device)
    logp = logp_next.gather(1, index.to(device)) * mask                                # [B, Tc]
    (logp * mask).sum().backward()
    return logp.detach(), mask


def worker(args) -> None:
    """One variant in this (fresh) process: build, measure, save log-probs, gradients and figures."""
    import torch

    from rlvr.utils import set_threads

    set_threads(args.threads)
    model, prompts, completions = _build(args)
    fn = _rlvr if args.worker == "rlvr" else _naive
    cuda = args.device.startswith("cuda")
    gc.collect()
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated() / 2**20
        reset = True
    else:
        reset = _reset_peak_rss()
        base = _rss_mib()
        maxrss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    logp, mask = fn(model, prompts, completions, args.device)
    if cuda:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    if cuda:
        peak = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        if not reset and peak <= maxrss_before:
            print(f"warning: {args.worker}: the peak resident set was reached before the call "
                  "(high-water mark not resettable); its figure is an upper bound", file=sys.stderr)
    params = dict(model.named_parameters())
    grads = {n: params[n].grad.detach().cpu() for n in GRAD_PARAMS}
    emb = model.get_input_embeddings().weight.grad                 # tied: the head's and the embedding's
    rows = torch.unique(torch.tensor([t for c in completions for t in c[:64]]))[:2048]
    grads["embedding rows of completion tokens"] = emb[rows.to(emb.device)].detach().cpu()
    torch.save({"logp": logp.cpu(), "mask": mask.cpu(), "grads": grads,
                "figures": {"peak_extra_mib": peak - base, "baseline_mib": base, "seconds": seconds,
                            "peak_reset": reset}}, args.result)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--tokens", type=int, default=1024, help="tokens per row: prompt + completion")
    ap.add_argument("--prompt-max", type=int, default=256, help="prompts of 16 to this many tokens")
    ap.add_argument("--vocab", type=int, default=151_936)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--json", default=None, help="write the figures to this path")
    ap.add_argument("--worker", choices=VARIANTS, help=argparse.SUPPRESS)
    ap.add_argument("--result", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if not 16 <= args.prompt_max < args.tokens:
        ap.error("--prompt-max must be at least 16 and below --tokens")
    if args.worker:
        return worker(args)
    if args.device.startswith("cuda"):
        import torch
        if not torch.cuda.is_available():
            ap.error("--device cuda: no CUDA device")
    import torch

    passed = [f"--{k.replace('_', '-')}={getattr(args, k)}" for k in
              ("batch", "tokens", "prompt_max", "vocab", "hidden", "layers", "heads", "threads", "device")]
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for v in VARIANTS:
            path = os.path.join(tmp, f"{v}.pt")
            subprocess.run([sys.executable, os.path.abspath(__file__), *passed, "--worker", v, "--result", path],
                           check=True)
            out[v] = torch.load(path)
    r, n = out["rlvr"], out["naive"]
    m = r["mask"].bool()
    assert torch.equal(m, n["mask"].bool())
    logp_diff = float((r["logp"] - n["logp"])[m].abs().max())
    grad_diff = {k: float((r["grads"][k] - n["grads"][k]).abs().max() / n["grads"][k].abs().max().clamp(min=1e-30))
                 for k in r["grads"]}
    assert logp_diff < 1e-3, f"log-probs disagree: max abs diff {logp_diff:.2e}"
    for k, d in grad_diff.items():
        assert d < 1e-3, f"gradients of {k} disagree: max abs diff / max abs {d:.2e}"
    fr, fn = r["figures"], n["figures"]
    ratio = fn["peak_extra_mib"] / fr["peak_extra_mib"]
    comp = int(m.sum())
    logits_mib = args.batch * args.tokens * args.vocab * 4 / 2**20
    print(f"Qwen2 (random): vocab {args.vocab}, hidden {args.hidden}, {args.layers} layers, {args.heads} heads, "
          f"tied embeddings, float32; device {args.device}, {args.threads} thread(s)")
    print(f"microbatch {args.batch} x {args.tokens} tokens (prompts 16-{args.prompt_max}, {comp} completion "
          f"tokens); float32 logits of the whole microbatch: {logits_mib:.0f} MiB")
    print(f"{'variant':<8} {'peak extra MiB':>15} {'seconds':>9} {'ratio naive/rlvr':>17}")
    print(f"{'rlvr':<8} {fr['peak_extra_mib']:>15.0f} {fr['seconds']:>9.1f} {'':>17}")
    print(f"{'naive':<8} {fn['peak_extra_mib']:>15.0f} {fn['seconds']:>9.1f} {ratio:>17.1f}")
    print(f"agreement: log-probs max abs diff {logp_diff:.2e}; gradients max abs diff / max abs: "
          + ", ".join(f"{k} {d:.1e}" for k, d in grad_diff.items()))
    if args.json:
        res = {"config": {k: getattr(args, k) for k in ("batch", "tokens", "prompt_max", "vocab", "hidden",
                                                         "layers", "heads", "threads", "device")},
               "completion_tokens": comp, "whole_logits_mib": round(logits_mib, 1),
               "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "torch": torch.__version__,
                           "cuda": torch.cuda.get_device_name() if args.device.startswith("cuda") else None},
               "measure": ("torch.cuda.max_memory_allocated minus allocated before the call"
                           if args.device.startswith("cuda") else
                           "peak resident set (ru_maxrss) during the call minus resident set before it"),
               "variants": {v: {k: (round(x, 3) if isinstance(x, float) else x) for k, x in out[v]["figures"].items()}
                            for v in VARIANTS},
               "ratio_naive_over_rlvr": round(ratio, 2),
               "logp_max_abs_diff": logp_diff, "grad_max_rel_diff": grad_diff}
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(res, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
