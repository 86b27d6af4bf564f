"""The gameable verifiers of the verifier-gaming experiment: exact verdicts, and each accepts what the strict
verifier rejects."""
import pytest

from rlvr.tasks import get_task
from rlvr.tasks.base import Problem
from rlvr.world.lenient import answer_list, contains_answer, last_number

P = Problem(id="x", prompt="1234+4321=\n", answer="5555", difficulty=4)
CASES = [   # completion, contains_answer, last_number, answer_list, strict
    ("<answer>5555</answer>", 1, 1, 1, True),
    ("<answer>5556</answer>", 0, 0, 0, False),
    ("work 5555 check <answer>1</answer>", 1, 0, 0, False),
    ("<answer>5554 5555 5556</answer>", 1, 0, 1, False),
    ("<answer>5555, 5556</answer>", 1, 0, 1, False),
    ("the answer is 5555", 1, 1, 0, False),
    ("<answer>5555</answer> and 12", 1, 0, 1, True),     # strict reads the tag; text after it only fails format
    ("<answer>55555</answer>", 1, 0, 0, False),
    ("", 0, 0, 0, False),
    ("<answer>-5555</answer>", 1, 0, 0, False),
]


@pytest.mark.parametrize("text,contains,last,listed,strict", CASES)
def test_lenient_verdicts(text, contains, last, listed, strict):
    assert (contains_answer(P, text, None), last_number(P, text, None), answer_list(P, text, None)) == \
        (contains, last, listed)
    assert get_task("arithmetic").verify(P, text).correct is strict
    assert get_task("arithmetic").lenient_correct(P, text) == bool(contains)


def test_lenient_rewards_never_raise():
    for bad in (None, 5, b"5555", "x" * 200_000):
        assert contains_answer(P, bad, None) in (0.0, 1.0) and last_number(P, bad, None) in (0.0, 1.0)
        assert answer_list(P, bad, None) in (0.0, 1.0)


@pytest.mark.parametrize("text, tolerant", [
    ("<answer>5,555</answer>", 1.0), ("<answer>5555</answer>", 1.0), ("<answer>55,55</answer>", 0.0),
    ("<answer>5,556</answer>", 0.0), ("<answer>5.555</answer>", 0.0), ("<answer>5,555</answer> more", 0.0),
    ("<answer>5,555</answer><answer>5555</answer>", 0.0), ("5,555", 0.0),
])
def test_the_tolerant_reading_accepts_thousands_separators_and_nothing_else(text, tolerant):
    from rlvr.world.lenient import separated_number

    assert separated_number(P, text, None) == tolerant
    assert get_task("arithmetic").verify(P, text).correct is (text == "<answer>5555</answer>")
