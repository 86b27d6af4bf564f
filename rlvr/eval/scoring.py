"""Sampled completions, verified: the step every evaluation shares.

``sample_many`` draws n completions per problem and keeps their token ids, so that figures at a smaller
token budget can be read from the same samples (``score_at_budget``); ``sample_once`` is its one-sample
form; ``validation_figures`` is what the trainers log at each validation.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from ..prompts import prompt_texts
from ..distributed import World, gather, group_seed, share
from ..rollout import SamplingConfig, generate
from ..rollout.episodes import run_episodes
from ..tasks.base import answer_key
from .behaviour import behaviour


@dataclass
class Samples:
    """n completions of each problem, problem-major: rows p*n .. p*n+n-1 belong to problems[p]."""

    problems: list
    n: int
    prefix: str
    completion_ids: list[list[int]]   # generated tokens (ending with EOS when the model stopped on it)
    text: list[str]                   # the completions with their prefix, EOS left out
    finish_reason: list[str]
    seconds: float                    # wall time of the sampling


def sample_many(model, tokenizer, task, problems, n: int, sampling: SamplingConfig, prefix: str = "",
                force=None, seeds: list[int] | None = None, world: World = World(), episodes=None) -> Samples:
    """Generate ``n`` completions per problem (each forced to open with ``prefix``; ``seeds``: one per
    problem, see ``rollout.generate``). Under torchrun each rank samples its share of the problems, each
    with a seed of its own, and every rank returns all the samples. ``episodes``
    (``rollout.episodes.Episodes``) samples multi-turn episodes (tools available), without prefix."""
    if world.size > 1:
        mine = share(len(problems), world)
        own = [group_seed(sampling.seed, i) for i in mine] if seeds is None else [seeds[i] for i in mine]
        part = sample_many(model, tokenizer, task, [problems[i] for i in mine], n, sampling, prefix, force, own,
                           episodes=episodes)
        ids, text, reason = (gather(x, world) for x in (part.completion_ids, part.text, part.finish_reason))
        return Samples(list(problems), n, prefix, ids, text, reason, max(gather([part.seconds], world)))
    t0 = time.time()
    if episodes is not None:
        if prefix or force is not None:
            raise ValueError("multi-turn sampling takes no prefix and no forcing")
        ro = run_episodes(model, tokenizer, problems, episodes.prompts(tokenizer, problems), n, sampling,
                          episodes.make, episodes.max_turns, seeds)
    else:
        ro = generate(model, tokenizer, [t + prefix for t in prompt_texts(tokenizer, problems)], n=n,
                      sampling=sampling, force=force, seeds=seeds)
    return Samples(list(problems), n, prefix, ro.completion_ids, [prefix + t for t in ro.text],
                   ro.finish_reason, time.time() - t0)


def sample_once(model, tokenizer, task, problems, sampling: SamplingConfig, prefix: str = "",
                seeds: list[int] | None = None, episodes=None):
    """Generate one completion per problem (forced to open with ``prefix``) and verify it.

    Returns (texts, correct, lengths): the completions with their prefix, the verdicts' strict accuracy,
    and the generated token counts."""
    s = sample_many(model, tokenizer, task, problems, 1, sampling, prefix, seeds=seeds, episodes=episodes)
    correct = [task.verify(p, t).correct for p, t in zip(problems, s.text)]
    return s.text, correct, [len(c) for c in s.completion_ids]


@dataclass
class Scored:
    """Verdicts of ``Samples`` at one token budget, as [P][n] lists."""

    correct: list[list[bool]]
    answers: list[list]               # normalised answers (None: no answer given within the budget)
    tokens: list[list[int]]           # tokens spent: min(completion length, budget)
    texts: list[list[str]]


def score_at_budget(samples: Samples, task, tokenizer, budget: int | None = None) -> Scored:
    """Verify every completion cut to its first ``budget`` tokens (None: as generated).

    Cutting is exact: the sampler draws each token from the model given the prompt and the tokens before
    it, and a budget only decides when to stop, so the first B tokens of a completion sampled with a
    larger budget have the same distribution as a completion sampled with budget B (with the same seed
    and batch, the same tokens). A completion whose answer is not complete within B tokens is wrong."""
    ids = samples.completion_ids
    cut = [i if budget is None or len(i) <= budget else i[:budget] for i in ids]
    texts = list(samples.text)
    redo = [r for r, (a, b) in enumerate(zip(ids, cut)) if len(a) != len(b)]
    if redo:
        dec = tokenizer.batch_decode([cut[r] for r in redo], skip_special_tokens=True)
        for r, t in zip(redo, dec):
            texts[r] = samples.prefix + t
    n = samples.n
    correct, answers, tokens, out_texts = [], [], [], []
    for p, prob in enumerate(samples.problems):
        row_c, row_a = [], []
        for t in texts[p * n:(p + 1) * n]:
            v = task.verify(prob, t)
            row_c.append(bool(v.correct))
            row_a.append(answer_key(task, v.parsed))
        correct.append(row_c)
        answers.append(row_a)
        tokens.append([len(c) for c in cut[p * n:(p + 1) * n]])
        out_texts.append(texts[p * n:(p + 1) * n])
    return Scored(correct, answers, tokens, out_texts)


def by_difficulty(problems, correct: list[bool], lengths: list[int]) -> dict:
    """{difficulty: {accuracy, mean_tokens, n}}, in difficulty order."""
    groups: dict = {}
    for p, ok, n in zip(problems, correct, lengths):
        groups.setdefault(p.difficulty, []).append((ok, n))
    return {d: {"accuracy": sum(o for o, _ in v) / len(v), "mean_tokens": sum(n for _, n in v) / len(v),
                "n": len(v)} for d, v in sorted(groups.items())}


def validation_figures(model, tokenizer, task, problems, sampling: SamplingConfig, greedy: bool = True,
                       world: World = World(), per_problem_seeds: bool = False, episodes=None) -> dict:
    """Validation figures: accuracy at the sampling temperature (and greedy), length, styles, by difficulty.
    Under torchrun each rank samples its share of the problems (each with a seed of its own with
    ``per_problem_seeds``) and the results are gathered. ``episodes``: validate with the run's tools or
    environment, as it trains."""
    out = {}
    mine = share(len(problems), world)
    modes = [("", sampling.temperature)] + ([("_greedy", 0.0)] if greedy else [])
    for suffix, temp in modes:
        s = SamplingConfig(**{**sampling.__dict__, "temperature": temp})
        seeds = [group_seed(s.seed, i) for i in mine] if per_problem_seeds else None
        texts, correct, lengths = (gather(x, world) for x in sample_once(
            model, tokenizer, task, [problems[i] for i in mine], s, seeds=seeds, episodes=episodes))
        out[f"eval/accuracy{suffix}"] = sum(correct) / len(problems)
        out[f"eval/mean_tokens{suffix}"] = sum(lengths) / len(problems)
        if not suffix:
            out.update({f"eval/{k}": v for k, v in behaviour(task, texts, correct).items()})
            for d, v in by_difficulty(problems, correct, lengths).items():
                out[f"eval/accuracy_d{d}"] = v["accuracy"]
                out[f"eval/mean_tokens_d{d}"] = v["mean_tokens"]
    return out
