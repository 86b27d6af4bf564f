"""One sampled completion per problem, verified: the step every evaluation shares."""
from __future__ import annotations

from ..rollout import SamplingConfig, generate


def sample_once(model, tokenizer, task, problems, sampling: SamplingConfig, prefix: str = ""):
    """Generate one completion per problem (forced to open with ``prefix``) and verify it.

    Returns (texts, correct, lengths): the completions with their prefix, the verdicts' strict accuracy,
    and the generated token counts."""
    ro = generate(model, tokenizer, [p.prompt + prefix for p in problems], n=1, sampling=sampling)
    texts = [prefix + t for t in ro.text]
    correct = [task.verify(p, t).correct for p, t in zip(problems, texts)]
    return texts, correct, [len(c) for c in ro.completion_ids]


def by_difficulty(problems, correct: list[bool], lengths: list[int]) -> dict:
    """{difficulty: {accuracy, mean_tokens, n}}, in difficulty order."""
    groups: dict = {}
    for p, ok, n in zip(problems, correct, lengths):
        groups.setdefault(p.difficulty, []).append((ok, n))
    return {d: {"accuracy": sum(o for o, _ in v) / len(v), "mean_tokens": sum(n for _, n in v) / len(v),
                "n": len(v)} for d, v in sorted(groups.items())}
