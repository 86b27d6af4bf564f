"""Reflection markers, behaviour over training, and length against difficulty and correctness."""
import json

import pytest

from rlvr.eval.behaviour import (NL_MARKERS, WORLD_MARKERS, count_markers, fix_rate, length_analysis,
                                 marker_rates, training_curve)
from rlvr.eval.metrics import spearman
from rlvr.tasks import get_task

CHECK_FIXED = ("work+check 7856-4183 6-3-0=3 b0 r3\n785-418 15-8-0=7 b1 r73\n78-41 8-1-1=6 b1 r673\n"
               "7-4 7-4-1=2 r2673\ncheck 7856-4183 6-3-0=3 b0 r3\n785-418 15-8-0=7 b1 r73\n"
               "78-41 8-1-1=6 b0 r673\n7-4 7-4-0=3 r3673\n3673 vs 2673 no\nwait 7856-4183 6-3-0=3 b0 r3\n"
               "785-418 15-8-0=7 b1 r73\n78-41 8-1-1=6 b0 r673\n7-4 7-4-0=3 r3673\n<answer>3673</answer>")


def test_world_and_natural_language_markers():
    c = count_markers(CHECK_FIXED, WORLD_MARKERS)
    assert c == {"wait": 1, "check": 2, "abandon": 0, "no": 1, "fix": 1}    # "work+check" and "check"
    search = "work\ntry 25+5=30 30*3=90 no\ntry 25-5=20 20*3=60 yes\n<answer>(25-5)*3</answer>"
    assert count_markers(search, WORLD_MARKERS)["abandon"] == 1
    text = "Wait, let me double-check. I verified both cases; reconsider the case. Checking: waiting is not wait."
    assert count_markers(text, NL_MARKERS) == {"wait": 2, "check": 2, "verify": 1, "reconsider": 1, "case": 2}
    rates = marker_rates([CHECK_FIXED, "<answer>1</answer>", "check check"], WORLD_MARKERS)
    assert rates["check"] == {"per_completion": pytest.approx(4 / 3), "share": pytest.approx(2 / 3)}
    assert rates["fix"]["share"] == pytest.approx(1 / 3)
    # an inline check's repair (the checked line written again, with or without wait) is a fix too
    inline = ("work+check 2+3+0=4 c0 r4\ncheck 90632+36873 4-3-0=1 vs 2 no\n90632+36873 2+3+0=5 c0 r5\n"
              "check 90632+36873 5-3-0=2 vs 2 ok\n")
    assert count_markers(inline, WORLD_MARKERS)["fix"] == 1
    assert count_markers(inline.replace("no\n9", "no\nwait 9"), WORLD_MARKERS)["fix"] == 1
    assert count_markers("try 25+5=30 no\ntry 5*3=15 no\n", WORLD_MARKERS)["fix"] == 0
    # a fix counts only when the final answer is right
    assert fix_rate([CHECK_FIXED, CHECK_FIXED, "<answer>3673</answer>", "x"], [True, False, True, False]) == 0.25


def test_training_curve_finds_the_aha_step(tmp_path):
    (tmp_path / "samples").mkdir()
    plan = {5: (0, 4), 10: (1, 4), 15: (2, 4), 20: (1, 4)}       # step: (fixed completions, of n)
    for step, (fixed, n) in plan.items():
        recs = [{"step": step, "prompt": "7856-4183=\n", "correct": True,
                 "completion": CHECK_FIXED if i < fixed else "work 7856-4183 6-3-0=3 b0 r3\n<answer>3673</answer>"}
                for i in range(n)]
        (tmp_path / "samples" / f"step-{step}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    task = get_task("arithmetic")
    tc = training_curve(tmp_path, task, threshold=0.3)
    assert [s["step"] for s in tc["steps"]] == [5, 10, 15, 20]            # numeric order, not text order
    assert [s["fix_rate"] for s in tc["steps"]] == [0, 0.25, 0.5, 0.25]
    assert tc["aha_step"] == 15
    assert training_curve(tmp_path, task, threshold=0.2)["aha_step"] == 10
    assert training_curve(tmp_path, task, threshold=0.5)["aha_step"] is None
    assert tc["steps"][2]["styles"] == {"direct": 0.0, "stepwise": 0.5, "check": 0.5}
    assert tc["steps"][2]["markers"]["wait"] == 0.5


def test_length_against_difficulty_and_correctness():
    diff = [4, 4, 5, 6, 6, 5]
    tokens = [10, 20, 30, 40, 50, 60]
    correct = [True, False, True, False, False, True]
    la = length_analysis(diff, tokens, correct, bins=2)
    assert la["spearman_difficulty_tokens"] == pytest.approx(spearman(diff, tokens))
    assert la["mean_tokens_correct"] == pytest.approx(100 / 3) and la["mean_tokens_wrong"] == pytest.approx(110 / 3)
    assert [(b["n"], b["accuracy"]) for b in la["accuracy_by_length"]] == [(3, pytest.approx(2 / 3)),
                                                                           (3, pytest.approx(1 / 3))]
    assert la["accuracy_by_length"][0]["tokens_from"] == 10 and la["accuracy_by_length"][1]["tokens_to"] == 60
