"""Step 5 of the GRPO loop: the policy update over one batch of scored rollouts.

``policy_update`` makes ``num_iterations`` passes over the rollouts in microbatches: the policy's
log-probs at the sampling temperature (``forward.completion_logprobs``), the registry's policy loss
against the sampling log-probs (and the reference's, for a KL term in the loss), an entropy bonus,
gradient accumulation with each microbatch weighted by its share of the aggregation, clipping, AdamW.
"""
from __future__ import annotations

import functools

import torch

from ..algorithms.losses import entropy_bonus, microbatch_weight, policy_loss
from .forward import completion_logprobs
from ..distributed import World, any_rank, max_value, share, sum_grads, sum_values
from .policy import as_reference, trainable
from .sharding import is_sharded, start_microbatch, summed_grads


def update_rows(adv: torch.Tensor, lengths: list[int], needs_all: bool, keep: torch.Tensor | None = None) -> list[int]:
    """The rollouts an update pass must run through the model, shortest first.

    With no KL term and no entropy bonus, a rollout whose advantage is 0 (every member of a group with
    no reward spread; ``adv`` may be [B] or per token [B, T]) adds exactly nothing to the loss or its
    gradient, so it is skipped; so is a rollout left out of the loss (``keep`` 0, DAPO overlong
    filtering). The loss is still normalised over the whole batch (``microbatch_weight`` uses every
    rollout's mask), so the update is the same as a pass over all rollouts. Sorting by length makes
    microbatches pad little. Loss metrics (clip fraction, entropy) are then averages over those rows."""
    nonzero = adv.reshape(len(lengths), -1).abs().sum(-1) != 0                 # [B]
    rows = [i for i in range(len(lengths)) if (needs_all or bool(nonzero[i]))
            and (keep is None or float(keep[i]) != 0.0)]
    return sorted(rows, key=lambda i: (lengths[i], i))


def own_tokens(ro, width: int, rows: list[int] | None = None) -> torch.Tensor:
    """[len(rows), width] (every rollout without ``rows``): 1 on the policy's own completion tokens, 0 on
    an environment's (a tool's output, in multi-turn rollouts: ``Rollouts.action_mask``) and on padding.
    Only own tokens enter the loss, the KL and the log-prob ratios."""
    rows = range(len(ro.completion_ids)) if rows is None else rows
    if ro.action_mask is None:
        return pad_rows([[1.0] * len(ro.completion_ids[i]) for i in rows], width)
    return pad_rows([ro.action_mask[i] for i in rows], width)


def pad_rows(rows: list[list[float]], width: int) -> torch.Tensor:
    """Ragged rows as a zero-padded [len(rows), width] tensor."""
    out = torch.zeros((len(rows), width))
    for i, r in enumerate(rows):
        out[i, :len(r)] = torch.tensor(r)
    return out


def _scorer(model):
    """``completion_logprobs`` of ``model`` without the model argument (under FSDP the root's own forward)."""
    return model if is_sharded(model) else functools.partial(completion_logprobs, model)


def _microbatch(model, ref, ro, sl: list[int], adv, old_all, mask_all, cfg, pad_id: int, kl_in_loss: bool):
    """(loss, metrics, mask) of rollouts ``sl``; ``mask_all`` [B, Tc] is 1 on the tokens the loss counts."""
    pids, cids = [ro.prompt_ids[i] for i in sl], [ro.completion_ids[i] for i in sl]
    temp = cfg.sampling.temperature
    score = _scorer(model)
    logp, ent, mask = score(pids, cids, pad_id, temp)                          # [b, t]
    mask = mask * mask_all[sl, :mask.size(1)]
    ref_logp = None
    if kl_in_loss:
        with torch.no_grad(), as_reference(ref) as reference:
            ref_logp, _, _ = completion_logprobs(reference, pids, cids, pad_id, temp, entropy=False)
    loss, m = policy_loss(logp, old_all[sl, :logp.size(1)], ref_logp, adv[sl], mask, cfg.loss, cfg.sampling.max_new_tokens)
    if cfg.loss.entropy_coef:
        loss = loss - entropy_bonus(ent, mask, cfg.loss, cfg.sampling.max_new_tokens)
    m["loss/entropy"] = float((ent.detach() * mask).sum() / mask.sum().clamp(min=1))
    m["loss/total"] = float(loss.detach())
    return loss, m, mask


def _accumulate(model, ref, ro, batches: list, adv, old_all, mask_all, cfg, pad_id: int, kl_in_loss: bool,
                stats: dict) -> bool:
    """One pass of microbatch forwards and backwards (gradients accumulate); False when a loss was not
    finite. A ``None`` microbatch is an empty one (FSDP: every rank runs as many): rollout 0 with weight 0."""
    sharded, finite = is_sharded(model), True
    for k, sl in enumerate(batches):
        if sharded:
            start_microbatch(model, k, len(batches))
        loss, m, mask = _microbatch(model, ref, ro, sl or [0], adv, old_all, mask_all, cfg, pad_id, kl_in_loss)
        w = 0.0 if sl is None else microbatch_weight(cfg.loss.aggregation, mask, mask_all)
        if sl is not None:
            for key, v in m.items():
                stats[key] = stats.get(key, 0.0) + v * w / cfg.num_iterations
        finite = finite and bool(torch.isfinite(loss))
        if not finite and not sharded:        # (FSDP runs on: every rank must call the same collectives)
            break
        (loss * w).backward()
    return finite


