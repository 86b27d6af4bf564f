import random
import re
import time

import pytest

from rlvr.tasks.base import Problem, Verdict, split_of
from rlvr.tasks.countdown import STYLES, Countdown, style_of
from rlvr.world.countdown_traces import countdown_trace
from rlvr.world.segments import trace_text

TASK = Countdown()
P = TASK.make([25, 5, 3], 60)


def v(completion, problem=P):
    return TASK.verify(problem, completion)


def tag(expr):
    return f"<answer>{expr}</answer>"


# ------------------------------------------------------------------ construction
def test_bad_arguments():
    for lo, hi in [(2, 4), (3, 5), (4, 3), (0, 0)]:
        with pytest.raises(ValueError):
            Countdown(lo, hi)
    with pytest.raises(ValueError):
        TASK.problems("dev", 3, 0)
    with pytest.raises(ValueError):
        TASK.problems("train", 3, 0, difficulty=5)


def test_make_and_prompt():
    assert P.id == "countdown:3,5,25->60"
    assert P.prompt == "make 60 from 25 5 3\n"
    assert P.meta == {"numbers": [25, 5, 3], "target": 60}
    assert v(tag(P.answer)).correct
    assert TASK.make([3, 25, 5], 60).id == P.id


# ------------------------------------------------------------------ verdicts
def test_right_answer():
    assert v(tag("(25-5)*3")) == Verdict(True, "(25-5)*3", True, {"reason": "ok"})
    assert v("work\nblah\n" + tag(" ( 25 - 5 ) * 3 ")).correct


def test_wrong_value():
    assert v(tag("25+5*3")) == Verdict(False, "25+5*3", True, {"reason": "wrong value"})


def test_number_not_given():
    assert v(tag("(25-5)*3+7-7")) == Verdict(False, "(25-5)*3+7-7", True,
                                           {"reason": "number not given: 7"})


def test_number_used_twice():
    assert v(tag("5*3*5-15")).info["reason"] == "number used too often: 5"
    assert v(tag("25+25+5+5")) == Verdict(False, "25+25+5+5", True, {"reason": "number used too often: 25"})
    twice = TASK.make([5, 5, 2], 50, "5*5*2")
    assert TASK.verify(twice, tag("5*5*2")).correct
    assert TASK.verify(twice, tag("5*5*5/2-12")).info["reason"].startswith("number")


def test_subset_of_numbers_allowed():
    p = TASK.make([25, 5, 3, 7], 30, "25+5")
    assert TASK.verify(p, tag("25+5")) == Verdict(True, "25+5", True, {"reason": "ok"})


def test_fractions_landing_on_target():
    p = TASK.make([3, 4, 8], 6, "3/4*8")
    assert TASK.verify(p, tag("3/4*8")).correct
    assert TASK.verify(p, tag("8/(4/3)")).correct
    assert TASK.verify(p, tag("3/4")) == Verdict(False, "3/4", True, {"reason": "wrong value"})


def test_division_by_zero():
    p = TASK.make([5, 5, 3], 7, "5+5-3")
    assert TASK.verify(p, tag("3/(5-5)")) == Verdict(False, "3/(5-5)", True, {"reason": "division by zero"})


def test_text_after_answer():
    assert v(tag("(25-5)*3") + " thanks") == Verdict(True, "(25-5)*3", False, {"reason": "ok"})


def test_no_tag_and_two_tags():
    assert v("(25-5)*3") == Verdict(False, None, False, {"reason": "no answer tag"})
    r = v(tag("(25-5)*3") + tag("(25-5)*3"))
    assert not r.correct and r.parsed is None and not r.format_ok
    assert not v(tag("25+5") + "\n" + tag("(25-5)*3")).correct


@pytest.mark.parametrize("expr, reason", [
    ("", "empty expression"),
    ("(25-5*3", "unbalanced parentheses"),
    ("25-5)*3", "unbalanced parentheses"),
    ("25 5 3", "malformed expression"),
    ("25+*3", "malformed expression"),
    ("25-5*3=60", "bad character '='"),
    ("(25−5)×3", "bad character '−'"),
    ("()", "malformed expression"),
    ("60", "number not given: 60"),
    ("1234567", "number too long"),
    ("025*3", "number with a leading zero"),
])
def test_malformed(expr, reason):
    r = v(tag(expr))
    assert not r.correct and r.info["reason"] == reason
    if not reason.startswith("number not"):
        assert not r.format_ok and TASK.normalize(expr) is None


