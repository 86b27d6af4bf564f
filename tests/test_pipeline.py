"""Experiments that chain stages: the R1 pipeline end to end at --quick scale, resume, and rlvr distill."""
import json
from pathlib import Path

import pytest
import yaml

from rlvr.cli import main
from rlvr.config import ConfigError
from rlvr.pipeline import load_pipeline
from rlvr.world import shipped_base_path

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(not (shipped_base_path() / "config.json").exists(), reason="no shipped base")


def test_r1_pipeline_quick_end_to_end_and_resume(tmp_path):
    out = tmp_path / "r1"
    assert main(["run", str(ROOT / "configs" / "r1_pipeline.yaml"), f"out={out}", "--quick"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary["stages"]) == ["r1_zero", "cold_data", "cold_start", "rl", "rejection", "sft_fresh", "rl2", "test"]
    for name, st in summary["stages"].items():
        assert Path(st["output"]).exists() and out / name in Path(st["output"]).parents, name
    cfg = lambda name: yaml.safe_load((out / name / "config.yaml").read_text())   # noqa: E731
    assert cfg("cold_start")["model"] == str(shipped_base_path())
    assert cfg("cold_start")["data"] == str(out / "cold_data" / "data.jsonl")
    assert cfg("rl")["model"] == str(out / "cold_start" / "final") and cfg("rl")["rewards"]["rlvr.world.rewards:consistency"] == 0.2
    assert cfg("rejection")["model"] == str(out / "rl" / "final") and cfg("rejection")["keep_if"] == "rlvr.world.readability:is_readable"
    assert cfg("sft_fresh")["model"] == str(shipped_base_path())
    assert cfg("sft_fresh")["data"] == str(out / "rejection" / "data.jsonl")
    assert cfg("rl2")["model"] == str(out / "sft_fresh" / "final")
    assert set(summary["test"]) == {"base", "r1_zero", "cold_start", "r1", "r1_final"}
    assert all("readable" in m and "accuracy" in m for m in summary["test"].values())
    assert summary["test"]["r1"]["step"] == 2
    assert (out / "curves.png").stat().st_size > 0
    assert yaml.safe_load((out / "config.yaml").read_text())["stages"]["rl"]["steps"] == 2

    # resumed, every finished stage is kept as it is
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file() and "final" in p.parts}
    assert main(["run", str(ROOT / "configs" / "r1_pipeline.yaml"), f"out={out}", "--quick", "--resume"]) == 0
    assert before == {p: p.stat().st_mtime_ns for p in before}
    # without --resume or --overwrite the run directory is left alone
    assert main(["run", str(ROOT / "configs" / "r1_pipeline.yaml"), f"out={out}", "--quick"]) == 2


def test_references_and_overrides_are_checked_before_anything_runs(tmp_path):
    f, run = ROOT / "configs" / "sft_vs_rl.yaml", tmp_path / "run"
    cfg, stages = load_pipeline(f, [f"out={run}", "stages.sft.steps=7"], quick=True)
    assert [s[0] for s in stages] == ["demos", "sft", "grpo", "test"] and cfg.stages["sft"]["steps"] == 7
    assert stages[1][2]["data"] == "@demos" and cfg.stages["sft"]["batch_size"] == 8      # quick merged, then overrides
    with pytest.raises(ConfigError, match=r"^stages.sft.data: '@grpo' names no earlier stage"):
        load_pipeline(f, ["stages.sft.data='@grpo'"])
    with pytest.raises(ConfigError, match=r"^stages.sft.stepz: unknown key; did you mean 'stages.sft.steps'\?"):
        load_pipeline(f, ["stages.sft.stepz=3"])
    with pytest.raises(ConfigError, match=r"^stages.grpo.group_size: must be >= 2"):
        load_pipeline(f, ["stages.grpo.group_size=1"])
    bad = tmp_path / "bad_quick.yaml"
    bad.write_text("stage: pipeline\nstages:\n  sft: {stage: sft, data: x.jsonl}\nquick:\n  stages: {sfft: {steps: 1}}\n")
    with pytest.raises(ConfigError, match=r"^quick.stages.sfft: unknown key; did you mean 'stages.sft'\?"):
        load_pipeline(bad, quick=True)
    assert not run.exists()


def test_distill_samples_then_fine_tunes(tmp_path):
    out = tmp_path / "distill"
    rc = main(["distill", f"out={out}", "sample.task.kwargs={ops: '+', min_digits: 2, max_digits: 2}",
               "sample.problems=8", "sample.n=4", "sample.sampling.max_new_tokens=48", "sft.steps=2",
               "sft.batch_size=4", "sft.eval_every=0"])
    assert rc == 0
    rows = (out / "data" / "data.jsonl").read_text().splitlines()
    assert rows and json.loads((out / "data" / "summary.json").read_text())["traces_kept"] == len(rows)
    assert (out / "sft" / "final" / "config.json").exists()
    sft = yaml.safe_load((out / "sft" / "config.yaml").read_text())
    assert sft["data"] == str(out / "data" / "data.jsonl") and sft["model"] == ""
