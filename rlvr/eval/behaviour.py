"""Behaviour markers: which style a completion uses, and the reflection moves it makes.

For the world: the style (direct / stepwise / check), ``wait`` after a failed check, and for countdown
``no`` followed by a further try (a search that abandons a miss). ``wait_fix_rate`` is the share of
completions with a repair after a failed check (``no``, then ``wait``, or in the inline checks of the
shipped base the checked line written again) that still ended right: how often a repair fixes a slip.
Installed plugins (``rlvr.behaviour`` entry points, ``rlvr.plugins``) add metrics of their own: the
embedded world adds ``readable`` and ``consistency``, the readability of its notation.
"""
from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import numpy as np

from ..plugins import plugins
from ..tasks.base import has_capability
from .metrics import spearman

MARKERS = {
    "wait": re.compile(r"\bwait\b"),
    "check": re.compile(r"\bcheck\b"),
    "abandon": re.compile(r" no\ntry\b"),
}


def behaviour(task, completions: list[str], correct: list[bool]) -> dict:
    """Style shares (for a task with styles), marker shares, the wait-fix rate, and the metrics of the
    installed behaviour plugins, of a list of completions."""
    n = max(1, len(completions))
    out = {}
    if has_capability(task, "styles"):
        styles = Counter(task.style_of(c) for c in completions)
        for s in task.styles:
            out[f"style/{s}"] = styles[s] / n
        out["style/careful"] = (styles["stepwise"] + styles["check"]) / n
    for name, pat in MARKERS.items():
        out[f"marker/{name}"] = sum(bool(pat.search(c)) for c in completions) / n
    waited = [ok for c, ok in zip(completions, correct) if FIX.search(c)]
    out["marker/wait_fix_rate"] = sum(waited) / len(waited) if waited else 0.0
    for metrics in plugins("rlvr.behaviour").values():
        out.update(metrics(task, completions, correct))
    return out


# ------------------------------------------------------------------------------ reflection analytics
# Reflection markers: name -> regex, counted per completion. The world's moves are single words of its
# traces; natural-language reasoning marks the same moves with words (the "aha" vocabulary of R1).
FIX = re.compile(r" no\n(?:wait\b|\d+[-+]\d+ )")          # a repair: wait, or the checked line written again
WORLD_MARKERS = {**MARKERS, "no": re.compile(r" no\n"), "fix": FIX}
NL_MARKERS = {
    "wait": re.compile(r"\bwait\b", re.I),
    "check": re.compile(r"\b(?:re-?|double-?)?check(?:s|ed|ing)?\b", re.I),
    "verify": re.compile(r"\bverif(?:y|ies|ied|ying|ication)\b", re.I),
    "reconsider": re.compile(r"\breconsider(?:s|ed|ing)?\b", re.I),
    "case": re.compile(r"\bcases?\b", re.I),
}
MARKER_SETS = {"world": WORLD_MARKERS, "nl": NL_MARKERS}


def count_markers(text: str, patterns: dict) -> dict[str, int]:
    """How many times each pattern occurs in one completion."""
    return {name: len(pat.findall(text)) for name, pat in patterns.items()}


def marker_rates(texts: list[str], patterns: dict) -> dict:
    """Per pattern: mean occurrences per completion, and the share of completions with at least one."""
    counts = [count_markers(t, patterns) for t in texts]
    n = max(1, len(texts))
    return {name: {"per_completion": sum(c[name] for c in counts) / n,
                   "share": sum(c[name] > 0 for c in counts) / n} for name in patterns}


def fix_rate(texts: list[str], correct: list[bool], fix: re.Pattern = FIX) -> float:
    """Share of completions in which a check caught a wrong step (``no``, then ``wait`` or the line
    written again) and the final answer is right: checks that fix a wrong step, per completion."""
    return sum(bool(fix.search(t)) and ok for t, ok in zip(texts, correct)) / max(1, len(texts))


def read_samples(run_dir) -> dict[int, list[dict]]:
    """{step: rollouts} from a run's ``samples/step-N.jsonl`` files, in step order."""
    out = {}
    for f in Path(run_dir, "samples").glob("step-*.jsonl"):
        recs = [json.loads(line) for line in f.read_text().splitlines() if line.strip()]
        if recs:
            out[int(f.stem.split("-", 1)[1])] = recs
    return dict(sorted(out.items()))


def aha_step(curve: list[dict], threshold: float, key: str = "fix_rate") -> int | None:
    """The first step whose ``key`` exceeds ``threshold`` (None: never)."""
    return next((r["step"] for r in curve if r[key] > threshold), None)


def training_curve(run_dir, task=None, patterns: dict | None = None, threshold: float = 0.05) -> dict:
    """Behaviour over training from a run's ``samples/``: per step the accuracy, mean completion
    characters, style shares, marker rates and the fix rate; and the "aha" step, the first step at which
    checks that fix a wrong step exceed ``threshold`` of completions."""
    patterns = patterns or WORLD_MARKERS
    curve = []
    for step, recs in read_samples(run_dir).items():
        texts = [r["completion"] for r in recs]
        correct = [bool(r["correct"]) for r in recs]
        row = {"step": step, "n": len(recs), "accuracy": sum(correct) / len(recs),
               "mean_chars": sum(map(len, texts)) / len(recs), "fix_rate": fix_rate(texts, correct)}
        if task is not None and has_capability(task, "styles"):
            styles = Counter(task.style_of(t) for t in texts)
            row["styles"] = {s: styles[s] / len(recs) for s in task.styles}
        row["markers"] = {k: v["share"] for k, v in marker_rates(texts, patterns).items()}
        curve.append(row)
    return {"threshold": threshold, "aha_step": aha_step(curve, threshold), "steps": curve}


def length_analysis(difficulty: list[int], tokens: list[int], correct: list[bool], bins: int = 4) -> dict:
    """Length against difficulty (Spearman) and against correctness: mean tokens of right and wrong
    completions, and accuracy in each length quantile bin."""
    t = np.asarray(tokens, dtype=float)
    c = np.asarray(correct, dtype=bool)
    edges = np.unique(np.quantile(t, np.linspace(0, 1, bins + 1))) if len(t) else np.array([])
    by_bin = []
    for i in range(len(edges) - 1):
        sel = (t >= edges[i]) & ((t < edges[i + 1]) if i < len(edges) - 2 else (t <= edges[i + 1]))
        if sel.any():
            by_bin.append({"tokens_from": float(edges[i]), "tokens_to": float(edges[i + 1]),
                           "n": int(sel.sum()), "accuracy": float(c[sel].mean())})
    return {"spearman_difficulty_tokens": spearman(difficulty, tokens),
            "spearman_correct_tokens": spearman(c.astype(float), t),
            "mean_tokens_correct": float(t[c].mean()) if c.any() else None,
            "mean_tokens_wrong": float(t[~c].mean()) if (~c).any() else None,
            "accuracy_by_length": by_bin}
