"""Where a GRPO run's steps spent their time, from the parts every step logs (perf/sample_s, perf/score_s,
perf/update_s, perf/step_s): the mean seconds of each over steps 2 to N and its share of the step; and the
update's rate (completion tokens of the step's rollouts per second of update) over steps 1-10, 11-30, 31 on
and all, to compare two runs of one config (before and after a change to the update).

    python benchmarks/step_profile.py runs/reflection_plain [OTHER_RUN ...]
"""
import json
import sys
from pathlib import Path

import yaml

PARTS = {"sampling": "perf/sample_s", "verification and rewards": "perf/score_s", "update": "perf/update_s"}
RANGES = {"1-10": (1, 10), "11-30": (11, 30), "31-": (31, None), "all": (1, None)}


def update_rate(recs: list[dict], rows: int, lo: int, hi: int | None) -> float:
    """Completion tokens of the steps' ``rows`` rollouts per second of update, over steps lo..hi."""
    sel = [r for r in recs if lo <= r["step"] <= (hi or r["step"])]
    return sum(r["rollout/mean_tokens"] * rows for r in sel) / sum(r["perf/update_s"] for r in sel)


def profile(run: Path) -> dict:
    every = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines() if x.strip()]
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    rows = cfg["prompts_per_step"] * cfg["group_size"]
    recs = every[1:]
    mean = {k: sum(r[key] for r in recs) / len(recs) for k, key in {**PARTS, "step": "perf/step_s"}.items()}
    return {"steps": len(recs), "mean_completion_tokens": sum(r["rollout/mean_tokens"] for r in recs) / len(recs),
            "sample_tokens_per_s": sum(r["perf/sample_tokens_per_s"] for r in recs) / len(recs),
            "seconds": {k: round(v, 3) for k, v in mean.items()},
            "share": {k: round(mean[k] / mean["step"], 3) for k in PARTS},
            "update_completion_tokens_per_s": {k: round(update_rate(every, rows, *v)) for k, v in RANGES.items()}}


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        print(arg, json.dumps(profile(Path(arg)), indent=1))
