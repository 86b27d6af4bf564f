"""The ``math`` grader (math-verify 0.9.0): a table of verdicts, normal forms, hostile input, the pool.

The table records what math-verify actually answers; a verdict that may surprise says so in a comment.
``correct(answer, reference)``: the reference is math-verify's gold (its comparison is not symmetric).
"""
import os
import threading
import time
from pathlib import Path

import pytest

from rlvr.tasks.base import Problem, Verdict, extract_answer
from rlvr.tasks.math_grader import MATH, TIME_LIMIT_S, correct, normalize

HERE = str(Path(__file__).resolve().parent)

CASES = [
    # fractions, decimals, signs
    (r"\frac12", "0.5", True),
    ("0.5", r"\frac12", True),
    (r"\dfrac{3}{4}", "0.75", True),
    ("0.75", r"\dfrac{3}{4}", True),
    ("1/2", r"\frac{1}{2}", True),
    (r"-\frac{1}{2}", "-0.5", True),
    (r"\frac{1}{2}", "-0.5", False),
    (r"\frac{6}{4}", r"\frac{3}{2}", True),
    ("1.5", r"\frac32", True),
    ("3.0", "3", True),
    ("1/3", "0.333333", True),            # floats are compared rounded to 6 places
    ("0.333", "1/3", False),
    ("0.5000001", "0.5", True),           # surprise: within the 6-place rounding, so right
    # thousands separators and scientific notation
    ("1,000", "1000", True),
    ("1000", "1,000", True),
    ("1e3", "1000", False),               # surprise: math-verify does not read 1e3 as a number
    ("10^3", "1000", True),
    # percentages
    (r"50\%", "0.5", True),
    ("0.5", r"50\%", True),
    (r"50\%", "50", True),                # surprise: a percentage also matches its bare number
    ("50", r"50\%", True),                # surprise: and the other way round
    # intervals, sets, tuples, lists
    ("(1,2]", "(1,2]", True),
    ("(1,2]", "[1,2]", False),
    ("[1,2]", "(1,2]", False),
    (r"\{1,2\}", r"\{2,1\}", True),
    (r"\{1,2\}", r"\{1,3\}", False),
    ("(1,2)", "(1,2)", True),
    ("(1,2)", r"\{1,2\}", True),          # surprise: a pair matches the set {1,2} even in strict mode
    ("2,1", "1,2", True),                 # surprise: a bare list is read as a set, order ignored
    # arithmetic, radicals, algebra
    (r"2 \cdot 3", "6", True),
    ("6", r"2 \cdot 3", True),
    (r"\sqrt{2}/2", r"\frac{\sqrt2}{2}", True),
    (r"\frac{1}{\sqrt{2}}", r"\frac{\sqrt2}{2}", True),
    (r"2\sqrt{3}", r"\sqrt{12}", True),
    (r"\sqrt{4}", "2", True),
    ("x^2+2x+1", "(x+1)^2", True),
    (r"\pi", r"\pi", True),
    (r"\pi", "3.14159", False),
    ("3.14159", r"\pi", False),
    (r"\infty", r"\infty", True),
    (r"-\infty", r"\infty", False),
    ("1/0", "1/0", True),                 # surprise: both are sympy's complex infinity, so equal
    # units, text, boxes, delimiters
    (r"5\text{ cm}", "5", True),
    ("5", r"5\text{ cm}", True),
    ("5 apples", "5", True),              # a trailing unit-like word is dropped
    ("The answer is 5", "5", False),      # the whole answer is read as one expression (a product)
    (r"\boxed{\frac{1}{2}}", "1/2", True),
    (r"$\frac{1}{2}$", "0.5", True),
    (r"\text{yes}", r"\text{yes}", True),
    ("abc", "abc", True),                 # read as the product a*b*c
    ("A", "A", True),
    ("A", "B", False),
    # equations
    ("x=3", "3", True),
    ("3", "x=3", True),
    ("x=4", "3", False),
    ("y=3", "x=3", False),                # strict: the variable matters
    # wrong and empty
    ("2", "3", False),
    ("", "3", False),
    ("3", "", False),
    ("", "", False),
    ("   ", "3", False),
]


@pytest.mark.parametrize("answer, reference, expected", CASES)
def test_verdicts(answer, reference, expected):
    assert correct(answer, reference) is expected


def test_table_is_large_enough():
    assert len(CASES) >= 40


def test_grader_object():
    assert MATH.name == "math" and MATH.correct is correct and MATH.normalize is normalize


