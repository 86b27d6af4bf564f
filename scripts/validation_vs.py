"""Validation accuracy against step of several runs in one figure (and their curves as JSON).

    python scripts/validation_vs.py runs/demo runs/world_as_dataset --labels "demo (arithmetic task)" \\
        "the same problems as a JSONL (dataset task)" --out docs/results/world_as_dataset.png

Reads each run's ``metrics.jsonl`` (``eval/accuracy``, the validation accuracy at temperature T) and
writes the PNG, and beside it a JSON of the curves and each run's first step at 90%.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def curve(run: Path) -> list[tuple[int, float]]:
    recs = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    return [(r["step"], r["eval/accuracy"]) for r in recs if "eval/accuracy" in r]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("runs", nargs="+", type=Path)
    p.add_argument("--labels", nargs="+", help="one per run (default: the folder names)")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    labels = args.labels or [r.name for r in args.runs]
    fig, ax = plt.subplots(figsize=(6.4, 4))
    summary = {}
    for run, label in zip(args.runs, labels):
        c = curve(run)
        ax.plot([s for s, _ in c], [a for _, a in c], "o-", ms=3, label=label)
        summary[label] = {"run": str(run), "curve": c, "final": c[-1][1] if c else None,
                          "first_step_at_90pct": next((s for s, a in c if a >= 0.9), None)}
    ax.axhline(0.9, color="gray", linestyle=":", lw=1)
    ax.set_xlabel("GRPO step"), ax.set_ylabel("validation accuracy (T = 1)"), ax.set_ylim(0, 1), ax.legend()
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    args.out.with_suffix(".json").write_text(json.dumps(summary, indent=1))
    print(json.dumps({k: {"final": v["final"], "first_step_at_90pct": v["first_step_at_90pct"]} for k, v in summary.items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
