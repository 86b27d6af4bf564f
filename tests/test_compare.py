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


def test_seeds_table_exact():
    from rlvr.compare import seeds_table
    r = lambda steps, secs, acc, tok: {"steps_to_target": steps, "seconds_to_target": secs,  # noqa: E731
                                       "rollouts_to_target": None if steps is None else steps * 10.0,
                                       "final_accuracy": acc, "final_mean_tokens": tok}
    rows = {"grpo": {0: r(40, 300.0, 0.9, 100.0), 1: r(None, None, 0.8, 110.0), 2: r(30, 200.0, 0.95, 120.0)}}
    lines = seeds_table(rows, [0, 1, 2], 0.9).splitlines()
    assert lines[0].startswith("| variant | steps to 90%, seeds 0, 1, 2 | seeds reaching 90% |")
    # means over the seeds that reached 90%: steps (40+30)/2, seconds 250, rollouts 350; accuracy and
    # length over all three seeds
    assert lines[2] == "| grpo | 40 / - / 30 | 2 of 3 | 35.0 | 250 | 350 | 0.883 | 110.0 |"


@pytest.mark.skipif(not (shipped_base_path() / "config.json").exists(), reason="no shipped base")
def test_compare_with_seeds_trains_each_seed_into_its_own_section(tmp_path):
    from rlvr.config import ConfigError, validate
    from rlvr.compare import CompareConfig, markers

    begin, end = markers("seeds")
    doc = tmp_path / "algorithms.md"
    doc.write_text(f"# Algorithms\n\n{BEGIN}\nsingle seed stays\n{END}\n")
    argv = ["run", str(ROOT / "configs" / "algorithms.yaml"), f"out={tmp_path / 'cmp'}", f"doc={doc}",
            "only=[grpo]", "seeds=[3, 4]", "section=seeds", "grpo.steps=1", "grpo.prompts_per_step=2",
            "grpo.group_size=2", "grpo.eval_every=1", "grpo.eval_problems=4", "grpo.sampling.max_new_tokens=24",
            "grpo.checkpoint_every=0", "grpo.num_iterations=1"]
    assert main(argv) == 0
    text = doc.read_text()
    assert "single seed stays" in text and begin in text and end in text
    section = text.split(begin)[1].split(end)[0]
    assert "| grpo | " in section and "seeds 3, 4" in section
    for seed in (3, 4):
        cfg = (tmp_path / "cmp" / f"grpo-s{seed}" / "config.yaml").read_text()
        assert f"seed: {seed}" in cfg
    summary = json.loads((tmp_path / "cmp" / "summary.json").read_text())
    assert set(summary["grpo"]) == {"3", "4"}
    with pytest.raises(ConfigError, match="^seeds: repeats a seed"):
        validate(CompareConfig(seeds=[1, 1]))
    with pytest.raises(ConfigError, match="^section: must be"):
        validate(CompareConfig(section="a b"))
