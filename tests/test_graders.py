"""The built-in graders (numeric, exact, choice) and the answer readers: exact verdicts in tables."""
import time

import pytest

from rlvr.tasks.answers import read_answer, reference_answer
from rlvr.tasks.graders import CHOICE, EXACT, NUMERIC

# (answer, reference, correct)
NUMERIC_CASES = [
    ("42", "42", True),
    ("0.50", ".5", True),
    ("0.5", "1/2", True),
    ("3/4", "0.75", True),
    ("1,000", "1000", True),
    ("1,234,567.5", "1234567.5", True),
    ("1,0000", "10000", False),            # a bad thousands group: not a number
    ("1 234", "1234", False),              # a space is no thousands separator
    ("-0", "0", True),
    ("+7", "7", True),
    ("-7", "7", False),
    ("1e3", "1000", True),
    ("2.5E-2", "0.025", True),
    ("50%", "50", True),                   # the percent sign is dropped
    ("50%", "0.5", False),
    ("50\\%", "50%", True),
    ("$5", "5", True),
    ("-$5", "$-5", True),
    ("5 dollars", "5", False),             # words are not stripped
    ("0.3333333", "1/3", True),            # within the relative tolerance 1e-6
    ("0.333", "1/3", False),
    ("1000001", "1000000", True),          # relative difference 1e-6
    ("1000002", "1000000", False),
    ("1e-12", "0", True),                  # absolute tolerance 1e-9
    ("1/0", "1/0", False),
    ("2+2", "4", False),                   # no expressions
    ("1e999999", "1e999999", False),       # an exponent of more than two digits is not a number
    ("inf", "inf", False),
    ("nan", "nan", False),
    ("\u22123", "-3", True),               # U+2212 minus
    ("", "0", False),
    ("5.", "5", True),
    ("0x10", "16", False),
]


@pytest.mark.parametrize("answer,reference,correct", NUMERIC_CASES)
def test_numeric(answer, reference, correct):
    assert NUMERIC.correct(answer, reference) is correct


@pytest.mark.parametrize("answer,canonical", [
    ("0.50", "0.5"), ("1,234", "1234"), ("3/4", "0.75"), ("-0", "0"), ("1e3", "1000"),
    ("1/3", "0.333333333333"), ("50%", "50"), ("$-2.50", "-2.5"), ("abc", None), ("1 234", None),
])
def test_numeric_normalize(answer, canonical):
    assert NUMERIC.normalize(answer) == canonical


EXACT_CASES = [
    ("Paris", "Paris", True),
    ("paris", "Paris", True),
    ("PARIS.", "paris", True),
    ("  Paris  ", "Paris", True),
    ('"Paris"', "Paris", True),
    ("**Paris**", "Paris", True),
    ("\\text{Paris}", "Paris", True),
    ("$\\text{Paris}$", "Paris", True),
    ("\\textbf{\\text{Paris}}", "Paris", True),
    ("New   York", "new york", True),
    ("New\nYork", "New York", True),
    ("Ｐａｒｉｓ", "Paris", True),          # NFKC: full-width letters
    ("Straße", "STRASSE", True),            # case folding
    ("Paris!", "Paris", True),
    ("Lyon", "Paris", False),
    ("Paris, France", "Paris", False),
    ("NewYork", "New York", False),
    ("-5", "5", False),                     # a leading sign is no punctuation
    (".5", "5", False),                     # a leading dot is kept
    ("(1, 2)", "[1, 2]", False),            # brackets are kept
    ("", "", False),                        # no answer is never right
    ("...", "", False),
]


@pytest.mark.parametrize("answer,reference,correct", EXACT_CASES)
def test_exact(answer, reference, correct):
    assert EXACT.correct(answer, reference) is correct


CHOICE_CASES = [
    ("A", "A", True),
    ("(B)", "B", True),
    ("C)", "C", True),
    ("Answer: D", "D", True),
    ("d.", "D", True),
    ("the answer is (C)", "C", True),
    ("The correct answer is B.", "(B)", True),
    ("Option E", "E", True),
    ("[F]", "F", True),
    ("C) 42", "C", True),
    ("(B) Paris", "(B)", True),
    ("\\boxed{J}", "J", False),             # the reader unboxes, not the grader
    ("$\\text{(G)}$", "G", True),
    ("answer: h", "H", True),
    ("B", "C", False),
    ("A or B", "A", False),
    ("AB", "A", False),
    ("I think B", "B", False),
    ("K", "K", False),                      # letters A to J only
    ("the answer is C because", "C", False),
    ("", "A", False),
    ("A", "", False),
    ("A", "Paris", False),
]


@pytest.mark.parametrize("answer,reference,correct", CHOICE_CASES)
def test_choice(answer, reference, correct):
    assert CHOICE.correct(answer, reference) is correct


def test_choice_and_exact_normalize():
    assert [CHOICE.normalize(a) for a in ("(c)", "Answer: D", "nope")] == ["C", "D", None]
    assert [EXACT.normalize(a) for a in ("\\text{New  York}.", "  ", "Ｐａｒｉｓ")] == ["new york", None, "paris"]


