"""The Weights & Biases mirror of MetricsLog, against a stand-in ``wandb`` module that records calls."""
import importlib.util
import json
import sys
import types

import pytest

from rlvr.config import ConfigError, require_wandb
from rlvr.utils import MetricsLog


class FakeRun:
    def __init__(self, calls):
        self.calls = calls

    def log(self, data, step):
        self.calls.append(("log", dict(data), step))

    def finish(self):
        self.calls.append(("finish",))


@pytest.fixture
def fake_wandb(monkeypatch):
    calls = []
    ids = iter(["id-one", "id-two"])
    mod = types.ModuleType("wandb")
    mod.util = types.SimpleNamespace(generate_id=lambda: next(ids))

    def init(**kw):
        calls.append(("init", kw))
        return FakeRun(calls)

    mod.init = init
    monkeypatch.setitem(sys.modules, "wandb", mod)
    return calls


def test_metrics_are_mirrored_with_their_step_and_the_run_resumes(tmp_path, fake_wandb):
    log = MetricsLog(tmp_path / "metrics.jsonl", wandb_project="proj", config={"lr": 0.1})
    log.log(3, {"reward/mean": 0.5, "accuracy": 1, "ok": True, "note": "text"})
    log.close()
    init = fake_wandb[0]
    assert init[0] == "init"
    assert init[1]["project"] == "proj" and init[1]["id"] == "id-one" and init[1]["resume"] == "allow"
    assert init[1]["config"] == {"lr": 0.1} and init[1]["dir"] == str(tmp_path)
    # numbers only (booleans and text stay in the JSONL file), at the record's step
    assert fake_wandb[1] == ("log", {"reward/mean": 0.5, "accuracy": 1}, 3)
    assert fake_wandb[2] == ("finish",)
    assert json.loads((tmp_path / "metrics.jsonl").read_text())["note"] == "text"
    # a second log on the same run directory (a resume) continues the same W&B run
    MetricsLog(tmp_path / "metrics.jsonl", wandb_project="proj").close()
    assert fake_wandb[3][1]["id"] == "id-one"


def test_no_project_means_no_wandb(tmp_path, fake_wandb):
    MetricsLog(tmp_path / "metrics.jsonl").log(1, {"x": 1.0})
    assert fake_wandb == []
    assert not (tmp_path / "wandb_id").exists()


def test_missing_wandb_is_a_config_error(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "wandb" else real(name, *a))
    with pytest.raises(ConfigError, match="wandb is not installed"):
        require_wandb("proj")
    require_wandb("")  # empty: nothing needed
