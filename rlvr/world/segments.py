"""Pieces of a worked solution: each carries whether, and how many times, its characters count in the
pretraining loss. The world's trace writers (``arithmetic_traces``, ``countdown_traces``) return them and
the corpus turns them into a loss mask."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Segment:
    """A piece of a trace; ``train`` False marks characters left out of the pretraining loss, ``weight``
    counts a trained piece's characters that many times in it."""

    text: str
    train: bool = True
    weight: int = 1


def trace_text(segments: list[Segment]) -> str:
    return "".join(s.text for s in segments)
