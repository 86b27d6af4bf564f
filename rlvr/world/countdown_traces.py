"""Worked solutions of the Countdown task (``rlvr/tasks/countdown.py``) for the world's pretraining
corpus: ``countdown_trace`` writes one in each of the task's three styles, every one ending in a right
answer:

direct    ``<answer>(25-5)*3</answer>``
stepwise  ``work`` then a systematic search, one line per try: the numbers combined step by step, each
          step evaluated (only positive whole results), ending in ``no`` when the try misses the target
          and ``yes`` when it hits; the answer is the hitting try written as one expression::

              work
              try 25+5=30 30*3=90 no
              try 25*3=75 75-5=70 no
              try 25-5=20 20*3=60 yes
              <answer>(25-5)*3</answer>

check     ``work+check``, the same search, and after ``yes`` a line that evaluates the expression as a
          whole, ``check (25-5)*3=60 ok``, before the answer.

In check traces one try sometimes holds a slip: a step result off by 1, 2 or 10, with the later steps
of the try following consistently from it, so that the try wrongly reaches the target and says ``yes``.
Its check line then finds the true value (``check 25+5*3=40 no``), the trace says ``wait`` and the search
goes on to the real hit, its own check, and the answer. The slipped digits are marked untrained
(``Segment.train = False``): the model learns to catch slips without learning to make them.
"""
from __future__ import annotations

import random
import re

from ..tasks.base import Problem
from ..tasks.countdown import STYLE_PREFIX, _search_space, _Try
from .segments import Segment

MAX_TRIES_BEFORE_HIT = 5  # stepwise / clean check: 1 to 6 tries
SLIP_DELTAS = (-10, -2, -1, 1, 2, 10)


def countdown_trace(problem: Problem, style: str, rng: random.Random, *, p_slip: float = 0.4,
                    max_misses: int | None = None, pool: bool = False) -> list[Segment]:
    """A worked solution of the Countdown ``problem`` in ``style``; every trace ends in a right answer. The
    search shows 0 to ``MAX_TRIES_BEFORE_HIT`` misses before its hit, drawn at random; with ``max_misses``
    it shows the misses that come before the first hit in a random order of all tries (at most
    ``max_misses`` of them), as a search that cannot know where the hit is. With ``pool`` each try
    restates the numbers it may still use (see ``_try_segments``)."""
    if style == "direct":
        return [Segment(f"<answer>{problem.answer}</answer>")]
    if style not in ("stepwise", "check"):
        raise ValueError(f"unknown style {style!r}")
    target = problem.meta["target"]
    tries = _tries(problem)
    rng.shuffle(tries)
    hit = next(t for t in tries if t.value == target)
    misses = [t for t in tries if t.value != target]

    def n_misses() -> int:
        if max_misses is None:
            return rng.randint(0, min(MAX_TRIES_BEFORE_HIT, len(misses)))
        return min(tries.index(hit), max_misses)          # every try before the first hit misses

    given = list(problem.meta["numbers"]) if pool else None
    answer = Segment(f"<answer>{hit.expr}</answer>")
    if style == "stepwise":
        k = n_misses()
        return [Segment(STYLE_PREFIX["stepwise"]),
                *(s for t in misses[:k] for s in _try_segments(t, "no", pool=given)),
                *_try_segments(hit, "yes", pool=given), answer]
    slipped, slip = _pick_slip(misses, target, rng, p_slip)
    out = [Segment(STYLE_PREFIX["check"])]
    if slipped is None:
        k = n_misses()
        out += [s for t in misses[:k] for s in _try_segments(t, "no", pool=given)]
    else:
        others = [t for t in misses if t is not slipped]
        if max_misses is None:
            k1 = rng.randint(0, min(2, len(others)))
            k2 = rng.randint(0, min(2, len(others) - k1))
        else:                                     # the slipped try falls among the misses shown
            total = min(n_misses(), len(others))
            k1 = rng.randint(0, total)
            k2 = total - k1
        out += [s for t in others[:k1] for s in _try_segments(t, "no", pool=given)]
        out += _try_segments(slipped, "yes", slip, pool=given)
        out += [Segment(f"check {slipped.expr}={slipped.value} no\n"), Segment("wait\n")]
        out += [s for t in others[k1:k1 + k2] for s in _try_segments(t, "no", pool=given)]
    out += _try_segments(hit, "yes", pool=given)
    out += [Segment(f"check {hit.expr}={target} ok\n"), answer]
    return out