READ_CASES = [
    ("<answer>42</answer>", "tag", ("42", True, "ok")),
    ("<answer>42</answer> more", "tag", ("42", False, "text after answer")),
    ("no tag", "tag", (None, False, "no answer tag")),
    ("so \\boxed{7}.", "boxed", ("7", True, "ok")),
    ("\\boxed{\\frac{1}{2}}", "boxed", ("\\frac{1}{2}", True, "ok")),
    ("\\boxed{1} then \\boxed{ 2 }", "boxed", ("2", True, "ok")),
    ("\\boxed{\\boxed{3}}", "boxed", ("3", True, "ok")),
    ("\\fbox{x}", "boxed", ("x", True, "ok")),
    ("\\boxed{\\{1,2\\}}", "boxed", ("\\{1,2\\}", True, "ok")),
    ("\\boxed{1} \\boxed{\\frac{1}{2}", "boxed", (None, False, "unclosed \\boxed")),
    ("no box", "boxed", (None, False, "no \\boxed")),
    ("\\boxed{" + "x" * 300 + "}", "boxed", (None, False, "answer too long")),
    ("she has 3 apples and 4 pears, 7 in all.", "last_number", ("7", True, "ok")),
    ("total: 1,234.", "last_number", ("1,234", True, "ok")),
    ("x = -3.5", "last_number", ("-3.5", True, "ok")),
    ("ratio 3/4", "last_number", ("3/4", True, "ok")),
    ("up 50% today", "last_number", ("50%", True, "ok")),
    ("it is 1e3", "last_number", ("1e3", True, "ok")),
    ("items 1,2,3", "last_number", ("3", True, "ok")),
    ("3-4", "last_number", ("4", True, "ok")),
    ("costs $.5", "last_number", (".5", True, "ok")),
    ("1,0000", "last_number", ("0000", True, "ok")),
    ("none here", "last_number", (None, False, "no number")),
    ("x" * 20_000 + " 5", "last_number", ("5", True, "ok")),
    ("5 " + "x" * 20_000, "last_number", (None, False, "no number")),  # only the tail is scanned
    (None, "boxed", (None, False, "not text")),
    (12, "last_number", (None, False, "not text")),
]


@pytest.mark.parametrize("completion,where,expected", READ_CASES)
def test_read_answer(completion, where, expected):
    assert read_answer(completion, where) == expected


def test_read_answer_unknown_place():
    with pytest.raises(ValueError, match="unknown answer place"):
        read_answer("1", "first_number")


@pytest.mark.parametrize("raw,expected", [
    ("Natalia sold 48 clips.\nShe sold 24 more.\n#### 72", "72"),
    ("a #### b\n#### 1,234 ", "1,234"),
    ("So the answer is $\\boxed{\\frac{1}{2}}$.", "\\frac{1}{2}"),
    ("\\boxed{1} or rather \\boxed{2}", "2"),
    ("  Paris ", "Paris"),
    (42, "42"),
    (3.0, "3"),
    (2.5, "2.5"),
    ("(C)", "(C)"),
])
def test_reference_answer(raw, expected):
    assert reference_answer(raw) == expected


@pytest.mark.parametrize("raw", ["", "   ", "#### ", "\\boxed{}", "\\boxed{1", None, True, [1]])
def test_reference_answer_rejects(raw):
    with pytest.raises(ValueError):
        reference_answer(raw)


HOSTILE = [
    None, 0, 1.5, b"42", ["42"], {"a": 1}, "", "\x00", "\x00" * 1000, "\ud800", "4\ud8002", "\u202e42",
    "1" * 1_000_000, "1," * 500_000, "(" * 1_000_000, "\\text{" * 100_000, "9" * 99 + "e99",
    "1e999999999", "9" * 50 + "/" + "0." + "0" * 40 + "1", "answer is " * 100_000, "\n" * 1_000_000,
]


@pytest.mark.parametrize("grader", [NUMERIC, EXACT, CHOICE], ids=lambda g: g.name)
def test_graders_never_raise_and_are_fast(grader):
    for hostile in HOSTILE:
        for answer, reference in ((hostile, "42"), ("42", hostile), (hostile, hostile)):
            start = time.perf_counter()
            verdict = grader.correct(answer, reference)
            grader.normalize(answer)
            elapsed = time.perf_counter() - start
            assert isinstance(verdict, bool)
            assert elapsed < 0.05, (grader.name, repr(answer)[:40], elapsed)


def test_read_answer_never_raises_and_is_fast():
    for hostile in HOSTILE + ["\\boxed{" * 100_000, "{" * 1_000_000 + "\\boxed{", "-1," * 300_000]:
        for where in ("tag", "boxed", "last_number"):
            start = time.perf_counter()
            answer, _, _ = read_answer(hostile, where)
            assert answer is None or isinstance(answer, str)
            assert time.perf_counter() - start < 0.05, (where, repr(hostile)[:40])
