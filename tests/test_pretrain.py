import json

import pytest

from rlvr.cli import main
from rlvr.config import load_config
from rlvr.train.pretrain import PretrainConfig, pretrain

TINY = ["tokens=60000", "seq_len=768", "batch_size=4", "lr=3e-3", "warmup_steps=5", "log_every=5",
        "checkpoint_every=10", "model.hidden_size=32", "model.layers=2", "model.heads=2",
        "model.intermediate_size=64", "model.max_positions=768"]


def _losses(run):
    return [json.loads(l)["loss/train"] for l in (run / "metrics.jsonl").read_text().splitlines()]


def test_short_pretrain_lowers_loss_and_saves_hf_model(tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = tmp_path / "run"
    rc = main(["pretrain", *TINY, f"out={out}"])
    assert rc == 0
    losses = _losses(out)
    assert len(losses) == 4          # steps 5, 10, 15 and the last, 19
    assert losses[-1] < losses[0] - 1.0, losses           # from ~4.7 (uniform) down past 3.7
    model = AutoModelForCausalLM.from_pretrained(out / "model")
    tok = AutoTokenizer.from_pretrained(out / "model")
    assert model.config.model_type == "llama" and model.config.hidden_size == 32
    manifest = json.loads((out / "model" / "manifest.json").read_text())
    assert manifest["command"].startswith("rlvr pretrain") and manifest["tokens_trained"] == 19 * 3072
    assert manifest["config"]["model"]["layers"] == 2
    assert load_config(PretrainConfig, out / "config.yaml").tokens == 60000
    assert tok.decode(tok("12+3=\n")["input_ids"], skip_special_tokens=True) == "12+3=\n"


def test_resume_continues_the_run(tmp_path):
    out = tmp_path / "run"
    cfg = load_config(PretrainConfig, None, [*TINY, f"out={out}", "max_seconds=0.5"])
    pretrain(cfg)                         # stops early, leaving a checkpoint
    first = [json.loads(l)["step"] for l in (out / "metrics.jsonl").read_text().splitlines()]
    cfg = load_config(PretrainConfig, None, [*TINY, f"out={out}"])
    pretrain(cfg, resume=True)
    steps = [json.loads(l)["step"] for l in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps)) and steps[-1] == 19      # no duplicated step, ends at the end
    assert len(first) < len(steps)


def test_document_longer_than_block_is_an_error(tmp_path):
    cfg = load_config(PretrainConfig, None, [*TINY, "seq_len=64", f"out={tmp_path}"])
    with pytest.raises(ValueError, match="longer than seq_len"):
        pretrain(cfg)