def test_unary_minus_rejected():
    p = TASK.make([25, 5, 3], 10, "25-5*3")
    assert TASK.verify(p, tag("-5*3+25")).info["reason"] == "unary minus is not allowed"
    assert not TASK.verify(p, tag("25+-5*3")).correct
    assert not TASK.verify(p, tag("+25-5*3")).correct


def test_bounds():
    big = Problem("x", "", "", 3, {"numbers": [999999] * 3, "target": 1})
    r = TASK.verify(big, tag("999999*999999*999999"))
    assert r == Verdict(False, "999999*999999*999999", True, {"reason": "value too large"})
    assert v(tag("(" * 21 + "25" + ")" * 21)).info["reason"] == "nesting too deep"
    assert v(tag("(" * 20 + "25" + ")" * 20)).info["reason"] == "wrong value"
    assert v(tag("25" + " " * 200)).correct is False
    assert v(tag("(25-5)*3" + " " * 191 + "+0")).info["reason"] == "expression too long"


HOSTILE = [
    tag("9**9**9"),
    tag("__import__('os').system('ls')"),
    tag("(" * 10000 + "1" + ")" * 10000),
    "(" * 10000 + tag("1") + ")" * 10000,
    tag("(" * 100 + "25" + ")" * 100),
    "x" * 1_000_000,
    tag("1+" * 500_000 + "1"),
    "<answer>" * 100_000,
    b"<answer>\xff\xfe25\x80</answer>".decode("utf-8", "surrogateescape"),
    "\ud800" + tag("\udc00(25-5)*3"),
    tag("\x00\x01\x1b[2J25\x7f"),
    tag("(25-5)*3\x00"),
    tag("25\u00a0+5"),
    tag("２５+５"),
    tag("999999*999999*999999*999999"),
    tag("1e999"),
    tag("0x19*3"),
    tag("25_0"),
    None,
    12345,
]


