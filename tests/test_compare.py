"""`rlvr compare` end to end at a tiny size, and its table arithmetic from a hand-written metrics file."""
import json
from pathlib import Path

import pytest

from rlvr.cli import main
from rlvr.compare import BEGIN, END, summarise
from rlvr.world import shipped_base_path

ROOT = Path(__file__).resolve().parent.parent


def test_summarise_exact(tmp_path):
    recs = [{"step": 1, "perf/step_s": 2.0, "rollout/prompts_drawn": 6, "loss/entropy": 0.5},
            {"step": 2, "perf/step_s": 3.0, "eval/accuracy": 0.5, "eval/mean_tokens": 40.0, "loss/entropy": 0.4},
            {"step": 3, "perf/step_s": 4.0, "rollout/prompts_drawn": 3, "eval/accuracy": 0.95,
             "eval/mean_tokens": 30.0, "rollout/entropy": 0.2},
            {"step": 4, "perf/step_s": 1.0, "eval/accuracy": 0.85, "eval/mean_tokens": 20.0, "loss/entropy": 0.3}]
    p = tmp_path / "metrics.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in recs))
    row = summarise(p, 0.9, group_size=2, prompts_per_step=3)
    assert row == {"steps": 4, "steps_to_target": 3, "seconds_to_target": 9.0, "rollouts_to_target": 24.0,
                   "final_accuracy": 0.85, "final_mean_tokens": 20.0, "final_entropy": 0.3, "seconds": 10.0}


@pytest.mark.skipif(not (shipped_base_path() / "config.json").exists(), reason="no shipped base")
def test_compare_runs_variants_and_writes_the_table(tmp_path):
    doc = tmp_path / "algorithms.md"
    doc.write_text(f"# Algorithms\n\nprose stays\n\n{BEGIN}\nold\n{END}\n\ntail stays\n")
    argv = ["run", str(ROOT / "configs" / "algorithms.yaml"), f"out={tmp_path / 'cmp'}", f"doc={doc}",
            "only=[grpo, grpo_dynamic_curriculum]", "grpo.steps=1", "grpo.prompts_per_step=2",
            "grpo.group_size=2", "grpo.eval_every=1", "grpo.eval_problems=4", "grpo.sampling.max_new_tokens=24",
            "grpo.checkpoint_every=0", "grpo.num_iterations=1"]
    assert main(argv) == 0
    text = doc.read_text()
    assert "prose stays" in text and "tail stays" in text and "old" not in text
    rows = [l for l in text.splitlines() if l.startswith("| grpo")]
    assert [r.split("|")[1].strip() for r in rows] == ["grpo", "grpo_dynamic_curriculum"]
    assert "rlvr run" in text and "only=" in text                    # the command that made it
    summary = json.loads((tmp_path / "cmp" / "summary.json").read_text())
    assert summary["grpo"]["steps"] == 1 and summary["grpo"]["final_accuracy"] is not None
    rec = json.loads((tmp_path / "cmp" / "grpo_dynamic_curriculum" / "metrics.jsonl").read_text())
    assert "curriculum/mix_d2" in rec and "rollout/prompts_drawn" in rec
    final = tmp_path / "cmp" / "grpo" / "final" / "model.safetensors"
    stamp = final.stat().st_mtime_ns
    assert main(argv) == 0                                           # finished runs are read back, not retrained
    assert final.stat().st_mtime_ns == stamp
    assert main([*argv, "--overwrite"]) == 0                         # --overwrite trains them again
    assert final.stat().st_mtime_ns != stamp
    assert main([*argv[:-1], "only=[nope]"]) == 2
