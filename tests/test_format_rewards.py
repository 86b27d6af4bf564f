"""The think / answer format rewards: think_format_strict, think_format_soft and tag_count."""
import time

import pytest

from rlvr.rewards import MAX_FORMAT_CHARS, REWARDS, score, tag_count, think_format_soft, think_format_strict
from rlvr.tasks.base import Problem, Verdict

GOOD = "<think>\n2 plus 3 is 5\n</think>\n<answer>\n5\n</answer>"
INLINE = "<think>2 plus 3 is 5</think> <answer>5</answer>"


@pytest.mark.parametrize("completion, expected", [
    (GOOD, 1.0),
    (GOOD + "\n", 1.0),                                                   # whitespace at the very end
    (GOOD + " \n\t", 1.0),
    (" " + GOOD, 1.0),                                                    # after "Assistant:"
    ("<think>\n\n</think>\n<answer>\n\n</answer>", 1.0),                  # empty blocks
    ("<think>\nline 1\nline 2\n</think>\n<answer>\n5\n</answer>", 1.0),  # several lines of thought
    ("<think>\n</think>\n<answer>\n</answer>", 0.0),                      # a tag not on its own line
    (INLINE, 0.0),                                                        # soft layout, no newlines
    ("<think>\nx\n</think>\n\n<answer>\n5\n</answer>", 0.0),              # a blank line between blocks
    ("<think>\nx\n</think>\n<answer>\n5\n</answer>\nso 5", 0.0),          # text after </answer>
    ("So: <think>\nx\n</think>\n<answer>\n5\n</answer>", 0.0),            # text before <think>
    ("<answer>\n5\n</answer>\n<think>\nx\n</think>", 0.0),                # blocks out of order
    ("<think>\nx\n</think>", 0.0),                                        # no answer block
    ("<answer>\n5\n</answer>", 0.0),                                      # no think block
    ("<think>\nx\n<answer>\n5\n</answer>", 0.0),                          # no </think>
    ("<think>\n<think>\nx\n</think>\n</think>\n<answer>\n5\n</answer>", 0.0),  # nested think
    ("<think>\nx\n</think>\n<answer>\n5\n</answer>\n<answer>\n6\n</answer>", 0.0),  # repeated answer
    ("<think>\nx\n</think>\n<answer>\n<answer>\n5\n</answer>\n</answer>", 0.0),     # nested answer
    ("", 0.0),
    ("   \n", 0.0),
])
def test_think_format_strict(completion, expected):
    assert think_format_strict(None, completion, None) == expected


@pytest.mark.parametrize("completion, expected", [
    (GOOD, 1.0),
    (INLINE, 1.0),
    ("<think>x</think><answer>5</answer>", 1.0),                          # no whitespace at all
    ("<think>x</think>\n\n\t<answer>5</answer>", 1.0),                    # any whitespace between blocks
    (" " + INLINE, 1.0),                                                  # after "Assistant:"
    ("\n\n" + INLINE, 1.0),
    (INLINE + " so the answer is 5", 1.0),                                # not anchored at the end
    ("<think></think><answer></answer>", 1.0),                            # empty blocks
    ("<think><think>x</think></think><answer>5</answer>", 1.0),           # nested tags are not refused
    ("<think>x</think><answer>5</answer><answer>6</answer>", 1.0),        # nor repeated ones
    ("So: " + INLINE, 0.0),                                               # text before <think>
    ("<think>x</think> so <answer>5</answer>", 0.0),                      # text between the blocks
    ("<answer>5</answer><think>x</think>", 0.0),                          # blocks out of order
    ("<think>x</think>", 0.0),                                            # no answer block
    ("<answer>5</answer>", 0.0),                                          # no think block
    ("<think>x<answer>5</answer>", 0.0),                                  # no </think>
    ("<think>x</think><answer>5", 0.0),                                   # no </answer>
    ("<think>x</think><answer>5</answer", 0.0),                           # a broken </answer>
    ("", 0.0),
    ("   ", 0.0),
])
def test_think_format_soft(completion, expected):
    assert think_format_soft(None, completion, None) == expected


