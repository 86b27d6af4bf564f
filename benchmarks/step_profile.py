"""Where a GRPO run's steps spent their time, from the parts every step logs (perf/sample_s, perf/score_s,
perf/update_s, perf/step_s): the mean seconds of each over steps 2 to N and its share of the step.

    python benchmarks/step_profile.py runs/reflection_plain
"""
import json
import sys
from pathlib import Path

PARTS = {"sampling": "perf/sample_s", "verification and rewards": "perf/score_s", "update": "perf/update_s"}


def profile(run: Path) -> dict:
    recs = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines() if x.strip()][1:]
    mean = {k: sum(r[key] for r in recs) / len(recs) for k, key in {**PARTS, "step": "perf/step_s"}.items()}
    return {"steps": len(recs), "mean_completion_tokens": sum(r["rollout/mean_tokens"] for r in recs) / len(recs),
            "sample_tokens_per_s": sum(r["perf/sample_tokens_per_s"] for r in recs) / len(recs),
            "seconds": {k: round(v, 3) for k, v in mean.items()},
            "share": {k: round(mean[k] / mean["step"], 3) for k in PARTS}}


if __name__ == "__main__":
    print(json.dumps(profile(Path(sys.argv[1])), indent=1))
