"""Our policy losses against TRL's own GRPOTrainer._compute_loss (trl==1.13.0, a test-only extra).

TRL's loss is a method of the trainer; it is called here unbound, on a stand-in ``self`` that holds the
settings it reads and returns our fixed per-token log-probs and entropies instead of running a model, so
both implementations see exactly the same log-probs, advantages and masks. Loss types compared (TRL name:
ours): grpo: seq-mean-token-mean; bnpo: token-mean (one microbatch); dapo: token-mean over the batch's
tokens; dr_grpo: seq-mean-token-sum-norm with max_tokens = max_completion_length; GSPO is TRL's grpo loss
with importance_sampling_level = "sequence". Each with and without the k3 KL term.
"""
from collections import defaultdict
from types import SimpleNamespace

import pytest
import torch

pytest.importorskip("trl")
from trl.trainer.grpo_trainer import GRPOTrainer  # noqa: E402

from rlvr.algorithms.losses import LossConfig, policy_loss  # noqa: E402

B, T, MAX_LEN = 4, 6, 10


def _inputs():
    g = torch.Generator().manual_seed(0)
    old = -torch.rand(B, T, generator=g, dtype=torch.float64) * 3                    # [B, T]
    logp = old + torch.randn(B, T, generator=g, dtype=torch.float64) * 0.3           # ratios well beyond 1 +- 0.28
    ref = old + torch.randn(B, T, generator=g, dtype=torch.float64) * 0.2
    ent = torch.rand(B, T, generator=g, dtype=torch.float64)
    mask = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0], [1, 0, 0, 0, 0, 0], [1, 1, 1, 1, 1, 0]],
                        dtype=torch.float64)
    adv = torch.tensor([1.3, -0.7, 0.0, -1.1], dtype=torch.float64)
    return logp, old, ref, ent, mask, adv


class _Acc:
    num_processes = 1
    sync_gradients = True

    @staticmethod
    def reduce(x, reduction="sum"):
        return x

    @staticmethod
    def gather(x):
        return x

    gather_for_metrics = gather


def _trl_loss(loss_type, level, beta, logp, old, ref, ent, mask, adv, eps_low, eps_high):
    logp_leaf = logp.clone().requires_grad_(True)
    stub = SimpleNamespace(
        top_entropy_quantile=1.0, off_policy_mask_threshold=None, importance_sampling_level=level, beta=beta,
        loss_type=loss_type, epsilon_low=eps_low, epsilon_high=eps_high, use_vllm=False,
        model=SimpleNamespace(training=True), current_gradient_accumulation_steps=1,
        max_completion_length=MAX_LEN, accelerator=_Acc(), _entropy_bonus_enabled=False,
        aux_loss_enabled=False, _metrics={"train": defaultdict(list), "eval": defaultdict(list)},
        args=SimpleNamespace(use_bias_correction_kl=False, delta=None, steps_per_generation=1),
        _get_per_token_logps_and_entropies=lambda *a, **k: (logp_leaf, ent, None))
    inputs = {"prompt_ids": torch.zeros(B, 1, dtype=torch.long), "prompt_mask": torch.ones(B, 1, dtype=torch.long),
              "completion_ids": torch.zeros(B, T, dtype=torch.long), "completion_mask": mask,
              "advantages": adv, "old_per_token_logps": old, "num_items_in_batch": mask.sum()}
    if beta:
        inputs["ref_per_token_logps"] = ref
    loss = GRPOTrainer._compute_loss(stub, None, inputs)
    loss.backward()
    return loss.detach(), logp_leaf.grad


CASES = [  # TRL loss type, importance-sampling level, our loss, our aggregation
    ("grpo", "token", "ppo_clip", "seq-mean-token-mean"),
    ("bnpo", "token", "ppo_clip", "token-mean"),
    ("dapo", "token", "ppo_clip", "token-mean"),
    ("dr_grpo", "token", "ppo_clip", "seq-mean-token-sum-norm"),
    ("grpo", "sequence", "gspo", "seq-mean-token-mean"),
]


@pytest.mark.parametrize("beta", [0.0, 0.04])
@pytest.mark.parametrize("trl_type,level,ours,aggregation", CASES)
def test_loss_and_gradient_match_trl(trl_type, level, ours, aggregation, beta):
    logp, old, ref, ent, mask, adv = _inputs()
    eps_low, eps_high = (0.2, 0.28) if ours == "ppo_clip" else (0.03, 0.04)
    want, want_grad = _trl_loss(trl_type, level, beta, logp, old, ref, ent, mask, adv, eps_low, eps_high)
    cfg = LossConfig(loss=ours, aggregation=aggregation, beta=beta, kl_estimator="k3",
                     epsilon_low=eps_low, epsilon_high=eps_high, gspo_epsilon_low=eps_low,
                     gspo_epsilon_high=eps_high)
    leaf = logp.clone().requires_grad_(True)
    got, m = policy_loss(leaf, old, ref if beta else None, adv, mask, cfg, MAX_LEN)
    got.backward()
    assert abs(got.item() - want.item()) < 1e-6
    assert torch.allclose(leaf.grad * mask, want_grad * mask, atol=1e-9)
    assert 0 < m["loss/clip_fraction"] < 1            # the inputs do exercise the clip
