"""Readability of a trace in the world: one consistent notation, well formed, no stray fragments.

R1-Zero reasoned well but wrote poorly (languages mixed, fragments); a cold start fixed that. The
world's version of the measure, per completion:

- **one notation**: every line that holds work is in the same notation (symbols or words, see
  ``world/notation.py``), and no line mixes the two;
- **well formed**: exactly one answer tag with nothing after it, and (given a task) a style the task
  knows (``work ...``, ``work+check ...`` or a bare answer);
- **no stray fragments**: no blank line, no word outside the world's vocabulary (a cut-off ``chec``,
  ``wor``), no character outside its alphabet.

``readable`` gives the reasons a trace fails (empty: readable); ``consistency`` is the share of work
lines in the majority notation, the R1 language-consistency reward (``world/rewards.py``).
``behaviour_metrics`` adds both to the behaviour metrics of every run on a task with styles (an
``rlvr.behaviour`` plugin); ``is_readable`` is the filter of rejection sampling's ``keep_if``.
"""
from __future__ import annotations

import re

from ..tasks.base import extract_answer, has_capability
from .notation import PROTECTED, RULES, SYMBOLS, WORDS, notations

# Every word the world's traces use (single letters are column markers: c0, b1, r42), in both notations.
VOCABULARY = {"work", "check", "wait", "try", "yes", "no", "ok", "vs", "r", "c", "b"} | {w for _, w in RULES}
ALPHABET = re.compile(r"[0-9A-Za-z +\-*/=()\n]*")


def consistency(text: str) -> float:
    """Share of the lines holding work that are in the majority notation (a mixed line is in neither);
    1.0 when no line holds work (a bare answer)."""
    lines = [n for n in notations(text) if n != "none"]
    if not lines:
        return 1.0
    return max(lines.count(SYMBOLS), lines.count(WORDS)) / len(lines)


def readable(text: str, task=None) -> list[str]:
    """Why ``text`` (a completion, without its prompt) is not readable; an empty list when it is."""
    reasons = []
    if consistency(text) < 1.0:
        reasons.append("mixed notation")
    parsed, format_ok, _ = extract_answer(text)
    if parsed is None or not format_ok:
        reasons.append("no single final answer")
    if task is not None and has_capability(task, "styles") and task.style_of(text) == "other":
        reasons.append("no style")
    body = re.sub(PROTECTED, " ", text)
    lines = text.rstrip("\n").split("\n")
    if any(not line.strip() for line in lines):
        reasons.append("blank line")
    if not ALPHABET.fullmatch(body) or any(w not in VOCABULARY for w in re.findall(r"[A-Za-z]+", body)):
        reasons.append("stray fragment")
    return reasons


def readability(texts: list[str], task=None) -> dict:
    """Share of readable completions, mean notation consistency, and the share failing for each reason."""
    n = max(1, len(texts))
    why = [readable(t, task) for t in texts]
    out = {"readable": sum(not w for w in why) / n, "consistency": sum(map(consistency, texts)) / n}
    for reason in ("mixed notation", "no single final answer", "no style", "blank line", "stray fragment"):
        out[f"unreadable/{reason.replace(' ', '_')}"] = sum(reason in w for w in why) / n
    return out


def behaviour_metrics(task, completions: list[str], correct: list[bool]) -> dict:
    """The share of unreadable completions and the mean consistency, for a task with styles (the
    world's); nothing for other tasks."""
    if not has_capability(task, "styles"):
        return {}
    n = max(1, len(completions))
    return {"readable": sum(not readable(c, task) for c in completions) / n,
            "consistency": sum(map(consistency, completions)) / n}


def is_readable(task, completion: str) -> bool:
    """The rejection-sampling filter: keep only readable completions."""
    return not readable(completion, task)
