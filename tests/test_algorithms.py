import math

import pytest
import torch

from rlvr.algorithms.advantages import AdvantageConfig, compute_advantages, stuck_groups, zero_variance_groups
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


def test_stuck_groups_are_one_wrong_completion_repeated():
    texts = ["<a>5</a>"] * 3 + ["<a>5</a>", "<a>6</a>", "<a>5</a>"] + ["<a>7</a>"] * 3 + ["x", "y", "z"]
    correct = [False] * 3 + [False] * 3 + [True] * 3 + [False] * 3
    group = [0] * 3 + [1] * 3 + [2] * 3 + [3] * 3
    # group 0 stuck; 1 wrong but varied; 2 one completion, right (sharpened, not stuck); 3 varied
    assert stuck_groups(texts, correct, group) == (1, 4)
    assert stuck_groups(["a"], [False], [0]) == (1, 1)          # a group of one is trivially one completion


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
    loss, m = policy_loss(logp, old, None, adv, mask, LossConfig(epsilon_low=0.2), 512)
    per_tok = torch.tensor([[-1.2, -1.0, -0.5], [1.5, 1.0, 0.8]])
    assert loss.item() == pytest.approx(float((per_tok * mask).sum() / 5))
    assert m["loss/clip_fraction"] == pytest.approx(1 / 5)
    # clip-higher: the upper bound moves to 1.28
    loss_h, _ = policy_loss(logp, old, None, adv, mask, LossConfig(epsilon_low=0.2, epsilon_high=0.28), 512)
    per_tok[0, 0] = -1.28
    assert loss_h.item() == pytest.approx(float((per_tok * mask).sum() / 5))


def test_aggregations_differ_as_documented():
    x = torch.tensor([[1.0, 1.0, 1.0, 1.0], [3.0, 0.0, 0.0, 0.0]])
    mask = torch.tensor([[1, 1, 1, 1], [1, 0, 0, 0]])
    from rlvr.algorithms.losses import AGGREGATIONS

    assert AGGREGATIONS["token-mean"](x, mask, 4).item() == pytest.approx(7 / 5)
    assert AGGREGATIONS["seq-mean-token-mean"](x, mask, 4).item() == pytest.approx((1 + 3) / 2)
    assert AGGREGATIONS["seq-mean-token-sum-norm"](x, mask, 4).item() == pytest.approx((4 / 4 + 3 / 4) / 2)


def test_kl_term_and_beta_zero():
    logp = torch.log(torch.tensor([[0.5, 0.5]]))
    ref = torch.log(torch.tensor([[0.25, 0.5]]))
    mask = torch.ones(1, 2)
    adv = torch.tensor([0.0])
    loss0, m0 = policy_loss(logp, logp.detach(), ref, adv, mask, LossConfig(beta=0.0), 512)
    assert loss0.item() == pytest.approx(0.0) and "loss/kl_ref" not in m0
    loss1, m1 = policy_loss(logp, logp.detach(), ref, adv, mask, LossConfig(beta=0.1), 512)
    k3 = (0.5 - math.log(0.5) - 1) / 2
    assert m1["loss/kl_ref"] == pytest.approx(k3)
    assert loss1.item() == pytest.approx(0.1 * k3)


def test_gradient_moves_rewarded_tokens_up():
    logits = torch.zeros(1, 3, requires_grad=True)
    logp = logits.log_softmax(-1)[:, :1].expand(1, 1)            # token 0 of a 3-way choice
    loss, _ = policy_loss(logp, logp.detach(), None, torch.tensor([1.0]), torch.ones(1, 1), LossConfig(), 512)
    loss.backward()
    assert logits.grad[0, 0] < 0 and logits.grad[0, 1] > 0       # descent raises token 0


# ---------------------------------------------------------------- the rest of the advantage registry
from rlvr.algorithms.advantages import ADVANTAGES, gae  # noqa: E402
from rlvr.algorithms.losses import entropy_bonus, kl_reward_penalty  # noqa: E402


def _adv(name, r, g, **extra):
    return compute_advantages(torch.tensor(r), torch.tensor(g), AdvantageConfig(estimator=name), extra)


def test_group_of_one_and_all_equal_rewards_give_zero_for_group_estimators():
    r, g = [1.0, 0.3, 0.3, 0.3, 0.0, 1.0], [0, 1, 1, 1, 2, 2]        # a group of one, an all-equal group
    for name in ("grpo", "dr_grpo", "rloo", "reinforce_pp_baseline"):
        a = _adv(name, r, g)
        assert a[:4].abs().max().item() < 1e-5, name
        assert a[4].item() < 0 < a[5].item(), name


