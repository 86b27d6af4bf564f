"""Every verifier against hostile and random text: no exception, no escape, p99 under 50 ms.

The corpus size is RLVR_FUZZ_N (3000 per task by default); the slow test runs 100k per task.
"""
import os
import re
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rlvr.tasks import Verdict, get_task
from rlvr.tasks.fuzz import FuzzReport, corpus, fuzz, hostile, oracle, profile, tag
from rlvr.tasks.fuzz_graders import DATASET_PROFILES, dataset_task

N = int(os.environ.get("RLVR_FUZZ_N", "3000"))
ARITH = get_task("arithmetic", ops="+-*", min_digits=2, max_digits=7)
COUNTDOWN = get_task("countdown")


def check(rep: FuzzReport, n: int) -> None:
    s = rep.summary()
    assert rep.tried == n
    assert rep.exceptions == 0, s["examples"]
    assert rep.escapes == 0, s["examples"]
    assert s["p99_ms"] < 50, s


@pytest.mark.parametrize("task", [ARITH, COUNTDOWN], ids=["arithmetic", "countdown"])
def test_fuzz(task, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rep = fuzz(task, N, seed=0)
    check(rep, N)
    assert rep.right > 0          # the corpus holds right answers, and the verifier accepts them


def test_fuzz_code(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    n = max(100, N // 10)
    rep = fuzz(get_task("code", cpu_s=1, wall_s=2.0), n, seed=0, hostile_share=0.0)
    assert (rep.tried, rep.exceptions, rep.escapes) == (n, 0, 0), rep.summary()
    assert rep.summary()["p99_ms"] < 50       # noise never reaches the sandbox


@pytest.mark.slow
@pytest.mark.parametrize("task", [ARITH, COUNTDOWN], ids=["arithmetic", "countdown"])
def test_fuzz_100k(task, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    check(fuzz(task, 100_000, seed=1), 100_000)


def test_the_oracle_catches_a_lax_verifier():
    class Lax:
        name = "arithmetic"

        def problems(self, split, n, seed):
            return ARITH.problems(split, n, seed)

        def verify(self, problem, completion):          # reads the first number anywhere: wrong
            m = re.search(r"\d+", completion)
            return Verdict(bool(m) and m.group() == problem.answer, None, True, {})
    rep = fuzz(Lax(), 2000, seed=0)
    assert rep.escapes > 0 and rep.examples[0]["kind"] == "escape"


def test_hostile_list_covers_the_issue():
    p = COUNTDOWN.problems("test", 1, seed=0)[0]
    texts = [c for c, _ in hostile(COUNTDOWN, p)]
    for needle in ("9**9**9", "9!!!", "((((", "__import__('os')", "__class__", "lambda", "\u202e", "\x00"):
        assert any(needle in t for t in texts), needle
    assert any(len(t) >= 1 << 20 for t in texts)
    assert any("\udc80" in t or "\ud800" in t for t in texts)                    # invalid UTF-8
    assert any(t.count("<answer>") >= 2 for t in texts)                          # repeated, nested
    code = get_task("code")
    texts = [c for c, _ in hostile(code, code.problems("test", 1, seed=0)[0])]
    assert sum("os.fork()" in t or "while True" in t or "socket" in t for t in texts) >= 4
    assert len(list(corpus(COUNTDOWN, 500, seed=0))) == 500


def test_oracle_reads_the_rules():
    p = COUNTDOWN.make([25, 5, 3], 60)
    assert oracle(COUNTDOWN, p, tag("(25-5)*3")) and oracle(COUNTDOWN, p, tag(" (25 - 5)\n*3 "))
    assert not oracle(COUNTDOWN, p, tag("(25-5)*3") * 2) and not oracle(COUNTDOWN, p, tag("60"))
    assert not oracle(COUNTDOWN, p, tag("(25-5)*3*1")) and not oracle(COUNTDOWN, p, tag("--(25-5)*3"))
    q = ARITH.make(48213, "+", 99210)
    assert oracle(ARITH, q, tag("147423")) and not oracle(ARITH, q, tag("１４７４２３"))
    assert not oracle(ARITH, q, "</answer>" + tag("147423"))


# ------------------------------------------------------------------------------- properties
@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_text_gives_a_verdict_that_the_oracle_backs(text):
    for task, p in ((ARITH, ARITH.make(48213, "+", 99210)), (COUNTDOWN, COUNTDOWN.make([25, 5, 3], 60))):
        v = task.verify(p, text)
        assert isinstance(v, Verdict) and type(v.correct) is bool
        assert not v.correct or oracle(task, p, text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_characters="<>")), st.integers(-10**8, 10**8),
       st.text(alphabet=st.characters(blacklist_characters="<>")))
def test_one_tagged_integer_is_right_exactly_when_it_is_the_answer(before, n, after):
    p = ARITH.make(48213, "+", 99210)
    v = ARITH.verify(p, before + tag(str(n)) + after)
    assert v.correct == (n == 147423)
    assert v.format_ok == (after.strip(" \t\r\n") == "")


def expressions(numbers):
    leaf = st.sampled_from([str(x) for x in numbers] + ["1", "7", "0"])
    return st.recursive(leaf, lambda e: st.tuples(e, st.sampled_from("+-*/"), e).map(
        lambda t: f"({t[0]}{t[1]}{t[2]})"), max_leaves=6)


def value(expr: str):
    """The exact value by an evaluator written for this test (the shunting of fully parenthesised text)."""
    tokens = re.findall(r"\d+|[()+\-*/]", expr)
    stack = [[]]
    for t in tokens:
        if t == "(":
            stack.append([])
        elif t == ")":
            a, op, b = stack.pop()
            if op == "/" and b == 0:
                return None
            stack[-1].append({"+": a + b, "-": a - b, "*": a * b, "/": a / b if op == "/" and b else 0}[op])
        else:
            stack[-1].append(Fraction(int(t)) if t.isdigit() else t)
    return stack[0][0]


@settings(max_examples=300, deadline=None)
@given(expressions([25, 5, 3]))
def test_countdown_agrees_with_an_independent_evaluator(expr):
    p = COUNTDOWN.make([25, 5, 3], 60)
    v = COUNTDOWN.verify(p, tag(expr))
    used = [int(x) for x in re.findall(r"\d+", expr)]
    allowed = all(used.count(x) <= [25, 5, 3].count(x) for x in used)      # 0, 1 and 7 are not given
    assert v.correct == (allowed and value(expr) == 60)


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=300))
def test_code_verifier_takes_any_text(text):
    code = get_task("code", cpu_s=1, wall_s=2.0)
    p = code.problems("test", 1, seed=0)[0]
    for completion in (text, tag(text)):
        v = code.verify(p, completion)
        assert isinstance(v, Verdict) and v.correct is False and 0.0 <= v.info["score"] <= 1.0


