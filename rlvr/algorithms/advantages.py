"""Advantage estimators: ``(rewards[B], group[B], cfg) -> advantages[B]``, one registry.

``group[i]`` is the index of the prompt that rollout i answers; a group is the K rollouts of one prompt.
Pure tensor functions, no state.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class AdvantageConfig:
    estimator: str = "grpo"
    """Which estimator: grpo (group z-score) or dr_grpo (group mean removed, no std division)."""
    eps: float = 1e-6
    """Added to the group std before dividing (grpo)."""

    def check(self) -> None:
        """Choices and ranges of every field (``config.validate``)."""
        from ..config import require_choice, require_number

        require_choice(self.estimator, ADVANTAGES, "estimator")
        require_number(self.eps, "eps", 0, low_open=True, fix="e.g. 1e-6")


def _group_stats(rewards: torch.Tensor, group: torch.Tensor):
    """Per-rollout mean and (population) std of its group's rewards."""
    _, inv, counts = torch.unique(group, return_inverse=True, return_counts=True)
    sums = torch.zeros(len(counts), dtype=rewards.dtype).index_add_(0, inv, rewards)
    mean = (sums / counts)[inv]                                                # [B]
    sq = torch.zeros(len(counts), dtype=rewards.dtype).index_add_(0, inv, (rewards - mean) ** 2)
    std = (sq / counts).sqrt()[inv]                                            # [B]
    return mean, std


def grpo(rewards: torch.Tensor, group: torch.Tensor, cfg: AdvantageConfig) -> torch.Tensor:
    """DeepSeekMath/R1: A_i = (r_i - mean(r_group)) / (std(r_group) + eps); zero-spread groups give 0."""
    mean, std = _group_stats(rewards, group)
    return (rewards - mean) / (std + cfg.eps)


def dr_grpo(rewards: torch.Tensor, group: torch.Tensor, cfg: AdvantageConfig) -> torch.Tensor:
    """Dr. GRPO (Liu et al. 2025): A_i = r_i - mean(r_group), no std division (no difficulty bias)."""
    mean, _ = _group_stats(rewards, group)
    return rewards - mean


ADVANTAGES = {"grpo": grpo, "dr_grpo": dr_grpo}


def compute_advantages(rewards: torch.Tensor, group: torch.Tensor, cfg: AdvantageConfig) -> torch.Tensor:
    if cfg.estimator not in ADVANTAGES:
        raise ValueError(f"unknown advantage estimator {cfg.estimator!r}; known: {', '.join(ADVANTAGES)}")
    return ADVANTAGES[cfg.estimator](rewards.float(), group, cfg)


def zero_variance_groups(rewards: torch.Tensor, group: torch.Tensor) -> tuple[int, int]:
    """(groups whose rewards all agree, all groups): the groups that carry no learning signal."""
    _, std = _group_stats(rewards.float(), group)
    ids = torch.unique(group)
    flat = sum(int(std[group == g][0] == 0) for g in ids)
    return flat, len(ids)
