"""Crash-proof runs: atomic checkpoints with manifests, exact resume after SIGKILL, NaN/Inf steps."""
import importlib.util
import json
import signal
from pathlib import Path

import pytest
import torch

from rlvr import checkpoint
from rlvr.cli import main
from rlvr.config import load_config
from rlvr.train import grpo, update
from rlvr.train.grpo import GRPOConfig, train_grpo
from rlvr.utils import TrainingDiverged, read_manifest

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("kill_resume", ROOT / "scripts" / "kill_resume.py")
kr = importlib.util.module_from_spec(spec)
spec.loader.exec_module(kr)

STEPS = 4


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return kr.tiny_model(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def reference(tiny, tmp_path_factory):
    """The uninterrupted run; its weights moved away from the start (so comparing them means something)."""
    from safetensors.torch import load_file

    out = tmp_path_factory.mktemp("ref") / "run"
    train_grpo(load_config(GRPOConfig, None, kr.overrides(tiny, out, STEPS)))
    start, end = load_file(tiny / "model.safetensors"), load_file(out / "final" / "model.safetensors")
    assert sum(not torch.equal(start[k], end[k]) for k in start) >= len(start) // 2
    return out


# ------------------------------------------------------------------------------ checkpoints
def test_only_checkpoints_with_a_valid_manifest_count(tmp_path, tiny_model, world_tokenizer):
    root = tmp_path / "checkpoints"
    for step, acc in ((1, 0.5), (2, 0.9), (3, 0.1), (4, 0.2)):
        checkpoint.save(root, step, tiny_model, world_tokenizer, {"step": step}, {"eval/accuracy": acc, "note": "x"})
    manifest = read_manifest(root / "step-000004")
    assert manifest["step"] == 4 and manifest["metrics"] == {"eval/accuracy": 0.2}
    assert set(manifest["files"]) >= {"model.safetensors", "config.json", "state.pt", "tokenizer.json"}
    assert checkpoint.latest(root) == root / "step-000004"
    # a damaged newest file (same size), a missing manifest, a half-written temporary folder
    w = root / "step-000004" / "model.safetensors"
    data = bytearray(w.read_bytes())
    data[-1] ^= 0xFF
    w.write_bytes(bytes(data))
    assert checkpoint.latest(root) == root / "step-000003"
    (root / "step-000003" / "manifest.json").unlink()
    (root / ".step-000005.tmp-123").mkdir()
    (root / ".step-000005.tmp-123" / "config.json").write_text("{")
    assert checkpoint.latest(root) == root / "step-000002"
    assert checkpoint.best(root) == root / "step-000002"
    removed = checkpoint.prune(root, keep=1, newest=2)
    assert sorted(p.name for p in root.iterdir()) == ["step-000002"]     # newest valid = best here
    assert len(removed) == 4


def test_prune_keeps_the_newest_and_the_best(tmp_path, tiny_model, world_tokenizer):
    root = tmp_path / "c"
    for step, acc in ((1, 0.3), (2, 0.8), (3, 0.5), (4, 0.6), (5, None)):
        checkpoint.save(root, step, tiny_model, world_tokenizer, {}, {} if acc is None else {"eval/accuracy": acc})
    checkpoint.prune(root, keep=2)
    assert sorted(p.name for p in root.iterdir()) == ["step-000002", "step-000004", "step-000005"]


# ------------------------------------------------------------------------------ exact resume
def test_resume_after_sigkill_inside_a_checkpoint_write_is_bit_identical(tiny, reference, tmp_path):
    """The run SIGKILLs itself in its second checkpoint write, after the files and before the manifest."""
    out = tmp_path / "run"
    args = kr.overrides(tiny, out, STEPS)
    assert kr.run(args, kill_at="manifest:2") == -signal.SIGKILL
    assert [p.name for p in (out / "checkpoints").iterdir() if p.name.startswith(".step-000002.tmp")]
    assert checkpoint.latest(out / "checkpoints") == out / "checkpoints" / "step-000001"
    assert main(["grpo", "--resume", *args]) == 0
    assert kr.same(out, reference) == (True, "identical")
    assert not [p for p in (out / "checkpoints").iterdir() if p.name.startswith(".")]


def test_a_stopped_run_resumes_exactly_and_a_finished_one_is_not_overwritten(tiny, reference, tmp_path, capsys):
    out = tmp_path / "run"
    args = kr.overrides(tiny, out, STEPS)

    def crash(step, rec):
        if step == 3:
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        train_grpo(load_config(GRPOConfig, None, args), on_step=crash)
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 3                        # stopped right after step 3
    assert main(["grpo", *args]) == 2             # neither --resume nor --overwrite
    assert "already holds a run" in capsys.readouterr().err
    assert main(["grpo", "--resume", *args]) == 0
    assert kr.same(out, reference) == (True, "identical")
    assert main(["grpo", "--overwrite", *args]) == 0
    assert kr.same(out, reference) == (True, "identical")


@pytest.mark.slow
def test_many_random_kills_resume_exactly(tmp_path):
    """Twelve trials of scripts/kill_resume.py: SIGKILL at random moments and inside checkpoint writes."""
    assert kr.main(["--trials", "12", "--out", str(tmp_path / "kr")]) == 0


# ------------------------------------------------------------------------------ NaN and Inf
def poison(monkeypatch, when: dict):
    """Make policy_loss NaN (``when[step] == "loss"``) or its gradient NaN with a finite value
    (``"grad"``) at the given steps; returns the dict that tracks the current step."""
    state = {"step": 1}
    real = update.policy_loss

    def policy_loss(logp, old, ref, adv, mask, cfg, max_tokens):
        loss, m = real(logp, old, ref, adv, mask, cfg, max_tokens)
        step = state["step"]
        kind = when["from"] if step >= when.get("from_step", 10**9) else when.get(step)
        if kind == "loss":
            loss = loss * float("nan")
        elif kind == "grad":                     # sqrt(|x - x|) is 0 forward, NaN backward
            loss = loss + ((logp - logp.detach()).abs().sqrt() * mask).sum()
        return loss, m
    monkeypatch.setattr(update, "policy_loss", policy_loss)
    return state


def test_nan_loss_and_gradient_steps_are_skipped_and_logged(tiny, tmp_path, monkeypatch):
    out = tmp_path / "run"
    state = poison(monkeypatch, {2: "loss", 3: "grad"})
    cfg = load_config(GRPOConfig, None, kr.overrides(tiny, out, 4) + ["keep_checkpoints=10", "verify_workers=0"])
    train_grpo(cfg, on_step=lambda step, rec: state.update(step=step + 1))
    recs = [json.loads(l) for l in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["train/skipped"] for r in recs] == [0.0, 1.0, 1.0, 0.0]
    assert [r.get("train/skip_cause") for r in recs] == [None, "non-finite loss", "non-finite gradient", None]
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step-000001", "step-000004"]
    # the skipped steps never reached the optimizer: two Adam steps in four, finite weights that moved
    from safetensors.torch import load_file
    opt = torch.load(out / "checkpoints" / "step-000004" / "state.pt", weights_only=False)["optimizer"]
    assert {float(s["step"]) for s in opt["state"].values()} == {2.0}
    w1 = load_file(out / "checkpoints" / "step-000001" / "model.safetensors")
    w4 = load_file(out / "checkpoints" / "step-000004" / "model.safetensors")
    assert all(torch.isfinite(v).all() for v in w4.values()) and any(not torch.equal(w1[k], w4[k]) for k in w1)


def test_consecutive_bad_steps_stop_the_run_with_the_last_good_checkpoint(tiny, tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    state = poison(monkeypatch, {"from_step": 2, "from": "loss"})
    args = kr.overrides(tiny, out, 6) + ["max_bad_steps=2", "verify_workers=0"]
    monkeypatch.setattr(grpo, "validation_figures", lambda *a, **k: {})
    real_train = grpo.train_grpo
    monkeypatch.setattr("rlvr.train.grpo.train_grpo",
                        lambda cfg, **kw: real_train(cfg, on_step=lambda s, r: state.update(step=s + 1), **kw))
    assert main(["grpo", *args]) == 1
    err = capsys.readouterr().err
    assert "2 consecutive steps with a NaN or Inf loss or gradient (last: non-finite loss at step 3)" in err
    assert str(out / "checkpoints" / "step-000001") in err
    assert checkpoint.latest(out / "checkpoints") == out / "checkpoints" / "step-000001"
    assert not (out / "final").exists()
    steps = [json.loads(l)["step"] for l in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3]
    with pytest.raises(TrainingDiverged):           # the same through the API
        train_grpo(load_config(GRPOConfig, None, args), overwrite=True,
                   on_step=lambda s, r: state.update(step=s + 1))
