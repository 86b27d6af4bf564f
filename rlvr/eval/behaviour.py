"""Behaviour markers: which style a completion uses, and the reflection moves it makes.

For the world: the style (direct / stepwise / check), ``wait`` after a failed check, and for countdown
``no`` followed by a further try (a search that abandons a miss). ``wait_fix_rate`` is the share of
completions that said ``wait`` after a failed check and still ended right: how often a wait repairs a slip.
"""
from __future__ import annotations

import re
from collections import Counter

MARKERS = {
    "wait": re.compile(r"\bwait\b"),
    "check": re.compile(r"\bcheck\b"),
    "abandon": re.compile(r" no\ntry\b"),
}


def behaviour(task, completions: list[str], correct: list[bool]) -> dict:
    """Style shares, marker shares and the wait-fix rate of a list of completions."""
    n = max(1, len(completions))
    out = {}
    styles = Counter(task.style_of(c) if hasattr(task, "style_of") else "other" for c in completions)
    for s in getattr(task, "styles", ()):
        out[f"style/{s}"] = styles[s] / n
    if hasattr(task, "styles"):
        out["style/careful"] = (styles["stepwise"] + styles["check"]) / n
    for name, pat in MARKERS.items():
        out[f"marker/{name}"] = sum(bool(pat.search(c)) for c in completions) / n
    waited = [ok for c, ok in zip(completions, correct) if " no\nwait" in c]
    out["marker/wait_fix_rate"] = sum(waited) / len(waited) if waited else 0.0
    return out
