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
    assert summary["steps"] == 3 and summary["wall_seconds"] > 0
    assert (out / "accuracy_length.png").stat().st_size > 10_000
    assert (out / "config.yaml").exists() and (out / "final" / "config.json").exists()
    recs = [json.loads(l) for l in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in recs] == [1, 2, 3] and "eval/accuracy" in recs[-1]
