"""The task contract: problems with checkable answers, and verdicts that never raise.

A task (``Task``) is an object with
  - ``name``: its name;
  - ``problems(split, n, seed, difficulty=None) -> list[Problem]``;
  - ``verify(problem, completion) -> Verdict`` (never raises, bounded in time and memory).
It may declare optional capabilities in ``capabilities`` (a set of names; ``has_capability`` reads it):
  - ``"styles"``: solution styles: ``styles`` (their names), ``style_of(completion) -> str`` (one of
    them, or ``"other"``) and ``style_prefix`` ({style: the text that opens it}, to force a style);
  - ``"normalize"``: ``normalize(parsed) -> str | None``, the canonical form of a parsed answer, so
    that majority votes count equal answers written differently;
  - ``"lenient"``: ``lenient_correct(problem, completion) -> bool``, a reading of the answer looser than
    the verifier's (for arithmetic: the right number anywhere in the text), which the run's watch holds
    against the strict one to see a reward being gamed (``train/watch.py``).
The library asks a task for a capability only after ``has_capability`` says it has it.

Splits are disjoint by construction: a problem's split is a pure function of its canonical key
(``split_of``), so the same problem can never be drawn into two splits, whatever the seed.
"""
from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

SPLITS = ("train", "validation", "test")
# Share of the problem space held by each split, in percent of a 100-bucket hash.
SPLIT_BUCKETS = {"train": range(0, 80), "validation": range(80, 90), "test": range(90, 100)}

ANSWER_OPEN = "<answer>"
ANSWER_CLOSE = "</answer>"
MAX_ANSWER_CHARS = 256  # an answer longer than this is wrong without being parsed


@dataclass
class Problem:
    """One problem. ``answer`` is the reference answer as text; ``meta`` holds task details."""

    id: str
    prompt: str
    answer: str
    difficulty: int
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class Verdict:
    """The verifier's judgement of one completion.

    correct: the final answer is right (strict accuracy).
    parsed: the answer as read from the answer tag, or None when none could be read.
    format_ok: exactly one answer tag, and nothing but whitespace after it.
    info: why, in a few words (``"no answer tag"``, ``"wrong value"``, ...).
    """

    correct: bool
    parsed: str | None
    format_ok: bool
    info: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Task(Protocol):
    """What every task provides (see the module docstring for the optional capabilities)."""

    name: str

    def problems(self, split: str, n: int, seed: int, difficulty: int | None = None) -> list[Problem]: ...

    def verify(self, problem: Problem, completion: str) -> Verdict: ...


CAPABILITIES = ("styles", "normalize", "lenient")


def has_capability(task, capability: str) -> bool:
    """Whether ``task`` declares ``capability`` (one of ``CAPABILITIES``) in its ``capabilities``."""
    if capability not in CAPABILITIES:
        raise ValueError(f"unknown task capability {capability!r}; known: {', '.join(CAPABILITIES)}")
    return capability in getattr(task, "capabilities", ())


def answer_key(task, parsed: str | None) -> str | None:
    """The answer a majority vote counts: the task's canonical form when it declares ``normalize``."""
    if parsed is None:
        return None
    return task.normalize(parsed) if has_capability(task, "normalize") else parsed


def split_of(key: str) -> str:
    """The split a problem belongs to, from a hash of its canonical key."""
    bucket = int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big") % 100
    for split, buckets in SPLIT_BUCKETS.items():
        if bucket in buckets:
            return split
    raise AssertionError(bucket)


def draw_distinct(sample, seed_key: str, split: str, n: int, difficulty: int | None = None) -> list:
    """n distinct problems of ``split`` from ``sample(rng, difficulty)``, a generator of random problems
    drawn with ``random.Random(seed_key)``; ValueError when too many draws fail (a split too small)."""
    rng = random.Random(seed_key)
    out, seen, tries = [], set(), 0
    while len(out) < n:
        tries += 1
        if tries > 200 * n + 10_000:
            raise ValueError(f"could not draw {n} distinct {split} problems at difficulty {difficulty}")
        p = sample(rng, difficulty)
        if p.id in seen or split_of(p.id) != split:
            continue
        seen.add(p.id)
        out.append(p)
    return out


def check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")


_TAG = re.compile(re.escape(ANSWER_OPEN) + r"(.*?)" + re.escape(ANSWER_CLOSE), re.DOTALL)


ASCII_SPACE = " \t\r\n"  # the only characters stripped around an answer (never Unicode spaces)


def extract_answer(completion: str, max_chars: int = MAX_ANSWER_CHARS) -> tuple[str | None, bool, str]:
    """Read the final answer from the answer tag.

    Returns (answer or None, format_ok, info). A completion with more than one answer tag, or a
    nested tag, gives no answer: listing several candidates must not score. An answer longer than
    ``max_chars`` is not read. Only ASCII whitespace is stripped: a control or Unicode space character
    around the answer is part of it.
    """
    if not isinstance(completion, str):
        return None, False, "not text"
    n_open = completion.count(ANSWER_OPEN)
    if n_open == 0:
        return None, False, "no answer tag"
    if n_open > 1:
        return None, False, "several answer tags"
    m = _TAG.search(completion)
    if m is None:
        return None, False, "unclosed answer tag"
    inner = m.group(1)
    if completion.count(ANSWER_CLOSE) > 1:      # a stray closing tag before or after: no answer
        return None, False, "several answer tags"
    if len(inner) > max_chars:
        return None, False, "answer too long"
    format_ok = completion[m.end():].strip(ASCII_SPACE) == ""
    return inner.strip(ASCII_SPACE), format_ok, "ok" if format_ok else "text after answer"