@pytest.mark.parametrize("group", [
    ["0.5", r"\frac{1}{2}", "1/2", r"\dfrac12", r"50\%", r"\boxed{\frac12}"],
    ["3", "x=3", r"\frac{6}{2}", "3.0"],
    ["6", r"2 \cdot 3"],
    [r"\{1,2\}", r"\{2,1\}"],
    ["0.75", r"\frac34"],
    [r"\sqrt{2}/2", r"\frac{1}{\sqrt2}"],
    ["1000", "1,000"],
])
def test_normalize_agrees_for_equal_answers(group):
    keys = {normalize(a) for a in group}
    assert len(keys) == 1 and None not in keys, keys


def test_normalize_tells_different_answers_apart_and_gives_none_without_a_value():
    assert normalize("0.5") != normalize("0.75")
    assert normalize("(1,2]") != normalize("[1,2]")
    assert normalize("") is None and normalize("   ") is None
    assert normalize("x" * 2000) is None and normalize("1\x002") is None
    assert normalize(None) is None


HOSTILE = [
    "x" * (1 << 20),                      # a megabyte
    "\\frac{" * 1000,                     # over the length bound
    "\\frac{" * 160,                      # under it: unbalanced, parsed
    "{" * 900,
    "(" * 500 + ")" * 499,
    "10^{10^{10^{10}}}",                  # a tower: math-verify's alarm stops the comparison
    "2^{2^{2^{2^{2^{2}}}}}",
    "10!!!!!",
    "\x00\x01\x1b[31m\x7f",               # control characters
    "1\x002",
    "\ud800",                             # a lone surrogate
]


# A call's budget is TIME_LIMIT_S (3 s), enforced by math-verify's alarms in whole seconds (parsing, then
# verifying with what is left, at least 1 s): a bound, not a speed. On a busy 2-core machine a call can run
# past 5 s by that granularity, so the bound checked is twice the budget.
BOUND_S = 2 * TIME_LIMIT_S


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_input_is_wrong_quickly_and_never_raises(text):
    for answer, reference in [(text, "3"), ("3", text)]:
        start = time.monotonic()
        assert correct(answer, reference) is False
        assert time.monotonic() - start < BOUND_S
    start = time.monotonic()
    normalize(text)                       # a string or None, never an exception
    assert time.monotonic() - start < BOUND_S


def test_non_strings_are_wrong():
    assert correct(None, "3") is False and correct("3", None) is False and correct(3, "3") is False


def test_off_the_main_thread_no_alarm_is_set_and_verdicts_hold():
    got = []

    def run():
        got.append([correct(a, r) for a, r, _ in CASES[:12]] + [normalize("0.5")])

    t = threading.Thread(target=run)
    t.start()
    t.join(60)
    assert got == [[e for _, _, e in CASES[:12]] + ["1/2"]]


class MathTask:
    """A minimal task for the verifier pool: the answer tag's content graded by MATH (imported by workers)."""

    name = "math-test"

    def problems(self, split, n, seed, difficulty=None):
        return [Problem(id=str(i), prompt="?", answer=a, difficulty=0)
                for i, a in enumerate([r"\frac{1}{2}", "(1,2]", r"\{1,2\}", "3"][:n])]

    def verify(self, problem, completion):
        answer, format_ok, info = extract_answer(completion)
        if answer is None:
            return Verdict(False, None, format_ok, {"reason": info})
        ok = MATH.correct(answer, problem.answer)
        return Verdict(ok, answer, format_ok, {"reason": "ok" if ok else "wrong value"})


def test_grading_in_the_verifier_pool(monkeypatch):
    from rlvr.tasks.pool import VerifierPool

    monkeypatch.setenv("PYTHONPATH", HERE + os.pathsep + os.environ.get("PYTHONPATH", ""))
    task = MathTask()
    problems = task.problems("test", 4, seed=0)
    completions = ["<answer>0.5</answer>", "<answer>[1,2]</answer>", r"<answer>\{2,1\}</answer>",
                   "<answer>10^{10^{10^{10}}}</answer>", "no tag"]
    problems = problems + problems[:1]
    with VerifierPool(task, workers=2, timeout_s=20) as pool:
        got = pool.verify_many(problems, completions)
        assert pool.replaced == 0         # the tower is stopped by math-verify's alarm, not by a kill
    assert [v.correct for v in got] == [True, False, True, False, False]
    assert got[3].info == {"reason": "wrong value"}
    assert got[4].info == {"reason": "no answer tag"}