@pytest.mark.parametrize("completion", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile(completion):
    t0 = time.perf_counter()
    r = v(completion)
    assert time.perf_counter() - t0 < 0.5
    assert isinstance(r, Verdict) and r.correct is False
    assert TASK.normalize(r.parsed) is None or isinstance(TASK.normalize(r.parsed), str)


def test_broken_problem_never_raises():
    r = TASK.verify(Problem("x", "", "", 3, {}), tag("1+2"))
    assert r.correct is False and r.info["reason"].startswith("error")


def test_normalize():
    assert TASK.normalize(" ( 25 - 5 ) *\t3 ") == "(25-5)*3"
    assert TASK.normalize("3/(5-5)") == "3/(5-5)"
    assert TASK.normalize(None) is None
    assert TASK.normalize("25+") is None


# ------------------------------------------------------------------ problems
def test_splits_disjoint():
    ids = {}
    for split in ("train", "validation", "test"):
        ps = TASK.problems(split, 300, seed=0)
        assert len({p.id for p in ps}) == 300
        assert all(split_of(p.id) == split for p in ps)
        ids[split] = {p.id for p in ps}
    assert not ids["train"] & ids["validation"]
    assert not ids["train"] & ids["test"]
    assert not ids["validation"] & ids["test"]


def test_problems_deterministic_and_valid():
    a = TASK.problems("train", 50, seed=3)
    assert a == TASK.problems("train", 50, seed=3)
    assert a != TASK.problems("train", 50, seed=4)
    for d in (3, 4):
        for p in TASK.problems("train", 100, seed=1, difficulty=d):
            nums, target = p.meta["numbers"], p.meta["target"]
            assert p.difficulty == d == len(nums)
            assert all(1 <= x <= 30 for x in nums) and 1 <= target <= 200
            assert p.prompt == f"make {target} from {' '.join(map(str, nums))}\n"
            assert p.id == f"countdown:{','.join(map(str, sorted(nums)))}->{target}"
            assert TASK.verify(p, tag(p.answer)).correct
    assert {p.difficulty for p in TASK.problems("test", 60, seed=0)} == {3, 4}
    assert {p.difficulty for p in Countdown(3, 3).problems("test", 20, seed=0)} == {3}


def test_number_and_target_ranges():
    small = Countdown(3, 3, max_number=9, max_target=50)
    probs = small.problems("train", 200, seed=0)
    assert all(max(p.meta["numbers"]) <= 9 and 1 <= p.meta["target"] <= 50 for p in probs)
    assert max(max(p.meta["numbers"]) for p in probs) == 9            # the range is used to its end
    assert all(small.verify(p, tag(p.answer)).correct for p in probs)
    assert probs == small.problems("train", 200, seed=0)
    for bad in ({"max_number": 3}, {"max_number": 12.5}, {"max_target": 5}):
        with pytest.raises(ValueError, match="max_"):
            Countdown(**bad)


def test_corpus_draws_countdown_from_its_ranges():
    from rlvr.config import ConfigError, validate
    from rlvr.world.corpus import CorpusConfig, documents

    cfg = CorpusConfig(task_weights={"countdown": 1.0}, countdown_kwargs={"max_number": 9, "max_target": 50})
    prompts = ["".join(s.text for s in doc[:1]) for doc in documents(cfg, 100)]
    numbers = [list(map(int, re.fullmatch(r"make (\d+) from ([\d ]+)\n", p).groups()[1].split())) for p in prompts]
    assert max(max(n) for n in numbers) == 9
    with pytest.raises(ConfigError, match="^countdown_kwargs: countdown max_number"):
        validate(CorpusConfig(countdown_kwargs={"max_number": 1}))
    with pytest.raises(ConfigError, match="^countdown_kwargs:"):
        validate(CorpusConfig(countdown_kwargs={"digits": 2}))


# ------------------------------------------------------------------ traces
def test_traces_verify():
    problems = TASK.problems("train", 100, seed=7, difficulty=3) + \
        TASK.problems("train", 100, seed=7, difficulty=4)
    rng = random.Random(0)
    slipped = 0
    for p in problems:
        for style in STYLES:
            segs = countdown_trace(p, style, rng)
            text = trace_text(segs)
            r = TASK.verify(p, text)
            assert r.correct and r.format_ok, (p, text, r)
            assert style_of(text) == TASK.style_of(text) == style
            assert len(text) <= 400
            lines = text.splitlines()
            if style != "direct":
                tries = [ln for ln in lines if ln.startswith("try ")]
                assert 1 <= len(tries) <= 6
                assert tries[-1].endswith(" yes")
            untrained = [s for s in segs if not s.train]
            if untrained:
                slipped += 1
                assert style == "check" and "wait" in lines
                assert all(s.text.isdigit() for s in untrained)
                assert sum(ln.endswith(" no") and ln.startswith("check") for ln in lines) == 1
            if style == "check":
                assert lines[-2].startswith("check ") and lines[-2].endswith(" ok")
    assert slipped > 40


def test_slipped_check_traces():
    rng = random.Random(1)
    n_slipped = 0
    for p in TASK.problems("validation", 60, seed=2):
        segs = countdown_trace(p, "check", rng, p_slip=1.0)
        text = trace_text(segs)
        assert TASK.verify(p, text).correct
        if any(not s.train for s in segs):
            n_slipped += 1
            lines = text.splitlines()
            assert "wait" in lines
            i = lines.index("wait")
            # the slipped try claims the target; its check finds the true value
            assert lines[i - 2].startswith("try ") and lines[i - 2].endswith(f"={p.meta['target']} yes")
            expr, value = lines[i - 1][len("check "):-len(" no")].split("=")
            assert TASK.verify(p, tag(expr)).info["reason"] == "wrong value"
            assert str(TASK.verify(p, tag(expr)).parsed) == expr
            assert int(value) != p.meta["target"]
        else:
            assert "wait" not in text
    assert n_slipped > 30


def test_trace_example():
    rng = random.Random(0)
    text = trace_text(countdown_trace(P, "stepwise", rng))
    assert text.startswith("work\ntry ") and text.endswith("</answer>")
    assert trace_text(countdown_trace(P, "direct", rng)) == tag(P.answer)
    with pytest.raises(ValueError):
        countdown_trace(P, "poem", rng)


def test_trace_deterministic():
    p = TASK.problems("train", 1, seed=0, difficulty=4)[0]
    a = [trace_text(countdown_trace(p, s, random.Random(5))) for s in STYLES]
    b = [trace_text(countdown_trace(p, s, random.Random(5))) for s in STYLES]
    assert a == b


def test_honest_search_shows_the_misses_before_the_first_hit():
    """With ``max_misses`` a search shows every try that comes before its first hit in a random order:
    on average (n + 1) / (h + 1) - 1 misses for n tries of which h hit (the search space of the answer's
    step count), never more than ``max_misses``; without it, 0 to 5 as the shipped corpus draws them."""
    from rlvr.tasks.countdown import _search_space

    problems = TASK.problems("train", 300, seed=3, difficulty=3)
    shown, expected = [], []
    for p in problems:
        text = trace_text(countdown_trace(p, "stepwise", random.Random(p.id), max_misses=100))
        assert TASK.verify(p, text).correct
        shown.append(text.count(" no\n"))
        steps = len(re.findall(r"\d+", p.answer)) - 1
        tries = _search_space(tuple(sorted(p.meta["numbers"])), steps)
        hits = sum(t.value == p.meta["target"] for t in tries)
        expected.append((len(tries) + 1) / (hits + 1) - 1)
    assert abs(sum(shown) / len(shown) - sum(expected) / len(expected)) < 0.1 * sum(expected) / len(expected)
    assert max(shown) > 10                                      # far past the short search's 5
    capped = [sum(ln.startswith("try ") and ln.endswith(" no") for ln in trace_text(countdown_trace(
        p, style, random.Random(p.id), max_misses=3)).splitlines())
              for p in problems for style in ("stepwise", "check")]
    assert max(capped) == 3
    short = [trace_text(countdown_trace(p, "stepwise", random.Random(p.id))).count(" no\n") for p in problems]
    assert max(short) == 5


def test_pool_traces_restate_the_numbers_each_step_may_use():
    p = TASK.make([25, 5, 3], 60, answer="(25-5)*3")
    segs = countdown_trace(p, "stepwise", random.Random(0), pool=True)
    lines = trace_text(segs).splitlines()
    assert lines[-2] == "try [25 5 3] 25-5=20 [3 20] 20*3=60 yes"        # the hit: the pool after its first step
    plain = trace_text(countdown_trace(p, "stepwise", random.Random(0)))
    # the same search without the brackets: the pool is the only change
    assert re.sub(r" \[[\d ]+\]", "", trace_text(segs)) == plain
    for prob in TASK.problems("train", 60, seed=2):
        for style in ("stepwise", "check"):
            segs = countdown_trace(prob, style, random.Random(1), p_slip=1.0, pool=True)
            text = trace_text(segs)
            assert TASK.verify(prob, text).correct
            for line in text.splitlines():
                if not line.startswith("try "):
                    continue
                pools = [list(map(int, m.split())) for m in re.findall(r"\[([\d ]+)\]", line)]
                steps = re.findall(r"(\d+)[-+*/](\d+)=(\d+)", line)
                assert sorted(pools[0]) == sorted(prob.meta["numbers"])    # every try starts from the prompt's numbers
                for before, after, (a, b, r) in zip(pools, pools[1:], steps):
                    rest = list(before)
                    rest.remove(int(a))                                    # each step uses numbers of the pool before it
                    rest.remove(int(b))
                    assert sorted(after) == sorted(rest + [int(r)])


def test_corpus_pool_option():
    from rlvr.world.corpus import CorpusConfig, documents

    def texts(**kw):
        cfg = CorpusConfig(task_weights={"countdown": 1.0}, style_weights={"stepwise": 1.0}, **kw)
        return ["".join(s.text for s in doc) for doc in documents(cfg, 20)]
    assert all("[" in t for t in texts(countdown_pool=True))
    assert not any("[" in t for t in texts())                              # off by default