def test_rloo_leave_one_out_exact():
    a = _adv("rloo", [1.0, 0.0, 0.0, 1.0, 2.0, 0.0, 1.0], [0, 0, 0, 0, 1, 1, 1])
    # group 0: 1 - 1/3, 0 - 2/3; group 1: 2 - 1/2, 0 - 3/2, 1 - 1
    expect = [2 / 3, -2 / 3, -2 / 3, 2 / 3, 1.5, -1.5, 0.0]
    assert torch.allclose(a, torch.tensor(expect), atol=1e-6)


def test_reinforce_pp_normalises_over_the_batch_not_the_group():
    r, g = [1.0, 0.0, 0.0, 0.0, 1.0, 1.0], [0, 0, 1, 1, 2, 2]
    # batch mean 0.5, std 0.5: the all-wrong group gets -1 and the all-right group +1
    assert torch.allclose(_adv("reinforce_pp", r, g), torch.tensor([1.0, -1, -1, -1, 1, 1]), atol=1e-5)
    # baseline variant: centred [0.5, -0.5, 0, 0, 0, 0], batch std sqrt(1/12)
    s3 = math.sqrt(3)
    assert torch.allclose(_adv("reinforce_pp_baseline", r, g), torch.tensor([s3, -s3, 0, 0, 0, 0]), atol=1e-5)


def test_remax_greedy_baseline_and_missing_input():
    a = _adv("remax", [1.0, 0.0, 1.0, 1.0], [0, 0, 1, 1], greedy_rewards=torch.tensor([1.0, 1.0, 0.0, 0.0]))
    assert a.tolist() == [0.0, -1.0, 1.0, 1.0]
    with pytest.raises(ValueError, match="greedy_rewards"):
        _adv("remax", [1.0, 0.0], [0, 0])
    assert set(ADVANTAGES) == {"grpo", "dr_grpo", "rloo", "reinforce_pp", "reinforce_pp_baseline", "remax",
                               "ppo_gae"}


def _gae_reference(rewards, values, gamma, lam):
    """GAE for one sequence, in plain Python, from the definition A_t = sum_l (gamma lam)^l delta_{t+l}."""
    n = len(values)
    deltas = [rewards[t] + gamma * (values[t + 1] if t + 1 < n else 0.0) - values[t] for t in range(n)]
    return [sum((gamma * lam) ** l * deltas[t + l] for l in range(n - t)) for t in range(n)]


@pytest.mark.parametrize("gamma,lam", [(1.0, 0.95), (0.9, 0.5), (1.0, 1.0), (0.99, 0.0)])
def test_gae_matches_a_plain_python_reference(gamma, lam):
    g = torch.Generator().manual_seed(1)
    lengths = [5, 2, 1, 4]
    values = torch.randn(4, 5, generator=g, dtype=torch.float64)
    rewards = torch.randn(4, 5, generator=g, dtype=torch.float64)
    mask = torch.tensor([[1.0] * n + [0.0] * (5 - n) for n in lengths], dtype=torch.float64)
    adv, ret = gae(rewards * mask, values, mask, gamma, lam)
    for i, n in enumerate(lengths):
        want = _gae_reference(rewards[i, :n].tolist(), values[i, :n].tolist(), gamma, lam)
        assert adv[i, :n].tolist() == pytest.approx(want, abs=1e-12)
        assert adv[i, n:].abs().sum() == 0 and ret[i, n:].abs().sum() == 0
        assert ret[i, :n].tolist() == pytest.approx([a + v for a, v in zip(want, values[i, :n].tolist())])


