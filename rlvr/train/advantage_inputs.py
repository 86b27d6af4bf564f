"""What the GRPO loop hands the advantage estimator beside the rewards: one hook, no special cases.

``AdvantageInputs.prepare`` runs after scoring and before ``compute_advantages``. It returns the rewards
(with the KL folded in when ``loss.kl_in_reward``) and ``inputs``, the per-step tensors the chosen
estimator's ``needs`` names:

- ``greedy_rewards`` (remax): one greedy completion per prompt through the same rollout engine, scored by
  the same reward functions;
- ``values`` and ``mask`` (ppo_gae): a separate small critic, the policy's starting weights with a scalar
  head on the last hidden state, trained after each step towards the GAE returns (advantages + values).

``after`` runs once the advantages exist (the critic's regression step). ``state`` / ``load`` carry the
critic through checkpoints, so a resumed run continues exactly.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers import AutoModelForCausalLM

from ..algorithms.advantages import AdvantageConfig, estimator_needs
from ..algorithms.losses import LossConfig, kl_reward_penalty
from ..prompts import prompt_texts
from ..rewards import Scorer
from ..rollout import SamplingConfig, generate
from .forward import completion_logprobs, hidden_states, right_padded
from .policy import as_reference
from .update import own_tokens


@dataclass
class CriticConfig:
    lr: float = 1e-4
    """AdamW learning rate of the critic (ppo_gae only)."""
    microbatch_size: int = 32
    """Sequences per critic forward/backward."""


class Critic(torch.nn.Module):
    """A value model: a causal LM's body with a linear head on the last hidden state, zero-initialised so
    that the first values are 0 (and the first GAE advantages are the discounted returns)."""

    def __init__(self, path):
        super().__init__()
        self.body = AutoModelForCausalLM.from_pretrained(path)
        self.head = torch.nn.Linear(self.body.config.hidden_size, 1)
        torch.nn.init.zeros_(self.head.weight)
        torch.nn.init.zeros_(self.head.bias)

    def forward(self, prompt_ids, completion_ids, pad_id):
        """V(prefix before completion token t) for every completion token: values [B, Tc], mask [B, Tc]."""
        ids, attn, mask, _, index = right_padded(prompt_ids, completion_ids, pad_id)
        h = hidden_states(self.body, ids, attn)                                # [B, L, H]
        sel = h.gather(1, index[:, :, None].expand(-1, -1, h.size(-1)))        # [B, Tc, H]
        return self.head(sel.float()).squeeze(-1) * mask, mask


class AdvantageInputs:
    def __init__(self, adv_cfg: AdvantageConfig, loss_cfg: LossConfig, critic_cfg: CriticConfig,
                 start_path, rewards: dict | Scorer):
        self.needs = estimator_needs(adv_cfg.estimator)
        self.loss_cfg, self.critic_cfg = loss_cfg, critic_cfg
        self.scorer = rewards if isinstance(rewards, Scorer) else Scorer(rewards)     # weights, or the run's scorer
        self.critic = self.opt = None
        if "values" in self.needs:
            self.critic = Critic(start_path)
            self.opt = torch.optim.AdamW(self.critic.parameters(), lr=critic_cfg.lr, betas=(0.9, 0.99))

    def _chunks(self, n: int):
        mb = self.critic_cfg.microbatch_size
        return [list(range(s, min(n, s + mb))) for s in range(0, n, mb)]

    def prepare(self, *, model, ref, tokenizer, task, problems, ro, rewards: torch.Tensor,
                sampling: SamplingConfig, pad_id: int):
        """(rewards [B], inputs dict, metrics) for this step's rollouts."""
        metrics, inputs = {}, {}
        if self.loss_cfg.kl_in_reward and ref is not None and self.loss_cfg.beta > 0:
            pen = torch.zeros(len(ro))
            for sl in self._chunks(len(ro)):
                pids, cids = [ro.prompt_ids[i] for i in sl], [ro.completion_ids[i] for i in sl]
                with torch.no_grad():
                    logp, _, mask = completion_logprobs(model, pids, cids, pad_id, sampling.temperature, False)
                    with as_reference(ref) as reference:
                        ref_logp, _, _ = completion_logprobs(reference, pids, cids, pad_id, sampling.temperature, False)
                own = own_tokens(ro, mask.size(1), sl).to(mask.device)              # the policy's tokens only
                pen[sl] = kl_reward_penalty(logp, ref_logp, mask * own, self.loss_cfg).cpu()
            rewards = rewards - pen
            metrics["reward/kl_penalty"] = float(pen.mean())
        if "greedy_rewards" in self.needs:
            s = SamplingConfig(**{**sampling.__dict__, "temperature": 0.0})
            g = generate(model, tokenizer, prompt_texts(tokenizer, problems), n=1, sampling=s)
            rows = [problems[i] for i in g.group]
            greedy, _ = self.scorer(rows, [p.prompt for p in rows], g.text,
                                    [task.verify(p, t) for p, t in zip(rows, g.text)])
            inputs["greedy_rewards"] = torch.tensor(greedy)[torch.tensor(ro.group)]    # [B]
            metrics["reward/greedy_mean"] = sum(greedy) / len(greedy)
        if self.critic is not None:
            values, masks = [], []
            self.critic.eval()
            with torch.no_grad():
                for sl in self._chunks(len(ro)):
                    v, m = self.critic([ro.prompt_ids[i] for i in sl], [ro.completion_ids[i] for i in sl], pad_id)
                    values.append(v)
                    masks.append(m)
            Tc = max(1, max(len(c) for c in ro.completion_ids))
            inputs["values"] = torch.cat([torch.nn.functional.pad(v, (0, Tc - v.size(1))) for v in values])
            inputs["mask"] = torch.cat([torch.nn.functional.pad(m, (0, Tc - m.size(1))) for m in masks])
            metrics["critic/value_mean"] = float((inputs["values"] * inputs["mask"]).sum()
                                                 / inputs["mask"].sum().clamp(min=1))
        return rewards, inputs, metrics

    def after(self, ro, adv: torch.Tensor, inputs: dict, pad_id: int) -> dict:
        """The critic's regression step towards the GAE returns (adv + values); nothing otherwise."""
        if self.critic is None:
            return {}
        returns = (adv + inputs["values"]) * inputs["mask"]                      # [B, Tc]
        n_tok = inputs["mask"].sum().clamp(min=1)
        self.critic.train()
        self.opt.zero_grad(set_to_none=True)
        total = 0.0
        for sl in self._chunks(len(ro)):
            v, m = self.critic([ro.prompt_ids[i] for i in sl], [ro.completion_ids[i] for i in sl], pad_id)
            t = v.size(1)
            loss = (((v - returns[sl, :t]) ** 2) * m).sum() / n_tok
            loss.backward()
            total += float(loss.detach())
        torch.nn.utils.clip_grad_norm_(self.critic.parameters(), 1.0)
        self.opt.step()
        return {"critic/value_loss": total}

    def state(self) -> dict | None:
        if self.critic is None:
            return None
        return {"critic": self.critic.state_dict(), "optimizer": self.opt.state_dict()}

    def load(self, state: dict | None) -> None:
        if self.critic is not None and state is not None:
            self.critic.load_state_dict(state["critic"])
            self.opt.load_state_dict(state["optimizer"])
