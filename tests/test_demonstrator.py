"""The imperfect demonstrator: answers changed by one digit, at the configured rate, nothing else touched."""
import hashlib
import json
import random

import pytest

from rlvr.config import ConfigError, validate
from rlvr.tasks import get_task
from rlvr.world.demonstrator import DemonstratorConfig, demonstrations, with_answer, write_demonstrations, wrong_answer


def test_wrong_answer_changes_exactly_one_digit():
    rng = random.Random(0)
    for answer in ["7", "10", "38768", "100000", "-42"]:
        for _ in range(200):
            w = wrong_answer(answer, rng)
            assert w != answer and len(w) == len(answer) and int(w) != int(answer)
            assert sum(a != b for a, b in zip(w, answer)) == 1
            assert not w.lstrip("-").startswith("0") or w == "0"
    assert with_answer("work 1+1 1+1+0=2 r2\n<answer>2</answer>", "3") == "work 1+1 1+1+0=2 r2\n<answer>3</answer>"
    with pytest.raises(ValueError):
        with_answer("no tag", "3")


def test_error_rate_styles_and_verdicts():
    cfg = DemonstratorConfig(examples=3000, error_rate=0.15, style_weights={"direct": 0.5, "stepwise": 0.5})
    rows = demonstrations(cfg)
    task = get_task("arithmetic", **cfg.task_kwargs)
    problems = {p.id: p for p in task.problems("train", 3000, seed=0)}
    wrong = sum(not r["correct"] for r in rows) / len(rows)
    assert abs(wrong - 0.15) < 0.02                       # 3 standard deviations at n=3000
    assert abs(sum(r["style"] == "direct" for r in rows) / len(rows) - 0.5) < 0.04
    for r in rows:
        p = problems[r["problem_id"]]
        v = task.verify(p, r["completion"])
        assert v.format_ok and v.correct == r["correct"] and r["prompt"] == p.prompt
        assert task.style_of(r["completion"]) == r["style"]
        if not r["correct"]:                              # only the final answer differs from a right trace
            assert task.verify(p, with_answer(r["completion"], p.answer)).correct
    assert demonstrations(cfg) == rows                    # a function of the config
    assert all(r["correct"] for r in demonstrations(DemonstratorConfig(examples=200, error_rate=0.0)))


def test_written_set_and_bad_config(tmp_path):
    data = write_demonstrations(DemonstratorConfig(out=str(tmp_path / "d"), examples=40))
    rows = [json.loads(l) for l in data.read_text().splitlines()]
    assert {r["style"] for r in rows} == {"stepwise"}      # the default: short work, a quarter wrong
    summary = json.loads((tmp_path / "d" / "summary.json").read_text())
    assert len(rows) == 40 and summary["wrong"] == sum(not r["correct"] for r in rows)
    assert summary["accuracy"] == pytest.approx(1 - summary["wrong"] / 40)
    with pytest.raises(ConfigError, match="^error_rate: must be >= 0 and <= 1"):
        validate(DemonstratorConfig(error_rate=1.5))
    with pytest.raises(ConfigError, match="^style_weights.fancy: unknown value"):
        validate(DemonstratorConfig(style_weights={"fancy": 1.0}))


def test_demonstrations_are_written_in_the_shipped_notation():
    """The default notation is the shipped base's corpus notation (configs/base.yaml), less loss weights."""
    from pathlib import Path

    import yaml

    from rlvr.world.arithmetic_traces import arithmetic_trace
    from rlvr.world.corpus import CorpusConfig, arithmetic_trace_kwargs
    from rlvr.world.demonstrator import SHIPPED_NOTATION
    from rlvr.world.segments import trace_text

    base = yaml.safe_load((Path(__file__).parents[1] / "configs" / "base.yaml").read_text())
    shipped = arithmetic_trace_kwargs(CorpusConfig(**base["corpus"]))
    assert {k: v for k, v in shipped.items() if k != "verdict_weight"} == SHIPPED_NOTATION
    cfg = DemonstratorConfig(examples=60, error_rate=0.0, task_kwargs={"ops": "-", "min_digits": 4, "max_digits": 4},
                             style_weights={"stepwise": 0.5, "check": 0.5})
    rows = demonstrations(cfg)
    task = get_task("arithmetic", **cfg.task_kwargs)
    problems = {p.id: p for p in task.problems("train", 60, seed=0)}
    borrows = 0
    for r in rows:
        p = problems[r["problem_id"]]
        assert task.verify(p, r["completion"]).correct
        # a subtraction line that borrows says so before it writes the line: "0-1-0 b1 10-1-0=9"
        borrows += " b1 1" in r["completion"]
        assert " b1 r" not in r["completion"]               # the old order: "18-9-0=9 b1 r92"
        if r["style"] == "check":
            assert " vs " in r["completion"]                  # the inverse inline check: "... =3 vs 3 ok"
    assert borrows > 20
    # trace={} writes the task's plain defaults: the borrow after the line
    plain = demonstrations(DemonstratorConfig(examples=60, error_rate=0.0, trace={},
                                              task_kwargs=cfg.task_kwargs, style_weights={"stepwise": 1.0}))
    assert any(" b1 r" in r["completion"] for r in plain)
    p = problems[plain[0]["problem_id"]]
    assert plain[0]["completion"] == trace_text(arithmetic_trace(p, "stepwise", random.Random(0)))
    with pytest.raises(ConfigError, match="^trace.borrow_frist: unknown value"):
        validate(DemonstratorConfig(trace={"borrow_frist": True}))
    with pytest.raises(ConfigError, match="^trace.check_layout: unknown value"):
        validate(DemonstratorConfig(trace={"check_layout": "fancy"}))


def test_separated_answers_are_right_and_refused_by_the_strict_verifier():
    """With ``separators`` a share of the answers is written 16,901: the tolerant reading accepts each right
    one, the strict verifier none; at 0 the set is the one written before the option existed."""
    from rlvr.world.lenient import separated_number

    cfg = DemonstratorConfig(examples=600, error_rate=0.2, separators=0.5)
    rows, task = demonstrations(cfg), get_task("arithmetic", **cfg.task_kwargs)
    problems = {p.id: p for p in task.problems("train", 600, seed=0)}
    assert abs(sum(r["separated"] for r in rows) / 600 - 0.5) < 0.07
    for r in rows:
        p = problems[r["problem_id"]]
        assert separated_number(p, r["completion"], None) == float(r["correct"])
        assert task.verify(p, r["completion"]).correct is (r["correct"] and (not r["separated"] or int(p.answer) < 1000))
    plain = demonstrations(DemonstratorConfig(examples=600, error_rate=0.2))
    assert not any(r["separated"] for r in plain)
    digest = hashlib.sha256("".join(r["completion"] for r in plain).encode()).hexdigest()[:16]
    assert digest == "2e17753c1ab7c709"             # the set as written before ``separators`` existed
