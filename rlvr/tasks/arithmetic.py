"""Multi-digit arithmetic: addition and subtraction of d-digit numbers (d = difficulty, 2 to 7), and
multiplication of a d-digit number (d = 2 to 5) by a one-digit number, or of a two-digit number by a
two-digit one.

The prompt is the bare sum and a newline, e.g. ``19745+19023=``. The answer is read from the answer tag
only. A completion may be written in one of three styles, told apart by their first word
(``STYLE_PREFIX``, ``style_of``): ``direct`` (the bare answer tag), ``stepwise`` (``work`` and column
work, right to left) and ``check`` (``work+check``: the work, then a check of it). The embedded world
writes worked solutions in these styles for its pretraining corpus; the task itself only poses and
verifies problems.
"""
from __future__ import annotations

import random
import re

from .base import Problem, Verdict, check_split, draw_distinct, extract_answer

STYLES = ("direct", "stepwise", "check")
STYLE_PREFIX = {"direct": "<answer>", "stepwise": "work ", "check": "work+check "}
OPS = ("+", "-", "*")
ADD_SUB_DIGITS = (2, 7)
MUL_DIGITS = (2, 5)
MAX_ANSWER_DIGITS = 40


def style_of(completion: str) -> str:
    """Which style a completion is written in: direct, stepwise, check, or other."""
    if completion.startswith(STYLE_PREFIX["check"]):
        return "check"
    if completion.startswith(STYLE_PREFIX["stepwise"]):
        return "stepwise"
    if completion.startswith(STYLE_PREFIX["direct"]):
        return "direct"
    return "other"


class Arithmetic:
    """The arithmetic task. ``ops`` restricts the operations (e.g. ``"+-"`` for the demo)."""

    name = "arithmetic"
    capabilities = frozenset({"styles", "normalize", "lenient"})
    styles = STYLES
    style_prefix = STYLE_PREFIX

    def __init__(self, ops: str = "+-", min_digits: int = 2, max_digits: int = 7):
        bad = set(ops) - set(OPS)
        if not ops or bad:
            raise ValueError(f"arithmetic ops must be a non-empty subset of '+-*', got {ops!r}")
        if not ADD_SUB_DIGITS[0] <= min_digits <= max_digits <= ADD_SUB_DIGITS[1]:
            raise ValueError(f"arithmetic digits must satisfy 2 <= min_digits <= max_digits <= 7, "
                             f"got {min_digits}..{max_digits}")
        self.ops = ops
        self.min_digits = min_digits
        self.max_digits = max_digits

    # ---------------------------------------------------------------- problems
    def difficulties(self, op: str) -> list[int]:
        lo, hi = (self.min_digits, self.max_digits)
        if op == "*":
            lo, hi = max(lo, MUL_DIGITS[0]), min(hi, MUL_DIGITS[1])
        return list(range(lo, hi + 1))

    def make(self, a: int, op: str, b: int) -> Problem:
        """The problem ``a op b`` (subtraction keeps a >= b, so answers are never negative)."""
        value = {"+": a + b, "-": a - b, "*": a * b}[op]
        digits = len(str(a))
        key = f"arith:{a}{op}{b}"
        return Problem(id=key, prompt=f"{a}{op}{b}=\n", answer=str(value), difficulty=digits,
                       meta={"a": a, "b": b, "op": op})

    def _sample(self, rng: random.Random, difficulty: int | None) -> Problem:
        op = rng.choice([o for o in self.ops if difficulty is None or difficulty in self.difficulties(o)])
        d = difficulty if difficulty is not None else rng.choice(self.difficulties(op))
        lo, hi = 10 ** (d - 1), 10 ** d - 1
        a = rng.randint(lo, hi)
        if op == "*":
            b = rng.randint(10, 99) if d == 2 and rng.random() < 0.5 else rng.randint(2, 9)
        else:
            b = rng.randint(lo, hi)
            if op == "-" and b > a:
                a, b = b, a
        return self.make(a, op, b)

    def problems(self, split: str, n: int, seed: int, difficulty: int | None = None) -> list[Problem]:
        """n distinct problems of ``split``, drawn with ``seed``; ``difficulty`` fixes the digit count."""
        check_split(split)
        if difficulty is not None and not any(difficulty in self.difficulties(o) for o in self.ops):
            raise ValueError(f"difficulty {difficulty} is outside this task's range")
        return draw_distinct(self._sample, f"{self.name}:{split}:{seed}:{difficulty}", split, n, difficulty)

    # ---------------------------------------------------------------- verifier
    def verify(self, problem: Problem, completion: str) -> Verdict:
        try:
            parsed, format_ok, info = extract_answer(completion)
            if parsed is None:
                return Verdict(False, None, False, {"reason": info})
            if not re.fullmatch(r"-?[0-9]{1,%d}" % MAX_ANSWER_DIGITS, parsed):
                return Verdict(False, parsed, False, {"reason": "not an integer"})
            correct = int(parsed) == int(problem.answer)
            return Verdict(correct, parsed, format_ok, {"reason": "ok" if correct else "wrong value"})
        except Exception as e:  # a verifier never raises
            return Verdict(False, None, False, {"reason": f"error: {type(e).__name__}"})

    def normalize(self, parsed: str | None) -> str | None:
        """Canonical form of an answer, for majority voting."""
        if parsed is None or not re.fullmatch(r"-?[0-9]{1,%d}" % MAX_ANSWER_DIGITS, parsed):
            return None
        return str(int(parsed))

    def lenient_correct(self, problem: Problem, completion: str) -> bool:
        """The lenient reading a gamed verifier would take: the right answer's digits anywhere in the text."""
        return isinstance(completion, str) and str(int(problem.answer)) in completion[:100_000]

    style_of = staticmethod(style_of)
