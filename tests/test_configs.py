"""Every experiment file in configs/ loads into its stage's config, and `rlvr run` runs one."""
import json
from pathlib import Path

import pytest
import yaml

from rlvr.cli import main
from rlvr.config import from_dict
from rlvr.world import shipped_base_path

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = sorted(ROOT.glob("configs/*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_config_file_loads(path):
    from rlvr.world.demo import DemoConfig
    from rlvr.train.grpo import GRPOConfig
    from rlvr.world.pretrain import PretrainConfig

    data = yaml.safe_load(path.read_text())
    stage = data.pop("stage", "pretrain")
    from rlvr.compare import CompareConfig
    from rlvr.pipeline import DistillConfig, PipelineConfig, load_pipeline
    from rlvr.rejection import SampleConfig
    from rlvr.train.sft import SFTConfig
    from rlvr.world.demonstrator import DemonstratorConfig

    cls = {"pretrain": PretrainConfig, "grpo": GRPOConfig, "demo": DemoConfig, "compare": CompareConfig,
           "sft": SFTConfig, "sample": SampleConfig, "distill": DistillConfig, "demonstrate": DemonstratorConfig,
           "pipeline": PipelineConfig}[stage]
    from_dict(cls, data)
    if stage == "pipeline":          # every stage checked; the quick variant needs no model made beforehand
        load_pipeline(path, quick=True)


@pytest.mark.parametrize("name", ["base", "student_quarter", "student_half"])
def test_pretrain_config_is_the_shipped_manifest(name):
    from rlvr.config import load_config, to_dict
    from rlvr.world.pretrain import PretrainConfig
    from rlvr.world import shipped_models

    manifest = json.loads((shipped_models()[name] / "manifest.json").read_text())["config"]
    cfg, default = to_dict(load_config(PretrainConfig, ROOT / "configs" / f"{name}.yaml")), to_dict(PretrainConfig())

    def compare(got: dict, shipped: dict, dflt: dict, where: str = "") -> None:
        for key, value in got.items():
            if not where and key in ("out", "threads"):   # where the run was written and how many threads
                continue                                     # it used do not change the model (bit for bit)
            if key not in shipped:   # a field added after the base was made must default to its old behaviour
                assert value == dflt[key], f"{where}{key} is new and not at its default"
            elif isinstance(value, dict) and isinstance(dflt.get(key), dict) and key in ("model", "corpus"):
                compare(value, shipped[key], dflt[key], f"{where}{key}.")
            else:
                assert value == shipped[key], f"{where}{key}: {value!r} != shipped {shipped[key]!r}"
        assert not set(shipped) - set(got), f"fields gone: {set(shipped) - set(got)}"

    compare(cfg, manifest, default)


@pytest.mark.skipif(not (shipped_base_path() / "config.json").exists(), reason="no shipped base")
def test_run_countdown_experiment_file(tmp_path):
    rc = main(["run", str(ROOT / "configs" / "countdown_r1zero.yaml"), f"out={tmp_path}", "steps=1", "prompts_per_step=2",
               "group_size=2", "eval_every=0", "sampling.max_new_tokens=64"])
    assert rc == 0
    rec = json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[0])
    assert rec["step"] == 1 and "reward/accuracy" in rec
    assert yaml.safe_load((tmp_path / "config.yaml").read_text())["task"]["name"] == "countdown"