def _tries(problem: Problem) -> list[_Try]:
    """Every try of the search, in a fixed order: those of as many steps as the problem's answer first,
    else of the most steps that can hit the target."""
    numbers, target = problem.meta["numbers"], problem.meta["target"]
    n_steps = max(1, len(re.findall(r"\d+", problem.answer)) - 1)
    for steps in [n_steps] + [s for s in range(len(numbers) - 1, 0, -1) if s != n_steps]:
        tries = list(_search_space(tuple(sorted(numbers)), steps))
        if any(t.value == target for t in tries):
            return tries
    raise ValueError(f"no whole-step solution for {problem.id}")


def _pick_slip(misses: list[_Try], target: int, rng: random.Random,
               p_slip: float) -> tuple[_Try | None, tuple | None]:
    """With probability ``p_slip``, the first miss that a slip turns into a hit, and a slip drawn for it
    (``(None, None)`` otherwise, or when no miss can slip onto the target)."""
    if rng.random() < p_slip:
        for t in misses:
            options = _slip_options(t, target)
            if options:
                return t, rng.choice(options)
    return None, None


def _try_segments(t: _Try, verdict: str, slip: tuple | None = None, pool: list | None = None) -> list[Segment]:
    """``try 25+5=30 30*3=90 no``; with a slip (step index, delta) the slipped step's result is off by
    delta (untrained characters) and the later steps follow from it. With ``pool`` (the given numbers,
    in the prompt's order) the try restates the numbers it may still use, at its start and after each
    step but the last: ``try [25 5 3] 25+5=30 [3 30] 30*3=90 no``, so that every step reads its
    operands from the bracket just before it rather than from the prompt."""
    segs: list[Segment] = []
    left = list(pool) if pool is not None else None
    text = "try" + (f" [{' '.join(map(str, left))}]" if left is not None else "")
    vals: list[int] = []
    for k, (a, op, b, result, sa, sb) in enumerate(t.steps):
        a = vals[sa] if sa >= 0 else a
        b = vals[sb] if sb >= 0 else b
        if slip is not None:
            result = _apply(a, op, b)
        if slip is not None and k == slip[0]:
            result += slip[1]
            segs += [Segment(f"{text} {a}{op}{b}="), Segment(str(result), False)]
            text = ""
        else:
            text += f" {a}{op}{b}={result}"
        vals.append(result)
        if left is not None and k < len(t.steps) - 1:
            left.remove(a)
            left.remove(b)
            left.append(result)
            text += f" [{' '.join(map(str, left))}]"
    segs.append(Segment(f"{text} {verdict}\n"))
    return segs


def _apply(a: int, op: str, b: int) -> int | None:
    """``a op b`` when it is a positive whole number (None otherwise)."""
    if op == "+":
        return a + b
    if op == "-":
        return a - b if a > b else None
    if op == "*":
        return a * b
    return a // b if b > 0 and a % b == 0 else None


def _slip_options(t: _Try, target: int) -> list[tuple[int, int]]:
    """Slips (step index, delta) after which the try, redone consistently, lands on the target."""
    out = []
    for k in range(len(t.steps)):
        for delta in SLIP_DELTAS:
            vals: list[int] = []
            ok = True
            for j, (a, op, b, result, sa, sb) in enumerate(t.steps):
                a = vals[sa] if sa >= 0 else a
                b = vals[sb] if sb >= 0 else b
                r = _apply(a, op, b)
                if r is not None and j == k:
                    r += delta
                if r is None or r <= 0:
                    ok = False
                    break
                vals.append(r)
            if ok and vals[-1] == target:
                out.append((k, delta))
    return out

