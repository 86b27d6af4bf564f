"""Reward functions: ``(problem, completion, verdict) -> float``, combined with weights from the config.

A config names built-in reward functions or a user's own by dotted path, each with its weight::

    rewards: {accuracy: 1.0, "my_pkg.rewards:brevity": 0.1}

Each one is logged on its own (``reward/accuracy``, ``reward/brevity``: a dotted path logs under the
name after its colon); strict accuracy is always logged as the task metric, whatever the weights. A
reward function that raises scores 0 for that completion: it never takes a run down.
"""
from __future__ import annotations

from .registry import Registry


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


REWARDS = Registry("reward function", {"accuracy": accuracy, "format": format_reward, "partial": partial})


def log_name(name: str) -> str:
    """The name a reward function is logged under: a built-in's own, a dotted path's attribute."""
    return name.rpartition(":")[2]


def score(problem, completion: str, verdict, weights: dict) -> tuple[float, dict]:
    """Weighted total and the value of every reward function named in ``weights`` (by log name)."""
    parts = {}
    total = 0.0
    for name, weight in weights.items():
        fn = REWARDS.get(name)
        try:
            value = float(fn(problem, completion, verdict))
        except Exception:  # a reward function never takes a run down
            value = 0.0
        parts[log_name(name)] = value
        total += weight * value
    return total, parts
