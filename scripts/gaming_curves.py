"""The verifier-gaming figure: lenient accuracy, strict accuracy and the gap between them, against step, for
a run rewarded by a lenient verifier and one rewarded by the strict verdict (docs/pathologies.md).

    python scripts/gaming_curves.py runs/gaming_lenient runs/gaming_strict --out docs/results/gaming.png

Reads each run's ``metrics.jsonl`` (``task/lenient_accuracy``, ``task/accuracy``; moving averages over 5
steps) and writes the PNG and, beside it, a JSON of the curves and the first step the watch warned.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def smooth(xs: list[float], k: int = 5) -> list[float]:
    return [sum(xs[max(0, i - k + 1):i + 1]) / len(xs[max(0, i - k + 1):i + 1]) for i in range(len(xs))]


def curves(run: Path) -> dict:
    recs = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines() if x.strip()]
    lenient, strict = [r["task/lenient_accuracy"] for r in recs], [r["task/accuracy"] for r in recs]
    fired = next((r["step"] for r in recs if r.get("watch/verifier_gaming")), None)
    return {"steps": [r["step"] for r in recs], "lenient": smooth(lenient), "strict": smooth(strict),
            "gap": smooth([a - b for a, b in zip(lenient, strict)]), "watch_fired_at": fired}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("lenient_run", type=Path)
    p.add_argument("strict_run", type=Path)
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    data = {"lenient reward": curves(args.lenient_run), "strict reward": curves(args.strict_run)}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, (name, c) in zip(axes, data.items()):
        ax.plot(c["steps"], c["lenient"], label="lenient accuracy (answer anywhere)")
        ax.plot(c["steps"], c["strict"], label="strict accuracy (the verifier)")
        ax.plot(c["steps"], c["gap"], label="gap", linestyle="--")
        if c["watch_fired_at"]:
            ax.axvline(c["watch_fired_at"], color="grey", linestyle=":", label="the watch warns")
        ax.set_title(f"rewarded by the {name.split()[0]} verifier")
        ax.set_xlabel("GRPO step")
        ax.set_ylim(0, 1)
        ax.legend(loc="center right", fontsize=8)
    axes[0].set_ylabel("training batch, moving average of 5 steps")
    fig.tight_layout()
    fig.savefig(args.out, dpi=120)
    args.out.with_suffix(".json").write_text(json.dumps(data, indent=1))
    print(json.dumps({k: {"final_gap": round(v["gap"][-1], 3), "final_strict": round(v["strict"][-1], 3),
                          "watch_fired_at": v["watch_fired_at"]} for k, v in data.items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
