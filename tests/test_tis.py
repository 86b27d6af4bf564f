"""Truncated importance sampling between a sampler and the trainer (loss.tis_cap)."""
import copy
import math

import pytest
import torch

from rlvr.algorithms.losses import LossConfig
from rlvr.config import ConfigError, validate
from rlvr.rollout import SamplingConfig, generate
from rlvr.train.forward import completion_logprobs
from rlvr.train.grpo import GRPOConfig
from rlvr.train.update import pad_rows, policy_update


def _cfg(tis_cap: float) -> GRPOConfig:
    return GRPOConfig(loss=LossConfig(tis_cap=tis_cap), sampling=SamplingConfig(max_new_tokens=12), lr=1e-2)


def _update(model, ro, adv, cfg, pad):
    m = copy.deepcopy(model)
    opt = torch.optim.AdamW(m.parameters(), lr=cfg.lr)
    stats, _, bad = policy_update(m, None, opt, ro, adv, cfg, pad)
    assert bad is None
    return m, stats


@pytest.fixture(scope="module")
def rollouts(tiny_model, world_tokenizer):
    return generate(tiny_model, world_tokenizer, ["12+34=\n", "1234+4321=\n"], n=3,
                    sampling=SamplingConfig(max_new_tokens=12, seed=2))


def test_with_the_same_policy_tis_changes_nothing(tiny_model, world_tokenizer, rollouts):
    adv = torch.tensor([1.0, -0.5, -0.5, 0.7, 0.1, -0.8])
    pad = world_tokenizer.pad_token_id
    plain, _ = _update(tiny_model, rollouts, adv, _cfg(0.0), pad)
    tis, stats = _update(tiny_model, rollouts, adv, _cfg(2.0), pad)
    assert abs(stats["rollout/mismatch_kl"]) < 1e-6 and stats["rollout/tis_truncated"] == 0.0
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(plain.parameters(), tis.parameters()))


def test_tis_weights_each_token_by_the_truncated_ratio(tiny_model, world_tokenizer, rollouts):
    """A sampler that put 1.0 less log-prob on every third token: those tokens weigh min(e, 2) = 2; the update
    equals a plain one with the trainer's log-probs as the old ones and the advantages so weighted."""
    pad = world_tokenizer.pad_token_id
    adv = torch.tensor([1.0, -0.5, -0.5, 0.7, 0.1, -0.8])
    with torch.no_grad():
        train, _, mask = completion_logprobs(tiny_model, rollouts.prompt_ids, rollouts.completion_ids, pad)
    shift = torch.zeros_like(train)
    shift[:, ::3] = 1.0
    skewed = copy.copy(rollouts)
    skewed.logprobs = [(train[i, :len(c)] - shift[i, :len(c)]).tolist() for i, c in enumerate(rollouts.completion_ids)]
    tis, stats = _update(tiny_model, skewed, adv, _cfg(2.0), pad)
    n = float(mask.sum())
    assert stats["rollout/tis_truncated"] == pytest.approx(float((shift * mask).sum()) / n)
    assert stats["rollout/mismatch_kl"] == pytest.approx((math.e - 2) * float((shift * mask).sum()) / n, abs=1e-6)
    exact = copy.copy(rollouts)
    exact.logprobs = [train[i, :len(c)].tolist() for i, c in enumerate(rollouts.completion_ids)]
    weighted = adv[:, None] * torch.where(shift > 0, 2.0, 1.0)
    reference, _ = _update(tiny_model, exact, weighted, _cfg(0.0), pad)
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(reference.parameters(), tis.parameters()))
    assert pad_rows(skewed.logprobs, train.size(1)).shape == train.shape


def test_tis_needs_the_token_level_clip():
    with pytest.raises(ConfigError, match="loss.loss"):
        validate(GRPOConfig(loss=LossConfig(loss="gspo", tis_cap=2.0)))
