"""A demo model's figures split by style and resampled: for each sampling seed, accuracy at temperature 1,
the careful-style share and Spearman(digits, completion tokens) over the demo's 500 test problems, in all
and within each style. On the shipped base, the careful share the demo reads before RL.

    python scripts/demo_by_style.py runs/demo/final [--seeds 12345,1,2] [--n 500]

Seed 12345 is the one `rlvr demo` samples with; other seeds say how much its single draw moves. Within
one style the lengths follow the size closely; a mixture of short plain traces and long checks lowers
the overall correlation.
"""
from __future__ import annotations

import argparse

from transformers import AutoModelForCausalLM, AutoTokenizer

from rlvr.eval.metrics import spearman
from rlvr.eval.scoring import sample_once
from rlvr.rollout import SamplingConfig
from rlvr.tasks import get_task
from rlvr.utils import set_threads


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("--seeds", default="12345,1,2", help="sampling seeds, comma-separated")
    ap.add_argument("--n", type=int, default=500, help="test problems (the demo's: 500)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    set_threads(args.threads)
    task = get_task("arithmetic", ops="+-", min_digits=4, max_digits=6)
    problems = task.problems("test", args.n, seed=0)
    model, tok = AutoModelForCausalLM.from_pretrained(args.model), AutoTokenizer.from_pretrained(args.model)
    for seed in (int(s) for s in args.seeds.split(",")):
        texts, correct, lengths = sample_once(model, tok, task, problems,
                                              SamplingConfig(temperature=1.0, max_new_tokens=600, seed=seed))
        careful = sum(task.style_of(t) in ("stepwise", "check") for t in texts) / len(texts)
        parts = [f"seed {seed}: accuracy {sum(correct) / len(correct):.1%}, careful share {careful:.1%}, "
                 f"Spearman {spearman([p.difficulty for p in problems], lengths):.2f}"]
        for style in ("stepwise", "check"):
            idx = [i for i, t in enumerate(texts) if task.style_of(t) == style]
            if idx:
                rho = spearman([problems[i].difficulty for i in idx], [lengths[i] for i in idx])
                parts.append(f"{style} {len(idx)}: accuracy {sum(correct[i] for i in idx) / len(idx):.1%}, "
                             f"Spearman {rho:.2f}")
        print("; ".join(parts), flush=True)


if __name__ == "__main__":
    main()
