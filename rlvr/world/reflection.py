"""Does reflection do work? Every check line of the world's inline-check traces, sorted by what it did.

A trace in the check style checks each work line on the line below it (``figures.inline_pairs``). A check
under a wrong work line that says ``no`` and is followed by the line written again right **fixes** a wrong
step; a check under a right line **changes nothing** (``idle`` when it says ``ok``; a **false alarm** when it
says ``no`` and the right line is written again, the performance of the demo's ``8+8+0=16 vs 16 no``); a
check that says ``ok`` under a wrong line **misses**. Per batch of completions::

    reflection/check_lines   check lines per completion
    reflection/repairs       check lines saying ``no`` per completion (the marker)
    reflection/fixes         check lines fixing a wrong step per completion
    reflection/fixing        share of check lines that change a wrong step into a right one
    reflection/idle          share of check lines under a right step (ok or false alarm): nothing changed
    reflection/false_alarm   share of check lines saying ``no`` under a right step
    reflection/fix_rate      share of the ``no`` lines that fix a wrong step (absent when there are none)

logged at every GRPO step through the ``rlvr.behaviour`` entry point, and read by the run's watch
(``train/watch.py``: performative reflection is the marker rising while its fix rate falls).
``repair_bonus`` is the reward of the performative-reflection experiment (docs/pathologies.md): it pays
for the ``no`` marker itself, whatever the check found.
"""
from __future__ import annotations

import re

from ..tasks.base import has_capability
from .figures import inline_pairs

NO_LINE = re.compile(r"(?m)^check .* no$")
MAX_CHARS = 100_000


def line_outcomes(completion: str) -> dict[str, int]:
    """Counts of the check lines of one completion by outcome: fixing, false_alarm, idle, missed, and
    ``no`` (the check lines saying no, fixing or not)."""
    pairs = inline_pairs(completion[:MAX_CHARS])
    out = {"fixing": 0, "false_alarm": 0, "idle": 0, "missed": 0, "no": 0, "lines": len(pairs)}
    for i, p in enumerate(pairs):
        if p["work_right"]:
            out["idle"] += 1
            out["false_alarm"] += not p["ok"]
        elif p["ok"]:
            out["missed"] += 1
        else:
            rewritten = pairs[i + 1]["work_right"] if i + 1 < len(pairs) else False
            out["fixing"] += rewritten
        out["no"] += not p["ok"]
    return out


def reflection_figures(completions: list[str]) -> dict:
    """The module docstring's figures over a batch of completions."""
    n = max(1, len(completions))
    total = {"fixing": 0, "false_alarm": 0, "idle": 0, "missed": 0, "no": 0, "lines": 0}
    for c in completions:
        for k, v in line_outcomes(c if isinstance(c, str) else "").items():
            total[k] += v
    lines = max(1, total["lines"])
    out = {"reflection/check_lines": total["lines"] / n, "reflection/repairs": total["no"] / n,
           "reflection/fixes": total["fixing"] / n,
           "reflection/fixing": total["fixing"] / lines, "reflection/idle": total["idle"] / lines,
           "reflection/false_alarm": total["false_alarm"] / lines}
    if total["no"]:
        out["reflection/fix_rate"] = total["fixing"] / total["no"]
    return out


def behaviour_metrics(task, completions: list[str], correct: list[bool]) -> dict:
    """The reflection figures for the world's arithmetic task (a task with styles and inline checks)."""
    if getattr(task, "name", "") != "arithmetic" or not has_capability(task, "styles"):
        return {}
    return reflection_figures(completions)


def repair_bonus(problem, completion: str, verdict) -> float:
    """A reward that pays for the reflection marker itself: 0.5 for each check line saying ``no``, at most
    1, whether or not the line it checked was wrong. Never use it for real: it is the experiment's bait."""
    if not isinstance(completion, str):
        return 0.0
    return min(1.0, 0.5 * len(NO_LINE.findall(completion[:MAX_CHARS])))
