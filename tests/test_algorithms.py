import math

import pytest
import torch

from rlvr.algorithms.advantages import AdvantageConfig, compute_advantages, zero_variance_groups
from rlvr.algorithms.losses import LossConfig, kl_estimate, policy_loss


def test_grpo_advantages_exact():
    r = torch.tensor([1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0])
    g = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2])
    a = compute_advantages(r, g, AdvantageConfig(eps=0.0 + 1e-6))
    # group 0: mean .5, std .5 -> +-1; group 1: zero spread -> 0; group 2: mean .25, std sqrt(3)/4
    s = math.sqrt(3) / 4
    expect = [1, -1, -1, 1, 0, 0, 0, 0, -0.25 / s, -0.25 / s, -0.25 / s, 0.75 / s]
    assert torch.allclose(a, torch.tensor(expect), atol=1e-5)
    assert zero_variance_groups(r, g) == (1, 3)


def test_dr_grpo_and_unknown():
    r = torch.tensor([1.0, 0.0, 0.0, 0.0])
    g = torch.tensor([0, 0, 0, 0])
    a = compute_advantages(r, g, AdvantageConfig(estimator="dr_grpo"))
    assert torch.allclose(a, torch.tensor([0.75, -0.25, -0.25, -0.25]))
    with pytest.raises(ValueError, match="unknown advantage"):
        compute_advantages(r, g, AdvantageConfig(estimator="magic"))


def test_k3_nonnegative_and_zero_when_equal():
    logp = torch.randn(4, 7)
    ref = torch.randn(4, 7)
    assert (kl_estimate(logp, ref, "k3") >= 0).all()
    assert torch.allclose(kl_estimate(logp, logp, "k3"), torch.zeros(4, 7))
    assert kl_estimate(torch.tensor([0.0]), torch.tensor([math.log(0.5)]), "k3").item() == pytest.approx(
        0.5 - math.log(0.5) - 1)
    assert kl_estimate(torch.tensor([0.0]), torch.tensor([-1.0]), "k1").item() == pytest.approx(1.0)
    assert kl_estimate(torch.tensor([0.0]), torch.tensor([-1.0]), "k2").item() == pytest.approx(0.5)


def test_ppo_clip_exact_values_both_sides():
    old = torch.zeros(2, 3)
    # ratios: row 0 (adv +1): 1.5 (clipped at 1.2), 1.0, 0.5 (not clipped: min picks 0.5)
    # row 1 (adv -1): 1.5 (unclipped -1.5 is smaller -> -1.5), 1.0, 0.5 (clipped at 0.8 -> -0.8)
    logp = torch.log(torch.tensor([[1.5, 1.0, 0.5], [1.5, 1.0, 0.5]]))
    adv = torch.tensor([1.0, -1.0])
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]])
    loss, m = policy_loss(logp, old, None, adv, mask, LossConfig(epsilon_low=0.2))
    per_tok = torch.tensor([[-1.2, -1.0, -0.5], [1.5, 1.0, 0.8]])
    assert loss.item() == pytest.approx(float((per_tok * mask).sum() / 5))
    assert m["loss/clip_fraction"] == pytest.approx(1 / 5)
    # clip-higher: the upper bound moves to 1.28
    loss_h, _ = policy_loss(logp, old, None, adv, mask, LossConfig(epsilon_low=0.2, epsilon_high=0.28))
    per_tok[0, 0] = -1.28
    assert loss_h.item() == pytest.approx(float((per_tok * mask).sum() / 5))


def test_aggregations_differ_as_documented():
    x = torch.tensor([[1.0, 1.0, 1.0, 1.0], [3.0, 0.0, 0.0, 0.0]])
    mask = torch.tensor([[1, 1, 1, 1], [1, 0, 0, 0]])
    from rlvr.algorithms.losses import AGGREGATIONS

    cfg = LossConfig(max_tokens=4)
    assert AGGREGATIONS["token-mean"](x, mask, cfg).item() == pytest.approx(7 / 5)
    assert AGGREGATIONS["seq-mean-token-mean"](x, mask, cfg).item() == pytest.approx((1 + 3) / 2)
    assert AGGREGATIONS["seq-mean-token-sum-norm"](x, mask, cfg).item() == pytest.approx((4 / 4 + 3 / 4) / 2)


def test_kl_term_and_beta_zero():
    logp = torch.log(torch.tensor([[0.5, 0.5]]))
    ref = torch.log(torch.tensor([[0.25, 0.5]]))
    mask = torch.ones(1, 2)
    adv = torch.tensor([0.0])
    loss0, m0 = policy_loss(logp, logp.detach(), ref, adv, mask, LossConfig(beta=0.0))
    assert loss0.item() == pytest.approx(0.0) and "loss/kl_ref" not in m0
    loss1, m1 = policy_loss(logp, logp.detach(), ref, adv, mask, LossConfig(beta=0.1))
    k3 = (0.5 - math.log(0.5) - 1) / 2
    assert m1["loss/kl_ref"] == pytest.approx(k3)
    assert loss1.item() == pytest.approx(0.1 * k3)


def test_gradient_moves_rewarded_tokens_up():
    logits = torch.zeros(1, 3, requires_grad=True)
    logp = logits.log_softmax(-1)[:, :1].expand(1, 1)            # token 0 of a 3-way choice
    loss, _ = policy_loss(logp, logp.detach(), None, torch.tensor([1.0]), torch.ones(1, 1), LossConfig())
    loss.backward()
    assert logits.grad[0, 0] < 0 and logits.grad[0, 1] > 0       # descent raises token 0
