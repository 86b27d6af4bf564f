"""How a GRPO step's cost grows: seconds per step as the group size, the prompts per step, the completion
length and the model size each double, with the log-log slope of each, in one run.

    python benchmarks/scaling.py [--threads 2] [--repeats 2] [--json docs/results/scaling.json] [--png PATH]

A step here is what dominates GRPO's: sampling the batch with rlvr's engine and the update (log-probs
under autograd in microbatches of 32, backward, one AdamW step), on a random Qwen2-shaped model with the
shipped tokenizer and the EOS logit masked, so that every completion is exactly as long as asked
(``roofline.random_qwen``). The base point is a 9.5M-parameter model, 8 prompts x 4 completions of 64
tokens; each factor is doubled twice with the others at the base. A slope of 1 means the cost grows in
proportion; below 1, part of the cost is fixed (per call, per step); above 1, it grows faster (attention
over longer contexts). Each point is the fastest of ``--repeats`` steps, measured in a fresh process whose
peak resident memory is reported beside it.
"""
from __future__ import annotations

import argparse
import json
import math
import time

import torch

from roofline import in_own_process, peak_mib, random_qwen

BASE = {"group": 4, "prompts": 8, "length": 64, "layers": 6}
FACTORS = {"group": "group size", "prompts": "prompts per step", "length": "completion length",
           "layers": "model size (layers of the 9.5M model)"}
MICRO = 32
PROMPTS = [f"{a}+{b}=\n" for a, b in zip(range(10007, 99999, 997), range(2003, 9999, 113))][:32]


def step_seconds(model, tok, opt, point: dict) -> float:
    from rlvr.rollout import SamplingConfig, generate
    from rlvr.train.forward import completion_logprobs

    assert point["prompts"] <= len(PROMPTS)
    t0 = time.time()
    ro = generate(model, tok, PROMPTS[:point["prompts"]], n=point["group"],
                  sampling=SamplingConfig(max_new_tokens=point["length"], batch_size=128))
    model.train()
    for i in range(0, len(ro.completion_ids), MICRO):
        lp, _, mask = completion_logprobs(model, ro.prompt_ids[i:i + MICRO], ro.completion_ids[i:i + MICRO],
                                          tok.pad_token_id, entropy=False)
        (lp * mask).sum().backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
    model.eval()
    return time.time() - t0


def measure(point: dict, tok, repeats: int) -> tuple[float, int]:
    """(the fastest step's seconds, the peak resident memory in MiB) at ``point``, in this process."""
    model = random_qwen("10M", tok, layers=point["layers"])
    opt = torch.optim.AdamW(model.parameters(), lr=1e-6)
    step_seconds(model, tok, opt, {**point, "length": 4})                     # warm-up
    return min(step_seconds(model, tok, opt, point) for _ in range(repeats)), peak_mib()


def slope(xs: list[float], ys: list[float]) -> float:
    lx, ly = [math.log(x) for x in xs], [math.log(y) for y in ys]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly)) / sum((a - mx) ** 2 for a in lx)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--json")
    ap.add_argument("--png")
    args = ap.parse_args(argv)
    from rlvr.models import load_tokenizer, shipped_base_path

    torch.set_num_threads(args.threads)
    tok = load_tokenizer(str(shipped_base_path()))
    base, base_mib = in_own_process(args.threads, measure, BASE, tok, args.repeats)
    print(f"base {BASE}: {base:.2f} s, {base_mib} MiB", flush=True)
    out = {"base": BASE, "base_seconds": round(base, 3), "base_peak_mib": base_mib, "factors": {}}
    for key, label in FACTORS.items():
        xs, ys, mib = [BASE[key]], [base], [base_mib]
        for mult in (2, 4):
            point = {**BASE, key: BASE[key] * mult}
            xs.append(point[key])
            sec, peak = in_own_process(args.threads, measure, point, tok, args.repeats)
            ys.append(sec)
            mib.append(peak)
        out["factors"][key] = {"label": label, "values": xs, "seconds": [round(y, 3) for y in ys],
                               "peak_mib": mib, "slope": round(slope(xs, ys), 2)}
        print(f"{label}: {xs} -> {[round(y, 2) for y in ys]} s, {mib} MiB, slope {out['factors'][key]['slope']}",
              flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    if args.png:
        plot(out, args.png)
    return 0


def plot(out: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4))
    for key, f in out["factors"].items():
        ax.plot([v / f["values"][0] for v in f["values"]], f["seconds"], "o-", label=f"{f['label']} (slope {f['slope']})")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("the factor, times its base value")
    ax.set_ylabel("seconds per step")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    raise SystemExit(main())
