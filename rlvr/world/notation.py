"""The world's two notations, as symbol substitutions on ``\\n``-separated lines of a trace.

The world writes its work in symbols (``> 5+3+0=08 r....8``). Its second notation spells the operators
out (``> 5 plus 3 plus 0=08 r....8``): the same work in another "language", which the
corpus can mix in (``CorpusConfig.second_notation``) so that a base trained on it switches notation
mid-trace, as R1-Zero switched languages. Everything here works on symbols and lines, not on the layout
of any task's trace, so it holds whatever the layout: answer tags (``<answer>...</answer>``, which the
verifier reads) and the style marker ``work+check`` are never rewritten.
"""
from __future__ import annotations

import re

SYMBOLS, WORDS = "symbols", "words"
# symbol form (a regex) -> word form; the column markers c and b count only before a digit
RULES = [
    (r"\+", "plus"),
    (r"(?<=[0-9)])-(?=[0-9(])", "minus"),
    (r"\*", "times"),
    (r"/", "over"),
    (r"(?<![A-Za-z0-9])c(?=[0-9])", "carry"),
    (r"(?<![A-Za-z0-9])b(?=[0-9])", "borrow"),
]
PROTECTED = r"<answer>.*?</answer>|</?answer>|work\+check"
_SCAN = re.compile("(?P<keep>" + PROTECTED + ")|" + "|".join(f"(?P<r{i}>{pat})" for i, (pat, _) in enumerate(RULES)))
_WORD = re.compile(r"(?<![A-Za-z])(?:" + "|".join(w for _, w in RULES) + r")(?![A-Za-z])")


def line_notation(line: str) -> str:
    """``symbols``, ``words``, ``mixed`` (both in one line) or ``none`` (neither: an answer line, ``wait``)."""
    sym = any(m.lastgroup != "keep" for m in _SCAN.finditer(line))
    word = bool(_WORD.search(re.sub(PROTECTED, " ", line)))
    return "mixed" if sym and word else SYMBOLS if sym else WORDS if word else "none"


def notations(text: str) -> list[str]:
    """The notation of every line of ``text``."""
    return [line_notation(line) for line in text.split("\n")]


def to_words(text: str, train: list[bool] | None = None, from_line: int = 0) -> tuple[str, list[bool]]:
    """``text`` with the lines from ``from_line`` on rewritten in the word notation.

    ``train`` gives a flag per character (the loss mask of a corpus trace); each written word takes the
    flag of the symbol it replaces, so an untrained slip stays untrained. Words get a space on each side
    unless a space or a line end is already there. Returns the text and its flags."""
    train = [True] * len(text) if train is None else list(train)
    out, flags, pos, tail = [], [], 0, ""
    line_starts = [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n"]
    first = line_starts[from_line] if from_line < len(line_starts) else len(text)
    for m in _SCAN.finditer(text, first):
        if m.lastgroup == "keep":
            continue
        chunk = text[pos:m.start()]
        out.append(chunk)
        flags += train[pos:m.start()]
        tail = chunk[-1] if chunk else tail
        word = RULES[int(m.lastgroup[1:])][1]
        nxt = text[m.end():m.end() + 1]
        word = ("" if tail in ("", " ", "\n") else " ") + word + ("" if nxt in ("", " ", "\n") else " ")
        out.append(word)
        tail = word[-1]
        flags += [all(train[m.start():m.end()])] * len(word)
        pos = m.end()
    out.append(text[pos:])
    flags += train[pos:]
    return "".join(out), flags


def switch_lines(text: str) -> list[int]:
    """Lines where a trace can switch notation: every line with symbols after the first such line."""
    rows = [i for i, n in enumerate(notations(text)) if n == SYMBOLS]
    return rows[1:]
