"""rlvr: reinforcement learning against verifiable rewards, the recipe of DeepSeek-R1.

From Python (a notebook), with the same config classes the YAML files fill::

    from rlvr import GRPOConfig, TaskConfig, train_grpo
    cfg = GRPOConfig(out="runs/mine", steps=40, task=TaskConfig(name="dataset", kwargs={"path": "qa.jsonl"}))
    final = train_grpo(cfg)

Names are imported when first used, so ``import rlvr`` stays light (the verifier's worker processes and
the code sandbox import parts of the package).
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "GRPOConfig": "rlvr.train.grpo", "train_grpo": "rlvr.train.grpo",
    "SFTConfig": "rlvr.train.sft", "train_sft": "rlvr.train.sft",
    "SampleConfig": "rlvr.rejection", "rejection_sample": "rlvr.rejection",
    "EvalConfig": "rlvr.eval.evaluate", "evaluate_models": "rlvr.eval.evaluate",
    "TaskConfig": "rlvr.tasks", "get_task": "rlvr.tasks", "Problem": "rlvr.tasks", "Verdict": "rlvr.tasks",
    "SamplingConfig": "rlvr.rollout", "generate": "rlvr.rollout",
    "load_config": "rlvr.config", "resolve_model": "rlvr.models",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'rlvr' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)


def __dir__() -> list[str]:
    return __all__
