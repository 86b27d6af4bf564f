"""Policy losses: ``(logp, old_logp, ref_logp, adv, mask, cfg, max_tokens) -> (loss, metrics)``, one registry.

Tensors are per token: ``logp`` [B, T] under the policy being trained, ``old_logp`` [B, T] under the
policy that sampled, ``ref_logp`` [B, T] under the frozen reference (or None when beta = 0), ``adv`` [B]
one advantage per sequence (or [B, T] one per token), ``mask`` [B, T] 1 on completion tokens;
``max_tokens`` is the run's token budget (``sampling.max_new_tokens``), the constant normaliser of Dr.
GRPO's aggregation. The aggregation over tokens is a separate named function,
``(x, mask, max_tokens) -> scalar``. A config names a built-in loss or a user's own function by dotted
path (``my_pkg.losses:my_loss``; ``rlvr.registry``).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..config import ConfigError, require_choice, require_number
from ..registry import Registry


@dataclass
class LossConfig:
    loss: str = "ppo_clip"
    """Policy loss: ppo_clip (token-level ratio, PPO/GRPO/DAPO) or gspo (sequence-level ratio, GSPO)."""
    epsilon_low: float = 0.2
    """Lower clip range of the token ratio: the ratio is clipped at 1 - epsilon_low (ppo_clip)."""
    epsilon_high: float = 0.2
    """Upper clip range of the token ratio: 1 + epsilon_high (DAPO clip-higher: 0.28) (ppo_clip)."""
    dual_clip: float = 0.0
    """Dual clip (Ye et al. 2020): for A < 0 the per-token loss is capped at -dual_clip * A; 0 is off, 3 usual."""
    gspo_epsilon_low: float = 3e-4
    """Lower clip range of GSPO's length-normalised sequence ratio (gspo)."""
    gspo_epsilon_high: float = 4e-4
    """Upper clip range of GSPO's length-normalised sequence ratio (gspo)."""
    beta: float = 0.0
    """KL coefficient to the frozen reference; 0 loads no reference model."""
    kl_estimator: str = "k3"
    """KL estimator: k1, k2 or k3 (Schulman 2020)."""
    kl_in_reward: bool = False
    """Fold the KL into the reward (r - beta * sum_t KL_t, RLOO / REINFORCE++ style) instead of the loss."""
    aggregation: str = "token-mean"
    """How per-token terms become one number: token-mean, seq-mean-token-mean, seq-mean-token-sum-norm."""
    tis_cap: float = 0.0
    """Truncated importance sampling cap C (0: off): each token's policy-gradient term is weighted by
    min(exp(logp_trainer - logp_sampler), C), correcting for a sampler (vLLM) and a trainer that compute
    the same policy differently (Yao et al. 2025, "Your Efficient RL Framework Secretly Brings You
    Off-Policy RL Training"); the mismatch is logged (rollout/mismatch_kl, rollout/tis_truncated)."""
    entropy_coef: float = 0.0
    """Entropy bonus coefficient (entropy is logged either way); a negative value minimises the entropy
    instead, sharpening the sampling distribution towards its mode (Agarwal et al. 2025, "The
    Unreasonable Effectiveness of Entropy Minimization in LLM Reasoning")."""

    def check(self) -> None:
        """Choices and ranges of every field (``config.validate``)."""
        POLICY_LOSSES.check(self.loss, "loss")
        require_choice(self.kl_estimator, ("k1", "k2", "k3"), "kl_estimator")
        AGGREGATIONS.check(self.aggregation, "aggregation")
        require_number(self.epsilon_low, "epsilon_low", 0, 1, low_open=True, fix="the usual clip range is 0.2")
        require_number(self.epsilon_high, "epsilon_high", 0, 1, low_open=True, fix="0.2; DAPO's clip-higher uses 0.28")
        require_number(self.dual_clip, "dual_clip", 0, fix="0 turns it off; 3 is usual")
        if 0 < self.dual_clip <= 1:
            raise ConfigError("dual_clip", f"is {self.dual_clip}", "use 0 (off) or a value above 1, e.g. 3")
        require_number(self.beta, "beta", 0, fix="0 turns the KL term off")
        require_number(self.tis_cap, "tis_cap", 0, fix="0 turns it off; 2 is usual")
        if self.tis_cap:
            require_choice(self.loss, ("ppo_clip",), "loss")
        require_number(self.entropy_coef, "entropy_coef", -1, 1,
                       fix="0 turns the entropy term off; a bonus is usually 0.001-0.01")


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
def token_mean(x: torch.Tensor, mask: torch.Tensor, max_tokens: int) -> torch.Tensor:
    """Mean over every completion token of the batch (DAPO, Yu et al. 2025; TRL's ``bnpo``/``dapo``).

    Length bias: none per token (every token weighs the same); a long sequence weighs more in the total
    than a short one, in proportion to its length, and the normaliser depends on the batch's lengths."""
    return (x * mask).sum() / mask.sum().clamp(min=1)


