"""The world's second notation, the readability measure, the corpus option and the consistency reward."""
import random

import pytest

from rlvr.world.readability import consistency, readability, readable
from rlvr.rewards import REWARDS, score
from rlvr.tasks import get_task
from rlvr.world.arithmetic_traces import arithmetic_trace
from rlvr.world.countdown_traces import countdown_trace
from rlvr.world.segments import Segment, trace_text
from rlvr.world import corpus
from rlvr.world.corpus import CorpusConfig, documents
from rlvr.world.notation import line_notation, notations, switch_lines, to_words

SYM = "work 19745+19023 5+3+0=8 c0 r8\n1974+1902 4+2+0=6 c0 r68\n<answer>38768</answer>"
WORDS = ("work 19745 plus 19023 5 plus 3 plus 0=8 carry 0 r8\n1974 plus 1902 4 plus 2 plus 0=6 carry 0 r68\n"
         "<answer>38768</answer>")


def test_to_words_exact():
    assert to_words(SYM)[0] == WORDS
    assert to_words(SYM, from_line=1)[0] == SYM.split("\n")[0] + "\n" + WORDS.split("\n", 1)[1]
    # answers and the check style's marker are never rewritten; flags follow the symbols they replace
    text, flags = to_words("work+check 8-3 b1\ncheck (2+3)*4=20 ok\n<answer>(2+3)*4</answer>")
    assert text == "work+check 8 minus 3 borrow 1\ncheck (2 plus 3) times 4=20 ok\n<answer>(2+3)*4</answer>"
    text, flags = to_words("5+3=8 c1", [True] * 7 + [False])
    assert text == "5 plus 3=8 carry 1" and flags == [True] * 17 + [False]
    text, flags = to_words("1+2", [True, False, True])
    assert text == "1 plus 2" and flags == [True] + [False] * 6 + [True]


def test_line_notation_and_consistency_exact():
    assert [line_notation(l) for l in ["1+2=3 c0 r3", "1 plus 2=3 carry 0", "1 plus 2+0", "wait", "<answer>1+2</answer>"]] \
        == ["symbols", "words", "mixed", "none", "none"]
    assert notations(SYM) == ["symbols", "symbols", "none"]
    assert consistency(SYM) == 1.0 and consistency(WORDS) == 1.0 and consistency("<answer>5</answer>") == 1.0
    assert consistency("1+2 c0\n3+4 c1\n5 plus 6 carry 1\n<answer>1</answer>") == pytest.approx(2 / 3)
    assert consistency("1+2 c0\n5 plus 6+1\n<answer>1</answer>") == 0.5     # a mixed line is in neither
    assert switch_lines(SYM) == [1]


def test_readable_reasons_exact():
    task = get_task("arithmetic")
    assert readable(SYM, task) == [] and readable(WORDS, task) == [] and readable("<answer>3</answer>", task) == []
    assert readable(to_words(SYM, from_line=1)[0], task) == ["mixed notation"]
    assert readable("work 12+3 chec 1+2=3\n<answer>15</answer>", task) == ["stray fragment"]
    assert readable("work 1+2 1+2+0=3 r3\n\n<answer>3</answer>", task) == ["blank line"]
    assert readable("work 1+2 1+2+0=3 r3 #\n<answer>3</answer>", task) == ["stray fragment"]
    assert readable("<answer>3</answer> 4", task) == ["no single final answer"]
    assert readable("1+2 1+2+0=3\n<answer>3</answer>", task) == ["no style"]
    r = readability([SYM, to_words(SYM, from_line=1)[0], "<answer>3</answer>x", WORDS], task)
    assert r["readable"] == 0.5 and r["unreadable/mixed_notation"] == 0.25 and r["consistency"] == pytest.approx(0.875)


def test_every_world_trace_is_readable_in_either_notation():
    for name, kw, write in (("arithmetic", {"ops": "+-*"}, arithmetic_trace), ("countdown", {}, countdown_trace)):
        task, rng = get_task(name, **kw), random.Random(0)
        for p in task.problems("train", 60, seed=1):
            for style in task.styles:
                text = trace_text(write(p, style, rng, p_slip=0.5))
                words = to_words(text)[0]
                assert readable(text, task) == [] and readable(words, task) == [], (style, text)
                assert task.verify(p, words).correct                # the answer is read as before
                if switch_lines(text):
                    assert readable(to_words(text, from_line=switch_lines(text)[-1])[0], task) == ["mixed notation"]


def test_corpus_second_notation(monkeypatch):
    def never(*a):
        raise AssertionError("the default corpus must not be post-processed")

    with monkeypatch.context() as m:                      # default 0: no draw, the shipped corpus unchanged
        m.setattr(corpus, "_second_notation", never)
        assert len(list(documents(CorpusConfig(), 200))) == 200

    task, rng = get_task("arithmetic", ops="+-"), random.Random(4)
    cfg = CorpusConfig(second_notation=1.0, notation_switch=0.0)
    for p in task.problems("train", 40, seed=2):
        segs = arithmetic_trace(p, "check", rng, p_slip=1.0)
        new = corpus._second_notation(segs, cfg, random.Random(1))
        text = trace_text(new)
        assert text == to_words(trace_text(segs))[0] and task.verify(p, text).correct
        assert "".join(s.text for s in new if not s.train) == "".join(s.text for s in segs if not s.train)
    mixed = CorpusConfig(second_notation=1.0, notation_switch=1.0)
    segs = [Segment("work 12+34 2+4+0=6 c0 r6\n1+3 1+3+0=4 r46\n"), Segment("<answer>46</answer>")]
    assert trace_text(corpus._second_notation(segs, mixed, random.Random(0))) == \
        "work 12+34 2+4+0=6 c0 r6\n1 plus 3 1 plus 3 plus 0=4 r46\n<answer>46</answer>"

    docs = list(documents(CorpusConfig(second_notation=0.5, notation_switch=0.5, task_weights={"arithmetic": 1.0},
                                       style_weights={"stepwise": 1.0}), 200))
    kinds = [tuple(sorted(set(notations(trace_text(d[1:]))) - {"none"})) for d in docs]
    share = {k: kinds.count(k) / len(kinds) for k in set(kinds)}
    assert abs(share[("symbols",)] - 0.5) < 0.1 and share[("words",)] > 0.15 and share[("symbols", "words")] > 0.15


def test_consistency_reward():
    task = get_task("arithmetic")
    p = task.make(19745, "+", 19023)
    mixed = to_words(SYM, from_line=1)[0]
    REWARDS.check("rlvr.world.rewards:consistency", "rewards")
    total, parts = score(p, mixed, task.verify(p, mixed), {"accuracy": 1.0, "rlvr.world.rewards:consistency": 0.5})
    assert parts == {"accuracy": 1.0, "consistency": 0.5} and total == 1.25
