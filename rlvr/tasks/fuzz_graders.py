"""Fuzz profiles of the ``dataset`` task, one per grader: an oracle written without the grader, the
grader's own hostile completions, and a small dataset to fuzz it on.

    task = dataset_task(folder, "numeric")      # writes folder/numeric.jsonl, builds the task
    fuzz(task, n=20_000)                        # fuzz.profile(task) is DATASET_PROFILES["numeric"]

Each oracle reads the grader's documented rule again, independently:
  - numeric: a plain number (``1,234`` with groups of three, ``0.5``, ``.5``, ``-7``, ``1e3`` with an
    exponent of at most two digits, ``3/4``), led by a sign and a ``$`` in either order, with a ``%``
    dropped; equal within 1e-6 relative (1e-9 absolute); anything else is no number;
  - exact: NFKC, ``\\text{}`` unwrapped, whitespace collapsed, wrapping quotes, ``*`` and ``$`` and
    trailing punctuation stripped, case folded, then equal;
  - choice: one letter A to J, bare, in brackets, after ``the answer is``, or before ``) text``;
  - code: the code task's profile (``fuzz._code_hostile``: its sandbox attacks, all wrong, and the
    reference solution, bare and fenced, right) on a few of its problems written as a user's rows, half
    with ``[[args], expected]`` tests and half with ``assert f(...) == ...`` strings; random completions are
    labelled wrong (none holds a solution);
  - math: math-verify's acceptance is richer than any short oracle (``\\frac{1}{2}`` is ``0.5``), so the
    oracle knows only plain numbers (``-7``, ``0.5``): two plain numbers are equal exactly, unequal when
    they differ by more than 1e-6 relative; about anything else it answers None (it cannot tell), and an
    acceptance it cannot judge is counted as ``accepted_beyond_oracle``, not as an escape.
"""
from __future__ import annotations

import json
import re
import unicodedata
from fractions import Fraction
from pathlib import Path

from .base import Problem, split_of
from .fuzz import FuzzProfile, _code_hostile, tag

ROWS = {
    "numeric": ["1,234", "0.5", "-7", "$12", "50%", "3/4", "1000000", "2.5"],
    "exact": ["Paris", "New York", "H2O", "Jean-Paul Sartre", "mitochondria", "42 apples", "Ünïcode", "the Moon"],
    "choice": ["A", "B", "C", "D", "(E)", "J", "I", "b"],
    "math": ["\\frac{1}{2}", "\\sqrt{2}", "-7", "0.5", "12", "\\pi", "3.25", "2\\sqrt{3}"],
    "code": ["add", "is_even", "reverse_string", "gcd", "count_words", "second_largest"],
}
"""The reference answers of each grader's fuzz dataset (for code: the code task's problems used)."""
CODE_LIMITS = {"cpu_s": 1, "wall_s": 2.0}
"""The code grader's sandbox limits under fuzz (as the code task is fuzzed)."""


def _code_row(i: int, name: str) -> dict:
    """A code task's problem as a user's row: tests as pairs (even i) or as assert strings (odd i)."""
    from .code import PROBLEMS

    _, signature, doc, _, solution, tests = next(p for p in PROBLEMS if p[0] == name)
    if i % 2 == 0:
        cases = [[list(args), want] for args, want in tests]
    else:
        cases = [f"assert {name}({', '.join(map(repr, args))}) == {want!r}" for args, want in tests]
    return {"question": f'{signature}\n    """{doc}"""', "answer": solution, "tests": cases, "entry_point": name}


def dataset_task(folder, grader: str):
    """The ``dataset`` task over ``ROWS[grader]``, written to ``folder/<grader>.jsonl``; every row's id is
    chosen so that it falls in the test split, which the fuzzer draws from."""
    from . import get_task

    lines = []
    for i, answer in enumerate(ROWS[grader]):
        k = 0
        while split_of(f"0:{grader}-{i}-{k}") != "test":
            k += 1
        row = _code_row(i, answer) if grader == "code" else {"question": f"Question {i}?", "answer": answer}
        lines.append(json.dumps({"id": f"{grader}-{i}-{k}", **row}))
    path = Path(folder) / f"{grader}.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code = {"tests": "tests", "entry_point": "entry_point", "sandbox": CODE_LIMITS} if grader == "code" else {}
    return get_task("dataset", path=str(path), id="id", grader=grader, **code)


