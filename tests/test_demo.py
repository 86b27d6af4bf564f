"""The --quick demo end to end on the shipped base: the pipeline, not the figures."""
import json

import pytest

from rlvr.cli import main
from rlvr.world import shipped_base_path

pytestmark = pytest.mark.skipif(not (shipped_base_path() / "config.json").exists(), reason="no shipped base")


def test_quick_demo(tmp_path):
    out = tmp_path / "demo"
    assert main(["demo", "--quick", f"out={out}"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    for side in ("base", "rl"):
        for key in ("accuracy", "accuracy_greedy", "mean_completion_tokens", "style_share", "by_difficulty"):
            assert key in summary[side], (side, key)
        assert 0 <= summary[side]["accuracy"] <= 1
        # --quick samples 2 completions of each of 40 problems: every figure is over all 80, each draw alone
        assert summary[side]["samples_per_problem"] == 2 and len(summary[side]["draws"]) == 2
        assert sum(d["n"] for d in summary[side]["by_difficulty"].values()) == 80
        draws = summary[side]["draws"]
        assert sum(d["accuracy"] for d in draws) / 2 == pytest.approx(summary[side]["accuracy"])
        careful = summary[side]["style_share"].get("careful", 0)
        assert sum(d["careful_share"] for d in draws) / 2 == pytest.approx(careful)
    assert summary["steps"] == 3 and summary["wall_seconds"] > 0 and summary["test_samples"] == 2
    assert (out / "accuracy_length.png").stat().st_size > 10_000
    assert (out / "config.yaml").exists() and (out / "final" / "config.json").exists()
    recs = [json.loads(l) for l in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in recs] == [1, 2, 3] and "eval/accuracy" in recs[-1]


def test_time_to_target_counts_training_steps_apart_from_validation():
    from rlvr.utils import time_to_target

    # three steps of 2 s each; a 5 s validation pass after step 2 (so step 3 ends at 2+2+5+2 = 11 s)
    recs = [{"step": 1, "time": 102.0, "perf/step_s": 2.0},
            {"step": 2, "time": 109.0, "perf/step_s": 2.0, "eval/accuracy": 0.85},
            {"step": 3, "time": 111.0, "perf/step_s": 2.0, "eval/accuracy": 0.9}]
    assert time_to_target(recs, 0.9) == {"step": 3, "train_seconds": 6.0, "seconds": 11.0}
    assert time_to_target(recs, 0.8) == {"step": 2, "train_seconds": 4.0, "seconds": 9.0}
    assert time_to_target(recs, 0.95) is None
    assert time_to_target(recs[:1], 0.0) is None          # no validation at all
