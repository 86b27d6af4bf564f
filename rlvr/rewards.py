"""Reward functions: ``(problem, completion, verdict) -> float``, combined with weights from the config.

Each one is logged on its own (``reward/accuracy``, ``reward/format``, ``reward/partial``,
``reward/consistency``); strict accuracy is always logged as the task metric, whatever the weights.
"""
from __future__ import annotations


def accuracy(problem, completion: str, verdict) -> float:
    """1 when the verifier says the final answer is right, else 0."""
    return 1.0 if verdict.correct else 0.0


def format_reward(problem, completion: str, verdict) -> float:
    """1 when the completion has exactly one answer tag and nothing after it, else 0."""
    return 1.0 if verdict.format_ok else 0.0


def partial(problem, completion: str, verdict) -> float:
    """The verifier's graded score in [0, 1] (for code: the share of tests passed); tasks without
    partial credit give 1 for a right answer and 0 otherwise."""
    score = verdict.info.get("score") if isinstance(verdict.info, dict) else None
    if isinstance(score, (int, float)) and not isinstance(score, bool) and 0.0 <= score <= 1.0:
        return float(score)
    return 1.0 if verdict.correct else 0.0


def consistency(problem, completion: str, verdict) -> float:
    """R1's language-consistency reward in the world: the share of the completion's work lines written in
    its majority notation (symbols or words; see eval/readability.py), 1 for a bare answer."""
    from .eval.readability import consistency as share

    return share(completion)


REWARDS = {"accuracy": accuracy, "format": format_reward, "partial": partial, "consistency": consistency}


def score(problem, completion: str, verdict, weights: dict) -> tuple[float, dict]:
    """Weighted total and the value of every reward function named in ``weights``."""
    parts = {}
    for name in weights:
        if name not in REWARDS:
            raise ValueError(f"unknown reward {name!r}; known: {', '.join(REWARDS)}")
        try:
            parts[name] = float(REWARDS[name](problem, completion, verdict))
        except Exception:  # a reward function never takes a run down
            parts[name] = 0.0
    return sum(weights[k] * v for k, v in parts.items()), parts