# ---- numeric -------------------------------------------------------------------------------------
def _digits(s: str) -> bool:
    return s.isascii() and s.isdigit()


def _decimal(s: str) -> Fraction | None:
    """``1,234.5`` / ``.5`` / ``5.`` exactly; None for anything else (no sign, no exponent)."""
    whole, _, frac = s.partition(".")
    groups = whole.split(",")
    if len(groups) > 1 and not (1 <= len(groups[0]) <= 3 and all(len(g) == 3 for g in groups[1:])):
        return None
    whole = "".join(groups)
    if not (whole or frac) or not all(_digits(x) for x in (whole, frac) if x):
        return None
    return Fraction(int(whole or "0")) + (Fraction(int(frac), 10 ** len(frac)) if frac else 0)


_EXPONENT = re.compile(r"(?P<mantissa>.*?)(?:[eE](?P<exp>[-+]?[0-9]{1,2}))?", re.ASCII | re.DOTALL)


def plain_number(text: str) -> Fraction | None:
    """The numeric grader's rule, read again (see the module doc)."""
    t = text.strip(" \t\r\n").replace("\u2212", "-")
    if not t or len(t) > 100:
        return None
    t = t[:-2] if t.endswith("\\%") else t[:-1] if t.endswith("%") else t
    sign = ""
    if t[:2] in ("$-", "$+"):
        sign, t = t[1], t[2:]
    else:
        if t[:1] in ("-", "+"):
            sign, t = t[0], t[1:]
        t = t[1:] if t.startswith("$") else t
    num, slash, den = t.partition("/")
    if slash:
        a, b = _decimal(num), _decimal(den)
        value = None if a is None or not b else a / b
    else:
        m = _EXPONENT.fullmatch(num)
        value = _decimal(m["mantissa"])
        if value is not None and m["exp"]:
            value *= Fraction(10) ** int(m["exp"])
    return None if value is None else -value if sign == "-" else value


def _numeric_right(problem: Problem, answer: str) -> bool:
    a, r = plain_number(answer), plain_number(problem.answer)
    if a is None or r is None:
        return False
    return a == r or abs(a - r) <= max(abs(a), abs(r)) / 10**6 or abs(a - r) <= Fraction(1, 10**9)


# ---- exact and choice ----------------------------------------------------------------------------
_MACRO = re.compile(r"\\(text|textbf|textit|textrm|mathrm|mbox)\s*\{(?P<inner>[^{}]*)\}")
_STRIPPED = re.compile(r"[\"'`*$“”‘’«» ]*(?P<core>.*?)[\"'`*$“”‘’«» .,;:!?]*", re.DOTALL)


def _clean(text: str) -> str | None:
    if len(text) > 1000:
        return None
    text = unicodedata.normalize("NFKC", text)
    while True:
        unwrapped = _MACRO.sub(lambda m: m["inner"], text)
        if unwrapped == text:
            break
        text = unwrapped
    core = _STRIPPED.fullmatch(" ".join(text.split()))["core"]
    return core or None


def _exact_right(problem: Problem, answer: str) -> bool:
    a, r = _clean(answer), _clean(problem.answer)
    return a is not None and r is not None and a.casefold() == r.casefold()


_LEAD = re.compile(r"(THE )?((CORRECT|FINAL|BEST) )?(ANSWER|OPTION|CHOICE) ?(IS ?)?[:=]? ?")


def _letter(text: str) -> str | None:
    """The option letter by the choice grader's rule; case is ignored as ``str.upper`` ignores it."""
    t = _clean(text)
    if t is None or len(t) > 200:
        return None
    t = t.upper()
    lead = _LEAD.match(t)
    t = t[lead.end():] if lead else t
    t = t[1:] if t[:1] in ("(", "[") else t
    if not t or t[0] not in "ABCDEFGHIJ":
        return None
    tail = t[1:]
    ok = tail in ("", ")", "]") or (len(tail) >= 3 and tail[0] in ")].:" and tail[1] == " ")
    return t[0] if ok else None