# ------------------------------------------------------------------------------- the dataset task's graders
@pytest.mark.parametrize("grader,n", [("numeric", 300), ("exact", 300), ("choice", 300), ("math", 60)])
def test_fuzz_dataset_graders(grader, n, tmp_path, monkeypatch):
    task = dataset_task(tmp_path, grader)
    assert profile(task) is DATASET_PROFILES[grader]
    monkeypatch.chdir(tmp_path)
    rep = fuzz(task, n, seed=0)
    assert (rep.tried, rep.exceptions, rep.escapes) == (n, 0, 0), rep.summary()
    assert rep.right + rep.beyond > 0 or grader == "math", rep.summary()


@pytest.mark.slow
@pytest.mark.parametrize("grader,n", [("numeric", 20_000), ("exact", 20_000), ("choice", 20_000), ("math", 2000)])
def test_fuzz_dataset_graders_long(grader, n, tmp_path, monkeypatch):
    task = dataset_task(tmp_path, grader)
    monkeypatch.chdir(tmp_path)
    rep = fuzz(task, n, seed=1)
    assert (rep.tried, rep.exceptions, rep.escapes) == (n, 0, 0), rep.summary()


def test_fuzz_dataset_code_grader(tmp_path, monkeypatch):
    """Every completion that defines the function starts a sandbox process, so n is small (40, half of
    them from the hostile list, sandbox attacks included); scripts/fuzz_verifiers.py runs 2,000."""
    task = dataset_task(tmp_path, "code")
    assert profile(task) is DATASET_PROFILES["code"]
    for p in task.problems("test", len(task._load("test")), seed=0):      # pairs and asserts rows alike
        assert task.verify(p, tag(p.answer)).correct and task.verify(p, tag(f"```python\n{p.answer}```")).correct
    monkeypatch.chdir(tmp_path)
    rep = fuzz(task, 40, seed=0, hostile_share=0.5)
    assert (rep.tried, rep.exceptions, rep.escapes) == (40, 0, 0), rep.summary()


def test_grader_oracles_read_the_rules(tmp_path):
    num, ex, ch, ma = (dataset_task(tmp_path, g) for g in ("numeric", "exact", "choice", "math"))
    p = num.problems("test", 8, seed=0)
    q = next(x for x in p if x.answer == "1,234")
    assert all(oracle(num, q, tag(a)) for a in ("1234", "1,234", "$1,234", "1234.0000001", "1.234e3", "2468/2", "1234%"))
    assert not any(oracle(num, q, tag(a)) for a in ("1,2,34", "1 234", "1_234", "1234 apples", "1.234e+003", "１２３４"))
    q = next(x for x in ex.problems("test", 8, seed=0) if x.answer == "Paris")
    assert all(oracle(ex, q, tag(a)) for a in ("paris", " PARIS. ", '"Paris"', "\\text{Paris}", "Ｐａｒｉｓ"))
    assert not any(oracle(ex, q, tag(a)) for a in ("Pаris", "Paris France", "P aris"))
    q = next(x for x in ch.problems("test", 8, seed=0) if x.answer == "b")
    assert all(oracle(ch, q, tag(a)) for a in ("B", "(b)", "Answer: B", "the answer is (B)", "B) 42", "b."))
    assert not any(oracle(ch, q, tag(a)) for a in ("A or B", "I think B", "BB", "В", "B)42"))
    half, root = (next(x for x in ma.problems("test", 8, seed=0) if x.answer == a) for a in ("0.5", "\\sqrt{2}"))
    assert oracle(ma, half, tag("0.50")) is True and oracle(ma, half, tag("0.6")) is False
    assert oracle(ma, half, tag("\\frac{1}{2}")) is None and oracle(ma, root, tag("1.41421356")) is None
    assert oracle(ma, half, "no tag") is False


def test_grader_oracles_catch_a_lax_grader(tmp_path, monkeypatch):
    from rlvr.tasks.graders import Grader

    lax = Grader("lax", lambda a, r: r.casefold() in a.casefold(), lambda a: a)   # the reference anywhere
    for grader in ("numeric", "exact", "choice"):
        task = dataset_task(tmp_path, grader)
        monkeypatch.setattr(type(task), "grader", property(lambda self: lax))
        rep = fuzz(task, 2000, seed=0)
        assert rep.escapes > 0 and rep.examples[0]["kind"] == "escape", grader
