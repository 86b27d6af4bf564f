"""Advantage estimators: ``(rewards[B], group[B], cfg, inputs) -> advantages``, one registry.

``group[i]`` is the index of the prompt that rollout i answers; a group is the K rollouts of one prompt.
Pure tensor functions, no state. Hyperparameters come in ``cfg``; the per-step tensors that a few
estimators need beside the rewards come in ``inputs`` (a dict), filled by the training loop from what an
estimator's ``needs`` attribute names:

- ``"greedy_rewards"`` [B]: the reward of the greedy completion of rollout i's prompt (``remax``);
- ``"values"`` [B, T] and ``"mask"`` [B, T]: a critic's value of each completion token and the
  completion mask (``ppo_gae``).

Every estimator returns one advantage per rollout, [B], except ``ppo_gae``, which returns one per token,
[B, T]; the policy losses take either. A config names a built-in estimator or a user's own function by
dotted path (``my_pkg.advantages:median_baseline``; ``rlvr.registry``).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..config import require_number
from ..registry import Registry


@dataclass
class AdvantageConfig:
    estimator: str = "grpo"
    """Which estimator: grpo, dr_grpo, rloo, reinforce_pp, reinforce_pp_baseline, remax, ppo_gae."""
    eps: float = 1e-6
    """Added to the std before dividing (grpo, reinforce_pp, reinforce_pp_baseline)."""
    gamma: float = 1.0
    """Discount of GAE (ppo_gae)."""
    lam: float = 0.95
    """GAE lambda (ppo_gae): 1 is the Monte Carlo return minus the value, 0 the one-step TD error."""

    def check(self) -> None:
        """Choices and ranges of every field (``config.validate``)."""
        ADVANTAGES.check(self.estimator, "estimator")
        require_number(self.eps, "eps", 0, low_open=True, fix="e.g. 1e-6")


def _group_stats(rewards: torch.Tensor, group: torch.Tensor):
    """Per-rollout mean, (population) std and size of its group's rewards."""
    _, inv, counts = torch.unique(group, return_inverse=True, return_counts=True)
    sums = torch.zeros(len(counts), dtype=rewards.dtype).index_add_(0, inv, rewards)
    mean = (sums / counts)[inv]                                                # [B]
    sq = torch.zeros(len(counts), dtype=rewards.dtype).index_add_(0, inv, (rewards - mean) ** 2)
    std = (sq / counts).sqrt()[inv]                                            # [B]
    return mean, std, counts[inv].to(rewards.dtype)


def grpo(rewards: torch.Tensor, group: torch.Tensor, cfg: AdvantageConfig, inputs: dict) -> torch.Tensor:
    """GRPO (Shao et al. 2024, DeepSeekMath; DeepSeek-R1 2025): the group z-score
    A_i = (r_i - mean(r_group)) / (std(r_group) + eps). Zero-spread groups (and a group of one) give 0."""
    mean, std, _ = _group_stats(rewards, group)
    return (rewards - mean) / (std + cfg.eps)


def dr_grpo(rewards: torch.Tensor, group: torch.Tensor, cfg: AdvantageConfig, inputs: dict) -> torch.Tensor:
    """Dr. GRPO (Liu et al. 2025, "Understanding R1-Zero-Like Training"): A_i = r_i - mean(r_group), no
    std division, which would weigh near-solved and near-hopeless prompts up (a difficulty bias)."""
    mean, _, _ = _group_stats(rewards, group)
    return rewards - mean


def rloo(rewards: torch.Tensor, group: torch.Tensor, cfg: AdvantageConfig, inputs: dict) -> torch.Tensor:
    """RLOO (Kool et al. 2019; Ahmadian et al. 2024, "Back to Basics"): the leave-one-out baseline,
    A_i = r_i - mean_{j != i} r_j = K/(K-1) (r_i - mean(r_group)). A group of one has no other member to
    compare with and gives 0."""
    mean, _, k = _group_stats(rewards, group)
    scale = torch.where(k > 1, k / (k - 1).clamp(min=1), torch.zeros_like(k))
    return scale * (rewards - mean)


def reinforce_pp(rewards: torch.Tensor, group: torch.Tensor, cfg: AdvantageConfig, inputs: dict) -> torch.Tensor:
    """REINFORCE++ (Hu 2025): no per-prompt baseline; the advantage is normalised over the whole batch,
    A_i = (r_i - mean(r_batch)) / (std(r_batch) + eps). ``group`` is not used."""
    return (rewards - rewards.mean()) / (rewards.std(unbiased=False) + cfg.eps)


def reinforce_pp_baseline(rewards: torch.Tensor, group: torch.Tensor, cfg: AdvantageConfig, inputs: dict) -> torch.Tensor:
    """REINFORCE++-baseline (Hu 2025): subtract the group mean, then divide by the std of those centred
    rewards over the whole batch, A_i = c_i / (std(c_batch) + eps) with c_i = r_i - mean(r_group).
    A zero-spread group still gives 0, and no group's own std scales its advantages."""
    c = dr_grpo(rewards, group, cfg, inputs)
    return c / (c.std(unbiased=False) + cfg.eps)


