"""Graders: is the answer read from a completion the reference answer? One registry.

A grader is a ``Grader``: ``correct(answer, reference) -> bool`` (never raises, bounded in time: it runs
in the verifier pool's worker processes) and ``normalize(answer) -> str | None``, the canonical form that
majority votes count (so ``0.5`` and ``\\frac{1}{2}`` vote together under ``math``). The ``dataset`` task
reads the answer from the completion (``answers.read_answer``: the answer tag, the last ``\\boxed{}`` or
the last number) and asks its grader. A config names a built-in grader or a user's own by dotted path.
The ``code`` grader (``code_grader``) runs code against each row's tests in the sandbox instead.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import Context, Decimal
from fractions import Fraction
from typing import Callable

from ..registry import Registry


@dataclass(frozen=True)
class Grader:
    name: str
    correct: Callable[[str, str], bool]
    """(answer read from the completion, reference answer) -> whether it is right; never raises."""
    normalize: Callable[[str], str | None]
    """The canonical form of an answer for majority votes (None: not an answer of this kind)."""


def _never_raises(correct: Callable[[str, str], bool]) -> Callable[[str, str], bool]:
    """``correct`` that answers False where it would raise (a hostile answer is a wrong one)."""
    def safe(answer, reference) -> bool:
        try:
            return bool(correct(answer, reference))
        except Exception:
            return False
    safe.__name__, safe.__doc__ = correct.__name__, correct.__doc__
    return safe


def _short_text(text, limit: int) -> str | None:
    """``text`` stripped of ASCII whitespace, or None when it is not text or longer than ``limit``."""
    if not isinstance(text, str) or len(text) > limit:
        return None
    return text.strip(" \t\r\n")


# ---- numeric -------------------------------------------------------------------------------------

NUMERIC_MAX_CHARS = 100     # a longer text is not a number
NUMERIC_REL_TOL, NUMERIC_ABS_TOL = Fraction(1, 10**6), Fraction(1, 10**9)
_SIG_DIGITS = 12            # significant digits of a non-integer's canonical form

_INT = r"(?:\d{1,3}(?:,\d{3})+|\d+)"
_DEC = rf"(?:{_INT}(?:\.\d*)?|\.\d+)"
_NUMERIC = re.compile(
    r"(?P<sign>[-+]?)\$?"                                    # sign, then a currency sign
    rf"(?P<num>{_DEC})"                                      # 1,234.5 / .5 / 5.
    r"(?:(?P<exp>[eE][-+]?\d{1,2})|/(?P<den>" + _DEC + r"))?"  # 1e3 (|exponent| < 100) or 3/4
    r"(?:\\?%)?",                                            # a percent sign, dropped
    re.ASCII,
)


def parse_number(text) -> Fraction | None:
    """The exact value of a number written as text, or None when ``text`` is not one.

    The rule: optional ``+``/``-`` then optional ``$`` (or ``$`` then the sign); an integer or decimal
    (``1234``, ``1,234`` with groups of three, ``0.50``, ``.5``, ``5.``), then either an exponent of at most
    two digits (``1e3``, ``2.5E-2``) or a fraction's denominator (``3/4``, ``1/0.5``); then an optional
    percent sign (``%`` or ``\\%``), which is dropped: ``50%`` is 50. Nothing else: no words or units,
    no spaces inside (``1 234`` is not a number), no LaTeX, no expressions. ``−`` (U+2212) is a minus.
    """
    text = _short_text(text, NUMERIC_MAX_CHARS)
    if not text:
        return None
    text = text.replace("\u2212", "-")
    if text.startswith("$") and text[1:2] in ("-", "+"):
        text = text[1] + "$" + text[2:]
    m = _NUMERIC.fullmatch(text)
    if m is None:
        return None
    value = Fraction(m["num"].replace(",", "") + (m["exp"] or ""))
    if m["den"] is not None:
        den = Fraction(m["den"].replace(",", ""))
        if den == 0:
            return None
        value /= den
    return -value if m["sign"] == "-" else value


def _numeric_correct(answer: str, reference: str) -> bool:
    """Both are numbers (``parse_number``) within a relative tolerance of 1e-6 or an absolute 1e-9."""
    a, r = parse_number(answer), parse_number(reference)
    if a is None or r is None:
        return False
    return abs(a - r) <= max(NUMERIC_REL_TOL * max(abs(a), abs(r)), NUMERIC_ABS_TOL)


def _numeric_normalize(answer: str) -> str | None:
    """The canonical decimal: an integer exactly (``1234``, ``0`` for ``-0``), any other value with up to
    12 significant digits (``0.5``, ``0.333333333333``); None when ``answer`` is not a number."""
    try:
        value = parse_number(answer)
    except Exception:
        return None
    if value is None:
        return None
    if value.denominator == 1:
        return str(value.numerator)
    rounded = Context(prec=_SIG_DIGITS).divide(Decimal(value.numerator), Decimal(value.denominator))
    return format(rounded.normalize(), "f")


NUMERIC = Grader("numeric", _never_raises(_numeric_correct), _numeric_normalize)
"""Numbers: equal within a relative tolerance of 1e-6 (absolute 1e-9). ``50%`` is 50, ``$5`` is 5,
``3/4`` is 0.75, ``1,000`` is 1000; words and units are not stripped (``5 apples`` is not a number)."""


# ---- exact ---------------------------------------------------------------------------------------

TEXT_MAX_CHARS = 1000       # a longer text is no answer
_TEXT_MACRO = re.compile(r"\\(?:text|textbf|textit|textrm|mathrm|mbox)\s*\{([^{}]*)\}")
_WRAPPERS = "\"'`*$“”‘’«» \t\r\n"      # stripped from both ends
_TRAILING = ".,;:!?"                    # stripped from the end only (a leading "." is a decimal point)


def clean_text(text) -> str | None:
    """``text`` under NFKC, ``\\text{...}`` (and ``\\textbf``, ``\\mathrm``, ``\\mbox``) unwrapped, its
    whitespace collapsed to single spaces, wrapping quotes, backticks, ``*`` and ``$`` stripped from both
    ends and sentence punctuation (``.,;:!?``) from the end; None when not text, too long or empty."""
    text = _short_text(text, TEXT_MAX_CHARS)
    if not text:
        return None
    text = unicodedata.normalize("NFKC", text)
    for _ in range(8):                                   # nested \text{\textbf{...}}: a few passes
        text, n = _TEXT_MACRO.subn(r"\1", text)
        if n == 0:
            break
    text = " ".join(text.split())
    text = text.lstrip(_WRAPPERS).rstrip(_WRAPPERS + _TRAILING)
    return text or None


def _exact_normalize(answer: str) -> str | None:
    """``clean_text`` case-folded; None when there is no text."""
    try:
        text = clean_text(answer)
    except Exception:
        return None
    return None if text is None else text.casefold()


def _exact_correct(answer: str, reference: str) -> bool:
    """The two normalised texts (``_exact_normalize``) are equal."""
    a = _exact_normalize(answer)
    return a is not None and a == _exact_normalize(reference)


EXACT = Grader("exact", _never_raises(_exact_correct), _exact_normalize)
"""Text: equal after NFKC, case folding, collapsed whitespace, ``\\text{}`` unwrapped, wrapping quotes
and ``$`` stripped and trailing punctuation (``Paris.`` is ``paris``) stripped."""


# ---- choice --------------------------------------------------------------------------------------

CHOICE_LETTERS = "ABCDEFGHIJ"
_CHOICE = re.compile(
    r"(?:(?:the\s+)?(?:correct\s+|final\s+|best\s+)?(?:answer|option|choice)\s*(?:is\s*)?[:=]?\s*)?"
    r"[(\[]?(?P<letter>[A-J])"                           # A / (B) / [C]
    r"(?:[)\]]?|[)\].:]\s+\S.*)",                         # alone, or followed by the option's text: "C) 42"
    re.IGNORECASE | re.DOTALL,
)


def read_choice(text) -> str | None:
    """The option letter (A to J, upper case) that ``text`` names, or None.

    The rule: after ``clean_text`` (so ``d.`` is ``d``), the whole text is a letter, optionally in
    parentheses or brackets, optionally led by ``answer``/``option``/``choice`` [``is``] [``:``] (``Answer:
    D``, ``the answer is (C)``), or a letter with ``)``, ``]``, ``.`` or ``:`` followed by the option's text
    (``C) 42``). Case is ignored. Anything else (``A or B``, ``I think B``, ``K``) names no letter.
    """
    text = clean_text(text)
    if text is None or len(text) > 200:
        return None
    m = _CHOICE.fullmatch(text)
    return m["letter"].upper() if m else None


def _choice_normalize(answer: str) -> str | None:
    """The letter ``read_choice`` reads; None when there is none."""
    try:
        return read_choice(answer)
    except Exception:
        return None


def _choice_correct(answer: str, reference: str) -> bool:
    """Both name a letter (``read_choice``) and it is the same."""
    a = read_choice(answer)
    return a is not None and a == read_choice(reference)


CHOICE = Grader("choice", _never_raises(_choice_correct), _choice_normalize)
"""A multiple-choice letter, A to J: ``B``, ``(B)``, ``b.``, ``Answer: B``, ``the answer is (B)``,
``B) 42`` all name B; the reference is a letter or ``(B)``."""


def _builtins() -> dict:
    from .code_grader import CODE
    from .math_grader import MATH

    return {"numeric": NUMERIC, "exact": EXACT, "choice": CHOICE, "math": MATH, "code": CODE}


GRADERS = Registry("grader", _builtins)