def _choice_right(problem: Problem, answer: str) -> bool:
    a = _letter(answer)
    return a is not None and a == _letter(problem.answer)


# ---- math ----------------------------------------------------------------------------------------
def _plain(text: str) -> Fraction | None:
    return Fraction(text) if re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", text, re.ASCII) and len(text) < 50 else None


def _math_right(problem: Problem, answer: str) -> bool | None:
    """True or False for two plain numbers (None between 0 and 1e-6 apart: math-verify rounds floats);
    None for anything else: the oracle cannot tell."""
    a, r = _plain(answer), _plain(problem.answer)
    if a is None or r is None:
        return None
    if a == r:
        return True
    return None if abs(a - r) <= max(abs(a), abs(r)) / 10**6 else False


# ---- hostile completions of each grader ------------------------------------------------------------
def _numeric_hostile(p: Problem) -> list:
    return [(tag("1e99999"), None), (tag("9" * 10_000), False), (tag("1," * 5000), False),
            (tag("9" * 100), None), (tag("1," * 60 + "000"), None), (tag("1e-99"), None), (tag("$$" + p.answer), None),
            (tag("-$-" + p.answer), None), (tag(p.answer + "%%"), None), (tag(p.answer + "/0"), None),
            (tag("1_000"), None), (tag(p.answer + " apples"), None), (tag("١٢"), None)]


def _exact_hostile(p: Problem) -> list:
    a = p.answer
    return [(tag("\\text{" * 20 + a + "}" * 20), None), (tag(a.upper()), None), (tag(f'"{a}".'), None),
            (tag(a.replace("a", "а").replace("o", "о")), None), (tag("\u0301".join(a)), None),
            (tag(a + "." * 200), None), (tag("".join(chr(0xFF00 + ord(c) - 0x20) if "!" <= c <= "~" else c for c in a)), None),
            (tag(a + " " + a), None), (tag("$" * 100 + a), None)]


def _choice_hostile(p: Problem) -> list:
    return [(tag("A B C D"), None), (tag("(A)(B)"), None), (tag("the answer is A or B"), None),
            (tag("ABCDEFGHIJ"), None), (tag("answer: " * 30 + p.answer), None), (tag("Ｂ"), None), (tag("В"), None),
            (tag("(" * 100 + p.answer + ")" * 100), None), (tag(p.answer + ") " + "x" * 240), None)]


def _math_hostile(p: Problem) -> list:
    return [(tag("\\boxed{" * 500 + p.answer + "}" * 500), False), (tag("\\boxed{" * 30 + "0" + "}" * 30), False),
            (tag("10^{10^{10^{10}}}"), False), (tag("\\frac{" * 300), False), (tag("\\frac{" * 40), False),
            (tag("\\left(" * 40), False), (tag("\\sqrt{" * 35 + "}" * 35), False), (tag("\\begin{matrix}" * 15), False),
            (tag(p.answer + "=" + p.answer + "+1"), None), (tag("\\infty"), False), (tag("x"), False)]


DATASET_PROFILES = {
    "numeric": FuzzProfile(right=_numeric_right, problems=len(ROWS["numeric"]), hostile=_numeric_hostile),
    "exact": FuzzProfile(right=_exact_right, problems=len(ROWS["exact"]), hostile=_exact_hostile),
    "choice": FuzzProfile(right=_choice_right, problems=len(ROWS["choice"]), hostile=_choice_hostile),
    "math": FuzzProfile(right=_math_right, problems=len(ROWS["math"]), hostile=_math_hostile),
    "code": FuzzProfile(problems=len(ROWS["code"]), random_label=False, code=_code_hostile),
}
"""The dataset task's fuzz profile per grader (``fuzz.profile`` picks one by ``task.grader_name``)."""