def remax(rewards: torch.Tensor, group: torch.Tensor, cfg: AdvantageConfig, inputs: dict) -> torch.Tensor:
    """ReMax (Li et al. 2023): the baseline is the reward of the greedy completion of the same prompt,
    A_i = r_i - r_greedy(prompt_i). Needs ``inputs["greedy_rewards"]`` [B]."""
    return rewards - inputs["greedy_rewards"].to(rewards.dtype)


remax.needs = ("greedy_rewards",)


def gae(token_rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float, lam: float):
    """Generalised advantage estimation (Schulman et al. 2016) over right-padded rows.

    delta_t = r_t + gamma V_{t+1} - V_t (V after the last token is 0); A_t = sum_l (gamma lam)^l delta_{t+l}.
    Returns (advantages, returns = advantages + values), both [B, T] and 0 on padding."""
    B, T = values.shape
    mask = mask.to(values.dtype)
    v = values * mask                                                          # [B, T]
    adv = torch.zeros_like(v)
    running = torch.zeros(B, dtype=v.dtype)                                    # [B]
    for t in reversed(range(T)):
        nxt = v[:, t + 1] if t + 1 < T else torch.zeros(B, dtype=v.dtype)
        delta = token_rewards[:, t] + gamma * nxt - v[:, t]
        running = (delta + gamma * lam * running) * mask[:, t]
        adv[:, t] = running
    return adv, (adv + v) * mask


def ppo_gae(rewards: torch.Tensor, group: torch.Tensor, cfg: AdvantageConfig, inputs: dict) -> torch.Tensor:
    """PPO with a learned critic (Schulman et al. 2017) and GAE: the outcome reward sits on the last
    completion token, and A_t comes from ``gae`` with a critic's values ``inputs["values"]`` [B, T]
    over ``inputs["mask"]`` [B, T]. Returns per-token advantages [B, T]; ``group`` is not used (PPO
    needs a value function; GRPO replaces it with the group's mean)."""
    values, mask = inputs["values"].to(rewards.dtype), inputs["mask"].to(rewards.dtype)
    last = (mask.sum(-1).long() - 1).clamp(min=0)                              # [B]
    token_rewards = torch.zeros_like(values)
    token_rewards[torch.arange(len(rewards)), last] = rewards * (mask.sum(-1) > 0)
    adv, _ = gae(token_rewards, values, mask, cfg.gamma, cfg.lam)
    return adv


ppo_gae.needs = ("values", "mask")


ADVANTAGES = Registry("advantage estimator", {
    "grpo": grpo, "dr_grpo": dr_grpo, "rloo": rloo, "reinforce_pp": reinforce_pp,
    "reinforce_pp_baseline": reinforce_pp_baseline, "remax": remax, "ppo_gae": ppo_gae})


def estimator_needs(name: str) -> tuple[str, ...]:
    """The per-step tensors estimator ``name`` reads from ``inputs``."""
    return getattr(ADVANTAGES.get(name), "needs", ())


def compute_advantages(rewards: torch.Tensor, group: torch.Tensor, cfg: AdvantageConfig,
                       inputs: dict | None = None) -> torch.Tensor:
    """The configured estimator's advantages; ``inputs`` holds the per-step tensors it ``needs``."""
    fn = ADVANTAGES.get(cfg.estimator)
    inputs = inputs or {}
    missing = [k for k in getattr(fn, "needs", ()) if k not in inputs]
    if missing:
        raise ValueError(f"advantage estimator {cfg.estimator!r} needs inputs[{', '.join(missing)}]")
    return fn(rewards.float(), group, cfg, inputs)


def zero_variance_groups(rewards: torch.Tensor, group: torch.Tensor) -> tuple[int, int]:
    """(groups whose rewards all agree, all groups): the groups that carry no learning signal."""
    _, std, _ = _group_stats(rewards.float(), group)
    ids = torch.unique(group)
    flat = sum(int(std[group == g][0] == 0) for g in ids)
    return flat, len(ids)


def stuck_groups(texts: list[str], correct: list[bool], group: list[int]) -> tuple[int, int]:
    """(groups whose rollouts are one and the same wrong completion, all groups): the policy has collapsed
    onto a single wrong answer there, so the group carries no signal and sampling it again finds nothing new
    (pass@k equals pass@1, both zero)."""
    members: dict[int, list[int]] = {}
    for i, g in enumerate(group):
        members.setdefault(g, []).append(i)
    stuck = sum(len({texts[i] for i in rows}) == 1 and not any(correct[i] for i in rows)
                for rows in members.values())
    return stuck, len(members)
