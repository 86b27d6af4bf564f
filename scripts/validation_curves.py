"""Validation accuracy of training runs as read from their metrics: each evaluation, the mean from a
step on (the plateau), and the first step at or above the target.

    python scripts/validation_curves.py runs/cmp400/grpo-s0 runs/cmp400/grpo_dynamic-s0 --from-step 45
    python scripts/validation_curves.py runs/cmp400/grpo-s* --against runs/cmp55

``--against ROOT`` also reads the run of the same name under ROOT (the same run validated on another
problem set, say) and prints the largest difference between the two readings of a step.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from rlvr.utils import time_to_target


def readings(run: Path) -> dict[int, float]:
    recs = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    return {r["step"]: r["eval/accuracy"] for r in recs if "eval/accuracy" in r}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--from-step", type=int, default=45, help="first step of the plateau's mean")
    ap.add_argument("--target", type=float, default=0.9)
    ap.add_argument("--against", type=Path, help="a folder holding runs of the same names")
    args = ap.parse_args()
    for run in args.runs:
        acc = readings(run)
        recs = [{"step": s, "eval/accuracy": a} for s, a in sorted(acc.items())]
        hit = time_to_target(recs, args.target)
        late = [a for s, a in acc.items() if s >= args.from_step]
        line = (f"{run.name}: " + " ".join(f"{s}:{a:.3f}" for s, a in sorted(acc.items()))
                + f"\n  first >= {args.target:.0%} at step {hit['step'] if hit else '-'}")
        if late:
            line += f"; mean from step {args.from_step}: {sum(late) / len(late):.3f}"
        if args.against and (args.against / run.name / "metrics.jsonl").exists():
            other = readings(args.against / run.name)
            diff = [abs(a - other[s]) for s, a in acc.items() if s in other]
            line += f"; largest difference from {args.against / run.name}: {max(diff):.3f}" if diff else ""
        print(line)


if __name__ == "__main__":
    main()
