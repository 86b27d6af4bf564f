"""The base shipped in the package loads with plain transformers and does the world's arithmetic."""
import json
from pathlib import Path

import pytest

from rlvr.world import shipped_base_path

BASE = shipped_base_path()
pytestmark = pytest.mark.skipif(not (BASE / "config.json").exists(), reason="no shipped base yet")


def test_loads_with_plain_transformers_and_has_a_manifest():
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(str(BASE))
    tok = AutoTokenizer.from_pretrained(str(BASE))
    assert model.config.model_type == "llama"
    manifest = json.loads((BASE / "manifest.json").read_text())
    for key in ("command", "config", "tokens_trained", "train_seconds", "figures"):
        assert key in manifest, key
    assert manifest["config"]["corpus"]["style_weights"]["direct"] >= 0.5
    assert sum(p.numel() for p in model.parameters()) == manifest["parameters"]
    assert tok.decode(tok("4821+9921=\n")["input_ids"], skip_special_tokens=True) == "4821+9921=\n"


def test_forced_stepwise_work_is_mostly_right():
    """Greedy, forced into stepwise work, the shipped base solves almost every 3-5 digit problem
    (measured: 40 of 40 at 3 digits, 38 at 4, 39 at 5, and 30 of these 30; an untrained model solves
    none)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from rlvr.world.figures import sample_and_score
    from rlvr.tasks import get_task

    model = AutoModelForCausalLM.from_pretrained(str(BASE))
    tok = AutoTokenizer.from_pretrained(str(BASE))
    task = get_task("arithmetic", ops="+-", min_digits=3, max_digits=5)
    scored = sample_and_score(model, tok, task, task.problems("test", 30, seed=0), prefix=task.style_prefix["stepwise"],
                              temperature=0)
    assert sum(s.correct for s in scored) >= 27


@pytest.mark.parametrize("name, size", [("student_quarter", 0.25), ("student_half", 0.5)])
def test_students_are_shipped_smaller_with_manifests(name, size):
    from transformers import AutoModelForCausalLM

    from rlvr.world import shipped_models

    path = shipped_models()[name]
    manifest = json.loads((path / "manifest.json").read_text())
    base = json.loads((BASE / "manifest.json").read_text())
    # pretrained like the shipped base: its corpus, notation and recipe, field for field, at a smaller width
    assert manifest["config"]["corpus"] == base["config"]["corpus"]
    assert {k: v for k, v in manifest["config"].items() if k not in ("out", "model")} == \
        {k: v for k, v in base["config"].items() if k not in ("out", "model")}
    assert abs(manifest["tokens_trained"] / manifest["config"]["tokens"] - 1) < 0.01 and "figures" in manifest
    n = sum(p.numel() for p in AutoModelForCausalLM.from_pretrained(str(path)).parameters())
    assert n == manifest["parameters"] and abs(n / base["parameters"] - size) < 0.05


def test_a_pipeline_names_the_shipped_students(tmp_path):
    from rlvr.config import ConfigError
    from rlvr.pipeline import load_pipeline
    from rlvr.world import shipped_models

    f = tmp_path / "p.yaml"
    f.write_text("stage: pipeline\nout: %s\nstages:\n  d: {stage: demonstrate, examples: 4}\n"
                 "  s: {stage: sft, model: '@student_half', data: '@d', steps: 1}\n" % (tmp_path / "out"))
    cfg, stages = load_pipeline(f)
    assert [n for n, _, _ in stages] == ["d", "s"]
    f.write_text(f.read_text().replace("@student_half", "@student_tenth"))
    with pytest.raises(ConfigError, match="names no earlier stage and no shipped model"):
        load_pipeline(f)
    assert {"base", "student_quarter", "student_half"} <= set(shipped_models())


def test_the_shipped_base_reads_its_check_verdicts():
    """The shipped base's inline checks compare the two digits they set side by side: teacher-forced on
    corpus traces, it says ``no`` where they differ and ``ok`` where they agree (docs/base_model.md, run 55)."""
    import importlib.util

    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(__file__).resolve().parents[1] / "scripts" / "check_anatomy.py"
    spec = importlib.util.spec_from_file_location("check_anatomy", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    res = mod.verdict_probe(AutoModelForCausalLM.from_pretrained(str(BASE)), AutoTokenizer.from_pretrained(str(BASE)),
                            "inline_inverse", n=12)
    assert res["ok"][0] > 40 and res["no"][0] > 10
    assert res["ok"][1] < 0.05 and res["no"][1] > 0.9
