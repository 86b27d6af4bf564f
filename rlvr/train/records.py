"""What a GRPO step leaves behind: its metrics record (namespaced) and a sample file of its rollouts."""
from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from ..algorithms.advantages import stuck_groups, zero_variance_groups
from ..eval.behaviour import behaviour
from ..rewards import reward_means
from ..tasks.base import has_capability
from ..utils import atomic_write_text


def step_record(batch, r: torch.Tensor, stats: dict, adv_metrics: dict, gnorm: float, lr: float, bad,
                times: dict, task) -> dict:
    """The metrics of one step, namespaced (reward/, task/, rollout/, loss/, train/, perf/, behaviour/)."""
    ro, n_tok = batch.ro, [len(c) for c in batch.ro.completion_ids]
    flat, n_groups = zero_variance_groups(r, torch.tensor(ro.group))
    stuck, _ = stuck_groups(ro.text, batch.correct, ro.group)
    rec = {"reward/mean": float(r.mean()), **reward_means(batch.parts),
           "task/accuracy": sum(batch.correct) / len(batch.correct),
           "rollout/mean_tokens": sum(n_tok) / len(n_tok), "rollout/max_tokens": max(n_tok),
           "rollout/finish_length": ro.finish_reason.count("length") / len(ro),
           "rollout/zero_variance_groups": flat / n_groups, "rollout/stuck_groups": stuck / n_groups,
           **stats, **batch.metrics, **adv_metrics,
           "rollout/entropy": -sum(map(sum, ro.logprobs)) / max(1, sum(n_tok)),  # sampled -log p
           "loss/grad_norm": gnorm, "train/lr": lr, "train/skipped": float(bad is not None),
           **({"train/skip_cause": bad} if bad else {}),
           "perf/sample_s": times["sample"], "perf/score_s": times["score"], "perf/update_s": times["update"],
           "perf/step_s": time.time() - times["t0"],
           "perf/sample_tokens_per_s": sum(n_tok) / max(times["sample"], 1e-9)}
    rec.update({f"behaviour/{k}": v for k, v in behaviour(task, ro.text, batch.correct).items()})
    if has_capability(task, "lenient"):                 # the reading a gamed verifier would take (train/watch.py)
        rec["task/lenient_accuracy"] = sum(task.lenient_correct(batch.problems[g], t)
                                           for g, t in zip(ro.group, ro.text)) / len(ro)
    return rec


def write_samples(out: Path, step: int, batch, adv: torch.Tensor, n: int) -> None:
    """The step's first ``n`` rollouts with their rewards to samples/step-N.jsonl."""
    ro = batch.ro
    (out / "samples").mkdir(exist_ok=True)
    atomic_write_text(out / "samples" / f"step-{step}.jsonl", "".join(
        json.dumps({"step": step, "prompt": batch.problems[ro.group[i]].prompt, "completion": ro.text[i],
                    "reward": batch.rewards[i], "advantage": float(adv[i].sum()), "correct": batch.correct[i],
                    "group": ro.group[i], "finish_reason": ro.finish_reason[i]}) + "\n"
        for i in range(min(n, len(ro)))))
