"""Reading answers: the final answer of a completion, and the reference answer of a dataset's row.

``read_answer(completion, where)`` reads a completion's final answer from one of four places
(``ANSWER_FROM``): the answer tag (``base.extract_answer``), the last ``\\boxed{...}``, the last number or
the last Markdown code fence (for code).
It never raises on a completion of any kind and looks at no more than the last ``MAX_SCAN_CHARS``
characters. ``reference_answer(raw)`` normalises a dataset's reference answer once, when it is loaded.
Pure functions of the standard library.
"""
from __future__ import annotations

import re

from .base import ASCII_SPACE, MAX_ANSWER_CHARS, extract_answer

ANSWER_FROM = ("tag", "boxed", "last_number", "fence")
MAX_SCAN_CHARS = 10_000   # only this tail of a completion is scanned for a box or a number

_FENCE_INFO = re.compile(r"[A-Za-z0-9_+-]*[ \t\r]*\n")   # a fence's first line: its language word
_BOX = re.compile(r"\\(?:boxed|fbox)\s*\{")
# A number as a model writes it: 1,234.5 / -3 / .5 / 3/4 / 1e3 / 50% (or 50\%). A bad thousands group
# ("1,0000") ends a number. Linear time: groups are possessive, and no number starts inside a run of
# groups ("1,000,000,...") but at its last, so a long run that ends badly is not rescanned from each group.
_INT = r"(?:\d{1,3}(?:,\d{3})++(?![\d])|\d++)"
_NUMBER = re.compile(
    r"(?<![\w.])(?!(?<=\d,)\d{3},\d)-?"    # not the tail of a word, a decimal or a run of groups
    rf"(?:{_INT}(?:\.\d++)?|\.\d++)"      # integer part and decimals, or decimals alone
    r"(?:[eE][-+]?\d{1,4}+(?![\d]))?"     # an exponent
    rf"(?:/{_INT}(?![.\d]))?"             # a fraction's denominator
    r"(?:\\?%)?",                         # a percent sign
    re.ASCII,
)


def read_answer(completion: str, where: str, max_chars: int = MAX_ANSWER_CHARS) -> tuple[str | None, bool, str]:
    """The final answer of ``completion`` read from ``where`` (one of ``ANSWER_FROM``).

    Returns (answer or None, format_ok, info), like ``base.extract_answer``:
      - ``tag``: the answer tag, exactly as ``extract_answer`` reads it;
      - ``boxed``: the content of the last ``\\boxed{...}`` (or ``\\fbox{...}``), nested braces
        matched; format_ok when one is found and closed;
      - ``last_number``: the last number in the text (see ``_NUMBER``); format_ok when one is found;
      - ``fence``: the content of the last closed Markdown code fence (three backticks, an optional
        language word and a newline, the code, three backticks), ASCII whitespace stripped; format_ok
        when one is found.
    An answer longer than ``max_chars`` is not read (a number is short by nature).
    A completion that is not text gives no answer. An unknown ``where`` is a ValueError (a config error).
    """
    if where not in ANSWER_FROM:
        raise ValueError(f"unknown answer place {where!r}; expected one of {', '.join(ANSWER_FROM)}")
    if not isinstance(completion, str):
        return None, False, "not text"
    if where == "tag":
        return extract_answer(completion, max_chars=max_chars)
    tail = completion[-MAX_SCAN_CHARS:]
    if where == "boxed":
        return _read_boxed(tail, max_chars)
    if where == "fence":
        return _read_fence(tail, max_chars)
    return _read_last_number(tail)


def _read_boxed(text: str, max_chars: int) -> tuple[str | None, bool, str]:
    found, inner = last_boxed(text)
    if not found:
        return None, False, "no \\boxed"
    if inner is None:
        return None, False, "unclosed \\boxed"
    if len(inner) > max_chars:
        return None, False, "answer too long"
    return inner.strip(), True, "ok"


def _read_fence(text: str, max_chars: int) -> tuple[str | None, bool, str]:
    """Fences pair up from the start of ``text``: the last pair's content, without its language word."""
    parts = text.split("```")
    if len(parts) < 3:
        return None, False, "no code fence" if len(parts) == 1 else "unclosed code fence"
    inner = parts[-2] if len(parts) % 2 else parts[-3]
    m = _FENCE_INFO.match(inner)
    inner = inner[m.end():] if m else inner
    if len(inner) > max_chars:
        return None, False, "answer too long"
    return inner.strip(ASCII_SPACE), True, "ok"


def _read_last_number(text: str) -> tuple[str | None, bool, str]:
    last = None
    for last in _NUMBER.finditer(text):
        pass
    if last is None:
        return None, False, "no number"
    return last.group(0), True, "ok"


def last_boxed(text: str) -> tuple[bool, str | None]:
    """(whether ``text`` holds a ``\\boxed{``, the content of the last one or None when it is unclosed).

    Braces nest; an escaped brace (``\\{``, ``\\}``) does not count.
    """
    last = None
    for last in _BOX.finditer(text):
        pass
    if last is None:
        return False, None
    return True, _braced(text, last.end())


def _braced(text: str, start: int) -> str | None:
    """The text from ``start`` to the brace closing the one just before it, or None when none does."""
    depth, i = 1, start
    while i < len(text):
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return text[start:i]
        i += 1
    return None


def reference_answer(raw) -> str:
    """A dataset's reference answer as text, normalised on load.

    - GSM8K's ``"...reasoning...\\n#### 1,234"``: the text after the last ``####``, stripped;
    - a solution holding ``\\boxed{...}`` (MATH): the content of its last box (nested braces);
    - otherwise the value stripped; an int or float becomes its str, without ``.0`` when integral.
    ValueError when the result is empty, a box is unclosed or the value is neither text nor a number.
    """
    text = _as_text(raw)
    if "####" in text:
        text = text.rsplit("####", 1)[1]
    else:
        found, inner = last_boxed(text)
        if found and inner is None:
            raise ValueError("reference answer has an unclosed \\boxed{")
        if found:
            text = inner
    text = text.strip()
    if not text:
        raise ValueError(f"empty reference answer (from {str(raw)[:60]!r})")
    return text


def _as_text(raw) -> str:
    if isinstance(raw, bool) or raw is None:
        raise ValueError(f"reference answer must be text or a number, got {raw!r}")
    if isinstance(raw, int):
        return str(raw)
    if isinstance(raw, float):
        return str(int(raw)) if raw.is_integer() else repr(raw)
    if isinstance(raw, str):
        return raw
    raise ValueError(f"reference answer must be text or a number, got {type(raw).__name__}")