def seq_mean_token_mean(x: torch.Tensor, mask: torch.Tensor, max_tokens: int) -> torch.Tensor:
    """Mean over tokens within a sequence, then over sequences (GRPO as in DeepSeekMath; TRL's ``grpo``).

    Length bias: each sequence weighs the same, so a token of a short sequence weighs more than one of a
    long sequence: short right answers are pushed up hard, long wrong answers pushed down softly, which
    lets wrong answers grow long (Liu et al. 2025)."""
    per_seq = (x * mask).sum(-1) / mask.sum(-1).clamp(min=1)                  # [B]
    return per_seq.mean()


def seq_mean_token_sum_norm(x: torch.Tensor, mask: torch.Tensor, max_tokens: int) -> torch.Tensor:
    """Sum over tokens divided by a constant (the token budget ``max_tokens``), mean over sequences
    (Dr. GRPO, Liu et al. 2025; TRL's ``dr_grpo``).

    Length bias: none; every token weighs 1 / (B * max_tokens) whatever its sequence's length or the
    batch's lengths, so the objective is the unbiased policy gradient up to a constant."""
    return ((x * mask).sum(-1) / max_tokens).mean()


AGGREGATIONS = Registry("aggregation", {"token-mean": token_mean, "seq-mean-token-mean": seq_mean_token_mean,
                                         "seq-mean-token-sum-norm": seq_mean_token_sum_norm})


def _aggregation(cfg: LossConfig):
    return AGGREGATIONS.get(cfg.aggregation)


