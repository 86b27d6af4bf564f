"""The ``math`` grader: mathematical answers compared by value with math-verify (Hugging Face).

Rules:
  - ``correct(answer, reference)`` parses both with ``math_verify.parse`` (LaTeX and plain-expression
    extraction) and asks ``math_verify.verify(reference, answer)``: ``\\frac12``, ``0.5`` and ``1/2`` are
    equal, so are ``\\{1,2\\}`` and ``\\{2,1\\}``; intervals keep their brackets; ``x=3`` answers ``3``.
    An answer without LaTeX delimiters is read as if it were boxed (``\\boxed{answer}``), then, when that
    gives no value, as plain text. math-verify's own verdicts stand, surprising or not (the table in
    ``tests/test_math_grader.py`` records them).
  - It never raises: any error is a wrong answer. An answer or reference longer than ``MAX_CHARS`` is
    wrong without being parsed; so is an empty one, and one with a control character (C0 other than tab,
    newline and carriage return, or DEL) or an invisible format character (Unicode category Cf: the
    right-to-left marks and overrides, zero-width joiners), which math-verify would otherwise skip.
  - Time: math-verify guards parsing and each comparison with SIGALRM, which works only on a process's
    main thread. On the main thread (the verifier pool's workers verify there) each step gets an alarm
    from what is left of ``TIME_LIMIT_S`` for the whole call (at least one second, as ``signal.alarm``
    counts whole seconds); a step that would start after the budget is spent is skipped (wrong). On any
    other thread no alarm is set: the length bound is then the only guard, and a hard limit needs the
    verifier pool (``rlvr.tasks.pool``), which kills a worker that passes its deadline. An alarm cannot
    interrupt a single long C call (a huge integer power), which the pool's deadline still can.
    math-verify sets and cancels SIGALRM itself: a caller's own pending alarm is cancelled by a call.
  - ``normalize(answer)`` is the canonical string of the first value parsed (floats made rational,
    unevaluated products and percentages evaluated, ``x = v`` read as ``v``), so that ``0.5``,
    ``\\frac{1}{2}`` and ``1/2`` vote together; None when nothing parses as a value. Same time rules.
"""
from __future__ import annotations

import math
import threading
import time
import unicodedata

from .graders import Grader

MAX_CHARS = 1000
"""An answer or reference longer than this is wrong without being parsed."""
TIME_LIMIT_S = 3.0
"""Budget for one call on the main thread (math-verify's alarms; whole seconds, at least one a step)."""
_DELIMITERS = ("$", "\\(", "\\[", "\\boxed", "\\fbox")
_CONTROL = frozenset(chr(c) for c in [*range(32), 127]) - {"\t", "\n", "\r"}


def _has_format_char(text: str) -> bool:
    return any(unicodedata.category(c) == "Cf" for c in text)


def _on_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


class _Clock:
    """What is left of the call's time budget, as math-verify's timeout arguments (None: no alarm)."""

    def __init__(self) -> None:
        self.main = _on_main_thread()
        self.deadline = time.monotonic() + TIME_LIMIT_S

    def spent(self) -> bool:
        return self.main and time.monotonic() >= self.deadline

    def seconds(self) -> int | None:
        if not self.main:
            return None
        return max(1, math.ceil(self.deadline - time.monotonic()))


def _configs():
    from math_verify import ExprExtractionConfig, LatexExtractionConfig

    return [LatexExtractionConfig(boxed_match_priority=0), ExprExtractionConfig()]


def _is_value(x) -> bool:
    from sympy import Basic, MatrixBase

    return isinstance(x, (Basic, MatrixBase))


def _parse(text: str, clock: _Clock) -> list:
    """math-verify's parse of ``text`` (values first, then its string fallback); [] when nothing."""
    from math_verify import parse

    text = text.strip()
    if not text or len(text) > MAX_CHARS or not _CONTROL.isdisjoint(text) or _has_format_char(text):
        return []
    tries = [text] if any(d in text for d in _DELIMITERS) else ["\\boxed{" + text + "}", text]
    for t in tries:
        if clock.spent():
            return []
        found = parse(t, extraction_config=_configs(), parsing_timeout=clock.seconds())
        if any(_is_value(x) for x in found):
            return found
    return []


def _correct(answer: str, reference: str) -> bool:
    from math_verify import verify

    if not isinstance(answer, str) or not isinstance(reference, str):
        return False
    if len(answer) > MAX_CHARS or len(reference) > MAX_CHARS:
        return False
    clock = _Clock()
    gold = _parse(reference, clock)
    if not gold:
        return False
    pred = _parse(answer, clock)
    if not pred or clock.spent():
        return False
    return verify(gold, pred, timeout_seconds=clock.seconds()) is True


def correct(answer: str, reference: str) -> bool:
    """Whether ``answer`` has the value of ``reference`` by math-verify; never raises (False instead)."""
    from math_verify.errors import TimeoutException

    try:
        return _correct(answer, reference)
    except (Exception, TimeoutException):
        return False


def _canonical(value) -> str:
    """The canonical string of a parsed value: floats as rationals, products evaluated, x = v as v."""
    import sympy

    if isinstance(value, sympy.Eq) and isinstance(value.lhs, sympy.Symbol):
        value = value.rhs
    if isinstance(value, sympy.Basic):
        floats = value.atoms(sympy.Float)
        if floats:
            value = value.xreplace({f: sympy.nsimplify(f, rational=True) for f in floats})
        value = value.doit()
    return str(value)


def _normalize(answer: str) -> str | None:
    from math_verify.utils import timeout

    if not isinstance(answer, str) or len(answer) > MAX_CHARS:
        return None
    clock = _Clock()
    values = [x for x in _parse(answer, clock) if _is_value(x)]
    if not values or clock.spent():
        return None
    return timeout(timeout_seconds=clock.seconds())(_canonical)(values[0])


def normalize(answer: str) -> str | None:
    """The canonical form of ``answer`` for majority votes; None when it has no value (never raises)."""
    from math_verify.errors import TimeoutException

    try:
        return _normalize(answer)
    except (Exception, TimeoutException):
        return None


MATH = Grader("math", correct, normalize)