@pytest.mark.parametrize("completion, expected", [
    (GOOD, 1.0),
    (INLINE, 1.0),
    (" So: " + INLINE + " done", 1.0),                                    # tags counted wherever they are
    ("<answer>5</answer><think>x</think>", 1.0),                          # in any order
    ("<think>x</think>", 0.5),
    ("<answer>5</answer>", 0.5),
    ("<think>x<answer>5</answer>", 0.75),                                 # no </think>
    ("<think>x</think><answer>5", 0.75),                                  # no </answer>
    ("<think><think>x</think><answer>5</answer>", 0.75),                  # <think> twice: 0 for it
    ("<think><think>x</think></think><answer>5</answer>", 0.5),           # nested think
    ("<think>x</think><answer>5</answer><answer>6</answer>", 0.5),        # a second answer block
    ("<think>" * 3 + "</think>" * 2, 0.0),
    ("<think>x</think><answer>5</answer>" * 2, 0.0),                      # everything repeated
    ("<Think>x</Think><ANSWER>5</ANSWER>", 0.0),                          # tags are case-sensitive
    ("", 0.0),
    ("no tags at all", 0.0),
])
def test_tag_count(completion, expected):
    assert tag_count(None, completion, None) == expected


@pytest.mark.parametrize("fn", [think_format_strict, think_format_soft, tag_count])
@pytest.mark.parametrize("completion", [None, 5, b"<think>\nx\n</think>\n<answer>\n5\n</answer>", ["<think>"]])
def test_not_text_scores_zero(fn, completion):
    assert fn(None, completion, None) == 0.0


def test_registered_and_scored_with_weights():
    assert {"think_format_strict", "think_format_soft", "tag_count"} <= set(REWARDS.builtins())
    problem = Problem(id="p0", prompt="2+3", answer="5", difficulty=1)
    verdict = Verdict(correct=True, parsed="5", format_ok=True)
    weights = {"accuracy": 1.0, "think_format_soft": 0.5, "tag_count": 0.25}
    total, parts = score(problem, " " + INLINE, verdict, weights)
    assert parts == {"accuracy": 1.0, "think_format_soft": 1.0, "tag_count": 1.0}
    assert total == 1.75
    # no </think>: soft fails, three tags of four; a wrong answer
    wrong = Verdict(correct=False, parsed="6", format_ok=True)
    total, parts = score(problem, "<think>x <answer>6</answer>", wrong, weights)
    assert parts == {"accuracy": 0.0, "think_format_soft": 0.0, "tag_count": 0.75}
    assert total == 0.1875


def test_only_the_first_characters_are_read():
    pad = "x" * MAX_FORMAT_CHARS
    assert think_format_strict(None, "<think>\n" + pad + "\n</think>\n<answer>\n5\n</answer>", None) == 0.0
    assert think_format_soft(None, "<think>" + pad + "</think><answer>5</answer>", None) == 0.0
    assert tag_count(None, INLINE + pad + "<think>", None) == 1.0
    assert think_format_strict(None, "<think>\n" + "x" * 50_000 + "\n</think>\n<answer>\n5\n</answer>", None) == 1.0


@pytest.mark.parametrize("adversarial", [
    "<think>" * 100_000,
    "<think>\n" + "</think><answer>" * 65_000,
    "<think>\n" + "\n</think>\n<answer>\n" * 55_000,
    "<think>\n" + "x" * 1_000_000,
    "<think></think>" + " " * 1_000_000,
    "<think>\nx\n</think>\n<answer>\n" + "\n</answer" * 100_000,
])
def test_bounded_time_on_adversarial_input(adversarial):
    assert len(adversarial) >= 700_000
    for fn in (think_format_strict, think_format_soft, tag_count):
        start = time.perf_counter()
        fn(None, adversarial, None)
        assert time.perf_counter() - start < 0.5, fn.__name__
