"""Steps 1-3 of the GRPO loop: draw problems, sample groups, score them, keep the groups worth training on.

``sample_step`` draws ``prompts_per_step`` problems (from the task's own mix, or by difficulty from the
curriculum), samples ``group_size`` completions each, scores them (the weighted reward functions, plus
DAPO's soft overlong penalty when ``overlong_buffer`` > 0), and with dynamic sampling draws further rounds
until the batch is full of groups with reward spread (``fill_informative``). The curriculum learns from
every group drawn, kept or not. With neither option, it is one round, as the plain loop.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import torch

from ..algorithms.competence import Curriculum, CurriculumConfig, fill_informative, overlong_penalty
from ..prompts import prompt_texts
from ..rewards import Scorer
from ..rollout import Rollouts, SamplingConfig, generate
from ..rollout.episodes import run_episodes
from ..tools import tool_metrics
from ..distributed import World, gather, group_seed, group_seeds, share

ROUND_SEED_STRIDE = 10 ** 12   # round r > 0 of a step draws with seed + r * stride: never a step's own seed


@dataclass
class CompetenceConfig:
    dynamic_sampling: bool = False
    """DAPO dynamic sampling: drop zero-spread groups and draw more prompts until the batch is full."""
    max_extra_rounds: int = 4
    """Most extra sampling rounds per step (dynamic sampling); then zero-spread groups fill the batch."""
    curriculum: CurriculumConfig = field(default_factory=CurriculumConfig)
    """Adaptive curriculum over difficulties (pass rate in a target band)."""
    mask_truncated: bool = False
    """DAPO overlong filtering: completions cut by the token budget are left out of the loss."""
    overlong_buffer: int = 0
    """DAPO soft overlong punishment over the last this many tokens of the budget (0: off)."""


@dataclass
class StepBatch:
    problems: list
    ro: Rollouts
    rewards: list[float]
    parts: dict[str, list[float]]
    correct: list[bool]
    metrics: dict = field(default_factory=dict)


def _draw_problems(task, n: int, seed: int, curriculum: Curriculum | None):
    if curriculum is None:
        return task.problems("train", n, seed=seed)
    counts = Counter(curriculum.draw(n, seed))
    return [p for d in curriculum.rates if counts[d] for p in task.problems("train", counts[d], seed=seed,
                                                                            difficulty=d)]


def _rollouts(model, tokenizer, problems, group_size: int, sampling: SamplingConfig, seeds, episodes) -> Rollouts:
    """Plain sampling, or multi-turn episodes (``rollout.episodes.Episodes``)."""
    if episodes is None:
        return generate(model, tokenizer, prompt_texts(tokenizer, problems), n=group_size, sampling=sampling,
                        seeds=seeds)
    return run_episodes(model, tokenizer, problems, episodes.prompts(tokenizer, problems), group_size, sampling,
                        episodes.make, episodes.max_turns, seeds)


def _groups(model, tokenizer, task, problems, group_size: int, sampling: SamplingConfig, scorer: Scorer,
            overlong_buffer: int, verifier=None, seeds: list[int] | None = None, episodes=None) -> list[dict]:
    """Sample and score (the run's ``Scorer``, one call for the whole batch); one dict per problem holding
    its rollouts' rows. ``verifier`` (a VerifierPool) verifies in worker processes; without it the task
    verifies in this process. ``seeds``: one per problem (per-group sampling), or None (the batch's seed).
    ``episodes`` (``rollout.episodes.Episodes``) for multi-turn rollouts; an episode's own reward, when its
    environment gives one, replaces the reward functions' total."""
    ro = _rollouts(model, tokenizer, problems, group_size, sampling, seeds, episodes)
    groups = [{"problem": p, "rows": []} for p in problems]
    verdicts = verifier.verify_many([problems[g] for g in ro.group], ro.text) if verifier is not None \
        else [task.verify(problems[g], text) for g, text in zip(ro.group, ro.text)]
    rows = [problems[g] for g in ro.group]
    totals, parts = scorer(rows, [p.prompt for p in rows], ro.text, verdicts)
    for i, (g, verdict) in enumerate(zip(ro.group, verdicts)):
        total, each = totals[i], {k: v[i] for k, v in parts.items()}
        if ro.env_reward is not None and ro.env_reward[i] is not None:
            total, each = float(ro.env_reward[i]), {"environment": float(ro.env_reward[i])}
        if overlong_buffer:
            pen = overlong_penalty(len(ro.completion_ids[i]), sampling.max_new_tokens, overlong_buffer)
            total += pen
            each = {**each, "overlong": pen}
        groups[g]["rows"].append({"prompt_ids": ro.prompt_ids[i], "completion_ids": ro.completion_ids[i],
                                  "logprobs": ro.logprobs[i], "finish_reason": ro.finish_reason[i],
                                  "text": ro.text[i], "reward": total, "parts": each,
                                  "correct": verdict.correct,
                                  "action_mask": ro.action_mask[i] if ro.action_mask is not None else None,
                                  "turns": ro.turns[i] if ro.turns is not None else 1})
    return groups


def _merge(groups: list[dict]) -> StepBatch:
    rows = [(gi, r) for gi, g in enumerate(groups) for r in g["rows"]]
    ro = Rollouts(prompts=[g["problem"].prompt for g in groups],
                  prompt_ids=[r["prompt_ids"] for _, r in rows], completion_ids=[r["completion_ids"] for _, r in rows],
                  logprobs=[r["logprobs"] for _, r in rows], group=[gi for gi, _ in rows],
                  finish_reason=[r["finish_reason"] for _, r in rows], text=[r["text"] for _, r in rows])
    if any(r["action_mask"] is not None for _, r in rows):           # multi-turn
        ro.action_mask = [r["action_mask"] or [1] * len(r["completion_ids"]) for _, r in rows]
        ro.turns = [r["turns"] for _, r in rows]
    keys = list(dict.fromkeys(k for _, r in rows for k in r["parts"]))
    return StepBatch(problems=[g["problem"] for g in groups], ro=ro, rewards=[r["reward"] for _, r in rows],
                     parts={k: [r["parts"].get(k) for _, r in rows] for k in keys},
                     correct=[r["correct"] for _, r in rows])


def sample_step(model, tokenizer, task, cfg, step: int, curriculum: Curriculum | None,
                verifier=None, scorer: Scorer | None = None, world: World = World(), episodes=None) -> StepBatch:
    """The step's scored batch (``cfg`` is the GRPOConfig) and its sampling metrics; ``verifier``: the
    verifier pool, if any (see ``_groups``); ``scorer``: the run's reward functions (built from
    ``cfg.rewards`` when not given). Under torchrun each rank samples its share of every round's groups
    and the groups are gathered: every rank returns the whole batch (``rlvr/distributed.py``).
    ``episodes``: ``rollout.episodes.Episodes`` for multi-turn rollouts."""
    scorer = scorer if scorer is not None else Scorer(cfg.rewards)
    per_group = group_seeds(cfg.sampling_seeds, world)
    comp: CompetenceConfig = cfg.competence
    base = cfg.seed * 1_000_003 + step
    drawn_all: list[dict] = []

    def draw(r: int) -> list[dict]:
        seed = base + r * ROUND_SEED_STRIDE
        problems = _draw_problems(task, cfg.prompts_per_step, seed, curriculum)
        sampling = SamplingConfig(**{**cfg.sampling.__dict__, "seed": seed})
        mine = share(len(problems), world)
        seeds = [group_seed(seed, g) for g in mine] if per_group else None
        groups = _groups(model, tokenizer, task, [problems[g] for g in mine], cfg.group_size, sampling, scorer,
                         comp.overlong_buffer, verifier if verifier is not task else None, seeds, episodes)
        groups = gather(groups, world)
        drawn_all.extend(groups)
        return groups

    extra = comp.max_extra_rounds if comp.dynamic_sampling else 0
    want = cfg.prompts_per_step
    if comp.dynamic_sampling:
        kept, st = fill_informative(draw, lambda g: [r["reward"] for r in g["rows"]], want, extra)
    else:
        kept = draw(0)
        st = None
    batch = _merge(kept)
    if episodes is not None:
        batch.metrics.update(tool_metrics(batch.ro, episodes.format))
    if st is not None:
        batch.metrics.update({"rollout/sampling_rounds": st["rounds"], "rollout/prompts_drawn": st["drawn"],
                              "rollout/informative_groups": st["informative"] / want,
                              "rollout/prompts_drawn_per_kept_group": st["drawn_per_kept"]})
    if curriculum is not None:
        mix = Counter(p.difficulty for p in batch.problems)
        batch.metrics.update({f"curriculum/mix_d{d}": mix[d] / len(batch.problems) for d in curriculum.rates})
        curriculum.update([g["problem"].difficulty for g in drawn_all for _ in g["rows"]],
                          [r["correct"] for g in drawn_all for r in g["rows"]])
        batch.metrics.update({f"curriculum/pass_d{d}": r for d, r in curriculum.rates.items() if r is not None})
    return batch


def loss_row_keep(finish_reason: list[str], mask_truncated: bool) -> torch.Tensor:
    """1 per rollout that enters the loss, 0 for one cut by the budget when ``mask_truncated`` (DAPO)."""
    return torch.tensor([0.0 if mask_truncated and f == "length" else 1.0 for f in finish_reason])
