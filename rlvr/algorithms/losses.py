"""Policy losses: ``(logp, old_logp, ref_logp, adv, mask, cfg) -> (loss, metrics)``, one registry.

Tensors are per token: ``logp`` [B, T] under the policy being trained, ``old_logp`` [B, T] under the
policy that sampled, ``ref_logp`` [B, T] under the frozen reference (or None when beta = 0), ``adv`` [B]
one advantage per sequence, ``mask`` [B, T] 1 on completion tokens. The aggregation over tokens is a
separate named function.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class LossConfig:
    loss: str = "ppo_clip"
    """Policy loss: ppo_clip (token-level clipped surrogate)."""
    epsilon: float = 0.2
    """Clip range of the probability ratio (lower side, and upper side unless epsilon_high is set)."""
    epsilon_high: float = 0.0
    """Upper clip range (DAPO clip-higher uses 0.28); 0 means the same as epsilon."""
    beta: float = 0.0
    """KL coefficient to the frozen reference; 0 loads no reference model."""
    kl_estimator: str = "k3"
    """KL estimator: k1, k2 or k3 (Schulman 2020)."""
    aggregation: str = "token-mean"
    """How per-token terms become one number: token-mean, seq-mean-token-mean, seq-mean-token-sum-norm."""
    max_tokens: int = 512
    """The constant normaliser of seq-mean-token-sum-norm (Dr. GRPO): the generation budget."""
    entropy_coef: float = 0.0
    """Entropy bonus coefficient (entropy is logged either way)."""

    def check(self) -> None:
        """Choices and ranges of every field (``config.validate``)."""
        from ..config import require_choice, require_number

        require_choice(self.loss, POLICY_LOSSES, "loss")
        require_choice(self.kl_estimator, ("k1", "k2", "k3"), "kl_estimator")
        require_choice(self.aggregation, AGGREGATIONS, "aggregation")
        require_number(self.epsilon, "epsilon", 0, 1, low_open=True, fix="the usual clip range is 0.2")
        require_number(self.epsilon_high, "epsilon_high", 0, 1, fix="0 uses epsilon; DAPO uses 0.28")
        require_number(self.beta, "beta", 0, fix="0 turns the KL term off")
        require_number(self.max_tokens, "max_tokens", 1, fix="give the generation budget, e.g. 512")
        require_number(self.entropy_coef, "entropy_coef", 0, fix="0 turns the entropy bonus off")


def kl_estimate(logp: torch.Tensor, ref_logp: torch.Tensor, kind: str = "k3") -> torch.Tensor:
    """Per-token estimate of KL(policy || reference) from samples of the policy.

    k1 = log(p/q); k2 = (log(p/q))^2 / 2; k3 = exp(ref - logp) - (ref - logp) - 1 (non-negative, unbiased).
    """
    d = ref_logp - logp                                                        # log(q/p), [B, T]
    if kind == "k1":
        return -d
    if kind == "k2":
        return 0.5 * d ** 2
    if kind == "k3":
        return torch.exp(d) - d - 1
    raise ValueError(f"unknown KL estimator {kind!r}; known: k1, k2, k3")


# ------------------------------------------------------------------- aggregations
def token_mean(x: torch.Tensor, mask: torch.Tensor, cfg: LossConfig) -> torch.Tensor:
    """Mean over every completion token of the batch (DAPO). Long sequences weigh more, as tokens."""
    return (x * mask).sum() / mask.sum().clamp(min=1)


def seq_mean_token_mean(x: torch.Tensor, mask: torch.Tensor, cfg: LossConfig) -> torch.Tensor:
    """Mean over tokens within a sequence, then over sequences (GRPO as in DeepSeekMath). Each sequence
    weighs the same, so a token of a short sequence weighs more: a length bias that favours long wrong
    answers (Liu et al. 2025)."""
    per_seq = (x * mask).sum(-1) / mask.sum(-1).clamp(min=1)                  # [B]
    return per_seq.mean()


def seq_mean_token_sum_norm(x: torch.Tensor, mask: torch.Tensor, cfg: LossConfig) -> torch.Tensor:
    """Sum over tokens divided by a constant (the token budget), mean over sequences (Dr. GRPO):
    no length bias."""
    return ((x * mask).sum(-1) / cfg.max_tokens).mean()


AGGREGATIONS = {"token-mean": token_mean, "seq-mean-token-mean": seq_mean_token_mean,
                "seq-mean-token-sum-norm": seq_mean_token_sum_norm}


# ------------------------------------------------------------------- losses
def ppo_clip(logp, old_logp, ref_logp, adv, mask, cfg: LossConfig):
    """PPO clipped surrogate per token, ratio to the sampling policy, plus beta * KL to the reference.

    loss_t = -min(ratio_t * A, clip(ratio_t, 1 - eps_low, 1 + eps_high) * A) + beta * KL_t
    """
    if cfg.aggregation not in AGGREGATIONS:
        raise ValueError(f"unknown aggregation {cfg.aggregation!r}; known: {', '.join(AGGREGATIONS)}")
    agg = AGGREGATIONS[cfg.aggregation]
    mask = mask.to(logp.dtype)
    eps_high = cfg.epsilon_high or cfg.epsilon
    ratio = torch.exp(logp - old_logp)                                         # [B, T]
    a = adv[:, None]                                                           # [B, 1]
    unclipped = ratio * a
    clipped = torch.clamp(ratio, 1 - cfg.epsilon, 1 + eps_high) * a
    pg = -torch.minimum(unclipped, clipped)                                    # [B, T]
    loss = agg(pg, mask, cfg)
    metrics = {}
    with torch.no_grad():
        was_clipped = (clipped < unclipped).to(logp.dtype)                     # min took the clipped side
        metrics["loss/clip_fraction"] = float(token_mean(was_clipped, mask, cfg))
        metrics["loss/approx_kl_old"] = float(token_mean(0.5 * (logp - old_logp) ** 2, mask, cfg))
        metrics["loss/policy"] = float(loss.detach())
    if ref_logp is not None and cfg.beta > 0:
        kl = kl_estimate(logp, ref_logp, cfg.kl_estimator)
        kl_term = agg(kl, mask, cfg)
        loss = loss + cfg.beta * kl_term
        metrics["loss/kl_ref"] = float(kl_term.detach())
    return loss, metrics


POLICY_LOSSES = {"ppo_clip": ppo_clip}


def policy_loss(logp, old_logp, ref_logp, adv, mask, cfg: LossConfig):
    if cfg.loss not in POLICY_LOSSES:
        raise ValueError(f"unknown policy loss {cfg.loss!r}; known: {', '.join(POLICY_LOSSES)}")
    return POLICY_LOSSES[cfg.loss](logp, old_logp, ref_logp, adv, mask, cfg)


def microbatch_weight(aggregation: str, mask_mb: torch.Tensor, mask_all: torch.Tensor) -> float:
    """The share of the whole batch's loss that one microbatch's aggregated loss stands for, so that
    gradient accumulation over microbatches equals one pass over the batch."""
    if aggregation == "token-mean":
        return float(mask_mb.sum() / mask_all.sum().clamp(min=1))
    return mask_mb.size(0) / mask_all.size(0)