def test_ppo_gae_puts_the_outcome_on_the_last_token():
    values = torch.tensor([[0.5, 0.25, 0.0], [0.1, 9.0, 9.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
    a = _adv("ppo_gae", [1.0, 0.0], [0, 1], values=values, mask=mask)
    # gamma 1, lam 1: A_t = R - V_t on every real token; padding 0 whatever its value
    cfg = AdvantageConfig(estimator="ppo_gae", lam=1.0)
    a1 = compute_advantages(torch.tensor([1.0, 0.0]), torch.tensor([0, 1]), cfg, {"values": values, "mask": mask})
    assert torch.allclose(a1, torch.tensor([[0.5, 0.75, 1.0], [-0.1, 0.0, 0.0]]))
    # lam 0.95: A_2 = 1 - 0, A_1 = (0 + 0 - .25) + .95 * 1, A_0 = (.25 - .5) + .95 * A_1
    a1_ = -0.25 + 0.95 * 1.0
    assert torch.allclose(a[0], torch.tensor([-0.25 + 0.95 * a1_, a1_, 1.0]))


# ---------------------------------------------------------------- the rest of the loss registry
def test_dual_clip_caps_negative_advantage_losses():
    old = torch.zeros(1, 3)
    logp = torch.log(torch.tensor([[5.0, 2.0, 5.0]]))
    mask = torch.ones(1, 3)
    for adv, plain, dual in (([-1.0], [5.0, 2.0, 5.0], [3.0, 2.0, 3.0]), ([1.0], [-1.2] * 3, [-1.2] * 3)):
        for dc, want in ((0.0, plain), (3.0, dual)):
            loss, m = policy_loss(logp, old, None, torch.tensor(adv), mask, LossConfig(dual_clip=dc), 512)
            assert loss.item() == pytest.approx(sum(want) / 3), (adv, dc)
    _, m = policy_loss(logp, old, None, torch.tensor([-1.0]), mask, LossConfig(dual_clip=3.0), 512)
    assert m["loss/clip_fraction"] == pytest.approx(2 / 3)


def test_per_token_advantages_in_ppo_clip():
    old = torch.zeros(2, 2)
    mask = torch.tensor([[1.0, 1.0], [1.0, 0.0]])
    adv = torch.tensor([[1.0, -2.0, 7.0], [0.5, 3.0, 3.0]])        # wider than T: cut to T
    loss, _ = policy_loss(old.clone(), old, None, adv, mask, LossConfig(), 512)
    assert loss.item() == pytest.approx(-(1.0 - 2.0 + 0.5) / 3)


def test_gspo_sequence_ratio_exact():
    old = torch.zeros(2, 2)
    logp = torch.tensor([[0.1, 0.3], [-0.2, 5.0]], requires_grad=True)      # row 1's second token is padding
    mask = torch.tensor([[1.0, 1.0], [1.0, 0.0]])
    cfg = LossConfig(loss="gspo", aggregation="seq-mean-token-mean")
    loss, m = policy_loss(logp, old, None, torch.tensor([1.0, 1.0]), mask, cfg, 512)
    s1 = math.exp(-0.2)                               # row 0: exp(0.2) > 1 + 4e-4, clipped to 1.0004
    assert loss.item() == pytest.approx(-(1.0004 + s1) / 2)
    assert m["loss/clip_fraction"] == pytest.approx(2 / 3)
    loss.backward()
    # the clipped row has no gradient; row 1: d(-s/2)/d logp_0 = -s/2 (its length is 1)
    assert logp.grad[0].abs().sum() == 0
    assert logp.grad[1, 0].item() == pytest.approx(-s1 / 2) and logp.grad[1, 1] == 0
    # a token-level loss on the same inputs differs (row 0 token 0 ratio 1.105 is inside 0.2)
    tok, _ = policy_loss(logp, old, None, torch.tensor([1.0, 1.0]), mask, LossConfig(aggregation=cfg.aggregation), 512)
    assert tok.item() != pytest.approx(loss.item())


def test_kl_folded_into_the_reward_not_the_loss():
    logp = torch.tensor([[0.0, 0.0]])
    ref = torch.tensor([[-1.0, -2.0]])
    mask = torch.tensor([[1.0, 0.0]])
    assert kl_reward_penalty(logp, ref, mask, LossConfig(beta=0.1, kl_estimator="k1")).tolist() == \
        pytest.approx([0.1])
    loss, m = policy_loss(logp, logp, ref, torch.tensor([0.0]), mask, LossConfig(beta=0.1, kl_in_reward=True), 512)
    assert loss.item() == 0.0 and "loss/kl_ref" not in m


def test_entropy_bonus_aggregates_like_the_loss():
    ent = torch.tensor([[1.0, 1.0, 1.0, 1.0], [3.0, 0.0, 0.0, 0.0]])
    mask = torch.tensor([[1, 1, 1, 1], [1, 0, 0, 0]])
    assert entropy_bonus(ent, mask, LossConfig(entropy_coef=0.5), 512).item() == pytest.approx(0.5 * 7 / 5)
    assert entropy_bonus(ent, mask, LossConfig(entropy_coef=0.5, aggregation="seq-mean-token-mean"), 512).item() == \
        pytest.approx(0.5 * 2)
    assert entropy_bonus(ent, mask, LossConfig(), 512).item() == 0.0
    # a negative coefficient: the term added to the loss is +0.1 x entropy, so minimising the loss
    # lowers the entropy (entropy minimisation)
    assert entropy_bonus(ent, mask, LossConfig(entropy_coef=-0.1), 512).item() == pytest.approx(-0.1 * 7 / 5)


def test_entropy_coef_range():
    from rlvr.config import ConfigError

    LossConfig(entropy_coef=-0.1).check()
    for bad in (-2.0, 1.5, float("nan")):
        with pytest.raises(ConfigError, match="entropy_coef"):
            LossConfig(entropy_coef=bad).check()


def test_aggregation_docstrings_state_their_length_bias():
    from rlvr.algorithms.losses import AGGREGATIONS

    for name, fn in AGGREGATIONS.items():
        assert "Length bias:" in fn.__doc__, name