def sampler_correction(model, ro, batches: list, old_all, adv, mask_all, cfg, pad_id: int, world: World):
    """Truncated importance sampling (``loss.tis_cap`` = C > 0): the trainer's own log-probs of the sampled
    tokens become the old policy's, and each token's advantage is weighted by min(exp(logp_trainer -
    logp_sampler), C), which weights its policy-gradient term (exactly, for ppo_clip). Returns (old log-probs
    [B, Tc], advantages [B, Tc], metrics: the mean KL(sampler || trainer) per token (k3) and the share of
    tokens whose weight was truncated, over the whole batch)."""
    score = _scorer(model)
    train = old_all.clone()
    mine = torch.zeros_like(mask_all)
    with torch.no_grad():
        for sl in batches:                            # the update's microbatches (FSDP: as many on every rank)
            lp, _, _ = score([ro.prompt_ids[i] for i in sl or [0]], [ro.completion_ids[i] for i in sl or [0]],
                             pad_id, cfg.sampling.temperature, False)
            if sl is not None:
                train[sl, :lp.size(1)], mine[sl] = lp, mask_all[sl]
    log_ratio = train - old_all                                                # trainer minus sampler
    weight = log_ratio.exp().clamp(max=cfg.loss.tis_cap) if cfg.loss.tis_cap > 0 else torch.ones_like(log_ratio)
    per_token = adv[:, None].expand_as(weight) if adv.dim() == 1 else adv[:, :weight.size(1)]
    k3 = log_ratio.exp() - 1 - log_ratio                                      # KL(sampler || trainer), k3
    cut = (log_ratio.exp() > cfg.loss.tis_cap).float() if cfg.loss.tis_cap > 0 else torch.zeros_like(log_ratio)
    sums = sum_values({"kl": float((k3 * mine).sum()), "cut": float((cut * mine).sum()), "n": float(mine.sum())}, world)
    n = max(sums["n"], 1.0)
    return train, per_token * weight, {"rollout/mismatch_kl": sums["kl"] / n, "rollout/tis_truncated": sums["cut"] / n}


def policy_update(model, ref, opt, ro, adv: torch.Tensor, cfg, pad_id: int, keep: torch.Tensor | None = None,
                  world: World = World()):
    """``num_iterations`` passes of microbatched policy-loss updates over the rollouts (``cfg`` is the
    GRPOConfig); ``keep`` [B] leaves rollouts out of the loss (0: DAPO overlong filtering). Under torchrun
    each rank runs its share of the groups, the loss normalised over the whole batch, and the gradients
    and metrics are summed over ranks (``rlvr/distributed.py``).

    Returns (metrics, gradient norm, cause): ``cause`` is None for a good step, or why the step was
    skipped ("non-finite loss", "non-finite gradient"): the gradients are zeroed and ``opt.step()`` is not
    called for that pass or any after it, so the weights and optimizer state stay as the last finite
    pass left them (with ``num_iterations = 1``, as they were before the step)."""
    Tc = max(len(c) for c in ro.completion_ids)
    dev = next(model.parameters()).device
    keep = (torch.ones(len(ro)) if keep is None else keep).to(dev)            # [B]
    old_all = pad_rows(ro.logprobs, Tc).to(dev)                               # [B, Tc]
    mask_all = own_tokens(ro, Tc).to(dev) * keep[:, None]                     # [B, Tc] the tokens the loss counts
    adv = adv.to(dev)
    kl_in_loss = ref is not None and not cfg.loss.kl_in_reward
    model.train()
    stats: dict = {}
    gnorm = torch.tensor(0.0)
    mine = set(share(len(ro.prompts), world))                                 # this rank's groups
    rows = [i for i in update_rows(adv, [len(p) + len(c) for p, c in zip(ro.prompt_ids, ro.completion_ids)],
                                   needs_all=kl_in_loss or bool(cfg.loss.entropy_coef), keep=keep)
            if ro.group[i] in mine]
    batches = [rows[s:s + cfg.microbatch_size] for s in range(0, len(rows), cfg.microbatch_size)]
    if is_sharded(model):                                                     # as many forwards on every rank
        batches += [None] * (max_value(len(batches), world) - len(batches))
    tis = {}
    if cfg.loss.tis_cap > 0 or cfg.rollout.backend != "hf":                  # sampler and trainer differ
        corrected = sampler_correction(model, ro, batches, old_all, adv, mask_all, cfg, pad_id, world)
        old_all, adv = corrected[:2] if cfg.loss.tis_cap > 0 else (old_all, adv)
        tis = corrected[2]
    for _ in range(cfg.num_iterations):
        opt.zero_grad(set_to_none=True)
        finite = _accumulate(model, ref, ro, batches, adv, old_all, mask_all, cfg, pad_id, kl_in_loss, stats)
        if any_rank(not finite, world):
            opt.zero_grad(set_to_none=True)
            return sum_values(stats, world), float("nan"), "non-finite loss"
        if is_sharded(model):                                                 # the whole batch's gradient
            summed_grads(model, world.size)
        else:
            sum_grads(trainable(model), world)
        gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        gnorm = gnorm.full_tensor() if hasattr(gnorm, "full_tensor") else gnorm
        if not torch.isfinite(gnorm):
            opt.zero_grad(set_to_none=True)
            return sum_values(stats, world), float(gnorm), "non-finite gradient"
        opt.step()
    return {**sum_values(stats, world), **tis}, float(gnorm), None