def _per_token_adv(adv: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Advantages as [B, T]: one per sequence ([B]) broadcast, or one per token ([B, T']) cut/padded to T."""
    if adv.dim() == 1:
        return adv[:, None].to(like.dtype).expand_as(like)
    T = like.size(1)
    out = torch.zeros_like(like)
    n = min(T, adv.size(1))
    out[:, :n] = adv[:, :n]
    return out


def _clipped_surrogate(ratio, a, low: float, high: float, dual_clip: float):
    """-min(ratio A, clip(ratio, 1 - low, 1 + high) A), with the dual clip cap on A < 0 when dual_clip > 1.
    Returns (per-token loss, mask of the entries where a clip decided the value)."""
    unclipped = -ratio * a
    clipped = -torch.clamp(ratio, 1 - low, 1 + high) * a
    pg = torch.maximum(unclipped, clipped)
    was_clipped = clipped > unclipped
    if dual_clip > 1:
        cap = -dual_clip * a
        capped = (a < 0) & (pg > cap)
        pg = torch.where(capped, cap, pg)
        was_clipped = was_clipped | capped
    return pg, was_clipped


def _finish(pg, was_clipped, logp, old_logp, ref_logp, mask, cfg: LossConfig, max_tokens: int):
    """Aggregate the surrogate, add beta * KL (unless it is folded into the reward), collect metrics."""
    agg = _aggregation(cfg)
    loss = agg(pg, mask, max_tokens)
    metrics = {}
    with torch.no_grad():
        metrics["loss/clip_fraction"] = float(token_mean(was_clipped.expand_as(mask).to(mask.dtype), mask, max_tokens))
        metrics["loss/approx_kl_old"] = float(token_mean(0.5 * (logp - old_logp) ** 2, mask, max_tokens))
        metrics["loss/policy"] = float(loss.detach())
    if ref_logp is not None and cfg.beta > 0 and not cfg.kl_in_reward:
        kl = kl_estimate(logp, ref_logp, cfg.kl_estimator)
        kl_term = agg(kl, mask, max_tokens)
        loss = loss + cfg.beta * kl_term
        metrics["loss/kl_ref"] = float(kl_term.detach())
    return loss, metrics


# ------------------------------------------------------------------- losses
def ppo_clip(logp, old_logp, ref_logp, adv, mask, cfg: LossConfig, max_tokens: int):
    """PPO clipped surrogate per token (Schulman et al. 2017) with the ratio to the sampling policy, as
    in GRPO (Shao et al. 2024), with DAPO's decoupled clip range (Yu et al. 2025, clip-higher 0.2 / 0.28)
    and an optional dual clip (Ye et al. 2020), plus beta * KL to the reference:

    loss_t = -min(ratio_t A_t, clip(ratio_t, 1 - eps_low, 1 + eps_high) A_t) + beta KL_t,
    capped at -dual_clip A_t when A_t < 0 and dual_clip > 1.
    ``adv`` is [B] (one per sequence) or [B, T] (one per token)."""
    mask = mask.to(logp.dtype)
    ratio = torch.exp(logp - old_logp)                                         # [B, T]
    a = _per_token_adv(adv, logp)                                              # [B, T]
    pg, was_clipped = _clipped_surrogate(ratio, a, cfg.epsilon_low, cfg.epsilon_high, cfg.dual_clip)
    return _finish(pg, was_clipped, logp, old_logp, ref_logp, mask, cfg, max_tokens)


def gspo(logp, old_logp, ref_logp, adv, mask, cfg: LossConfig, max_tokens: int):
    """GSPO (Zheng et al. 2025, "Group Sequence Policy Optimization"): one importance ratio per sequence,
    the length-normalised s_i = exp(mean_t(logp_t - old_logp_t)) = (pi(y|x) / pi_old(y|x))^(1/|y|),
    clipped in its own small range [1 - gspo_epsilon_low, 1 + gspo_epsilon_high]:

    loss_i = -min(s_i A_i, clip(s_i) A_i), the same value on each token of sequence i, then aggregated
    (GSPO's paper: seq-mean-token-mean, where it is the mean over sequences), plus beta * KL."""
    mask = mask.to(logp.dtype)
    log_s = ((logp - old_logp) * mask).sum(-1) / mask.sum(-1).clamp(min=1)     # [B]
    s = torch.exp(log_s)[:, None]                                              # [B, 1]
    a = adv if adv.dim() == 1 else (adv * mask).sum(-1) / mask.sum(-1).clamp(min=1)
    pg, was_clipped = _clipped_surrogate(s, a[:, None].to(logp.dtype), cfg.gspo_epsilon_low,
                                         cfg.gspo_epsilon_high, cfg.dual_clip)  # [B, 1]
    return _finish(pg.expand_as(logp), was_clipped, logp, old_logp, ref_logp, mask, cfg, max_tokens)


POLICY_LOSSES = Registry("policy loss", {"ppo_clip": ppo_clip, "gspo": gspo})


def policy_loss(logp, old_logp, ref_logp, adv, mask, cfg: LossConfig, max_tokens: int):
    """The configured policy loss (a built-in name or a dotted path) on these tensors."""
    return POLICY_LOSSES.get(cfg.loss)(logp, old_logp, ref_logp, adv, mask, cfg, max_tokens)


def entropy_bonus(entropy: torch.Tensor, mask: torch.Tensor, cfg: LossConfig, max_tokens: int) -> torch.Tensor:
    """The term subtracted from the loss: entropy_coef times the entropy aggregated like the loss."""
    return cfg.entropy_coef * _aggregation(cfg)(entropy, mask.to(entropy.dtype), max_tokens)


def kl_reward_penalty(logp: torch.Tensor, ref_logp: torch.Tensor, mask: torch.Tensor,
                      cfg: LossConfig) -> torch.Tensor:
    """The KL folded into the reward (RLOO, Ahmadian et al. 2024; REINFORCE++, Hu 2025): beta times the
    sequence's summed per-token KL estimate, [B], to subtract from each rollout's reward."""
    kl = kl_estimate(logp, ref_logp, cfg.kl_estimator)                          # [B, T]
    return cfg.beta * (kl * mask.to(kl.dtype)).sum(-1)


def microbatch_weight(aggregation: str, mask_mb: torch.Tensor, mask_all: torch.Tensor) -> float:
    """The share of the whole batch's loss that one microbatch's aggregated loss stands for, so that
    gradient accumulation over microbatches equals one pass over the batch."""
    if aggregation == "token-mean":
        return float(mask_mb.sum() / mask_all.sum().clamp(min=1))
    return mask_mb.size(0) / mask_all.size(0)
