"""The stage registry: every stage a command runs, an experiment file names or a pipeline chains.

A ``Stage`` is a config class and a function that runs it in its own folder, ``run(cfg, resume,
overwrite)``, returning its output (a model folder, a dataset, a summary). The command line makes each
one a subcommand (``rlvr grpo --config FILE key=value ...``, every field in ``--help``), ``rlvr run
FILE`` runs the stage a file's ``stage:`` key names, and a pipeline chains them (``rlvr.pipeline``).

The built-in stages are the library's (grpo, sft, sample, distill, measure, compare, pipeline);
installed packages add their own through ``rlvr.stages`` entry points (``rlvr.plugins``), as the
embedded world adds pretrain, demonstrate and demo.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .config import load_config
from .plugins import plugins
from .registry import Registry


@dataclass(frozen=True)
class Stage:
    name: str
    cls: type
    """Its config dataclass."""
    run: Callable
    """``(cfg, resume=False, overwrite=False) -> output``: runs the stage in ``cfg.out``."""
    help: str
    """One line for ``rlvr --help``."""
    description: str = ""
    """A paragraph for ``rlvr NAME --help``."""
    output: Callable[[Path], Path] = lambda d: d / "final"
    """Its folder -> its output (a model folder, a dataset, figures), for the stages after it."""
    finished: str = "final/run.json"
    """The file it writes last, relative to its folder: its presence means the stage finished."""
    done: Callable = lambda out: f"wrote {out}"
    """Its output -> the line the command prints when it ends."""
    prepare: Callable = lambda cfg: None
    """Sets the fields the stage derives from others, before checks."""
    quick: tuple = ()
    """Dotted overrides of ``--quick``: a small run that checks it works (empty: no quick variant)."""
    load: Callable | None = None
    """``(path, overrides, quick) -> cfg`` for a stage whose file is not a plain config (pipeline)."""

    def config(self, path, overrides: list[str], quick: bool = False):
        if self.load is not None:
            return self.load(path, overrides, quick)
        return load_config(self.cls, path, list(self.quick if quick else ()) + list(overrides))


def _grpo():
    from .train.grpo import GRPOConfig, train_grpo

    return Stage("grpo", GRPOConfig, train_grpo, "GRPO: reinforcement learning against the task's verifier",
                 "GRPO from a base model (R1-Zero): K rollouts per prompt, group-normalised advantages, "
                 "PPO-clipped loss, optional KL to a frozen reference.", done=lambda out: f"final policy saved to {out}")


def _sft():
    from .train.sft import SFTConfig, train_sft

    return Stage("sft", SFTConfig, train_sft,
                 "supervised fine-tuning: completion-only loss on (prompt, completion) pairs",
                 "Completion-only next-token training on pairs from JSONL, Parquet or a datasets dataset, short "
                 "examples packed with per-example attention and positions; evaluates through the task's "
                 "verifier on the validation split.", done=lambda out: f"final model saved to {out}")


def _sample_done(data: Path) -> str:
    s = json.loads((data.parent / "summary.json").read_text())
    return (f"kept {s['traces_kept']} verified traces of {s['problems']} problems "
            f"(mean pass rate {s['mean_pass_rate']:.1%}) in {data}")


def _sample():
    from .rejection import SampleConfig, rejection_sample

    return Stage("sample", SampleConfig, rejection_sample,
                 "rejection sampling: keep a model's verified-correct completions as a dataset",
                 "Samples n completions per problem, verifies them, keeps the correct ones (at most keep per "
                 "problem, shortest first or at random, optional format and keep_if filters, duplicates dropped) "
                 "and writes OUT/data.jsonl, OUT/problems.jsonl (pass rate per problem) and OUT/summary.json "
                 "(provenance). --resume skips the problems done.",
                 output=lambda d: d / "data.jsonl", finished="summary.json", done=_sample_done)


def _distill():
    from .pipeline import DistillConfig, fill_distill, run_distill

    return Stage("distill", DistillConfig, run_distill, "sample verified traces from a teacher, then SFT a student on them",
                 "Rejection sampling from the teacher into OUT/data, then SFT of the student on those traces "
                 "into OUT/sft.", output=lambda d: d / "sft" / "final", finished="sft/final/run.json",
                 done=lambda out: f"student saved to {out}", prepare=fill_distill)


def _measure():
    from .pipeline import MeasureConfig, measure

    return Stage("measure", MeasureConfig, measure, "accuracy, length and behaviour of several models on the same problems",
                 "Samples one completion per held-out problem from each model and writes OUT/summary.json.",
                 output=lambda d: d / "summary.json", finished="summary.json")


def _compare():
    from .compare import CompareConfig, run_compare

    return Stage("compare", CompareConfig, run_compare, "train one GRPO run per algorithm choice and tabulate them",
                 "Trains the shared grpo config once per variant (advantage estimator, loss, dynamic sampling, "
                 "curriculum) under the same seed and budget, and writes a table of steps and seconds to the "
                 "target validation accuracy, final accuracy, length and entropy into the doc page.",
                 output=lambda d: d / "summary.json", finished="summary.json",
                 done=lambda out: f"compared; table and rows in {out}")


def _pipeline():
    from .pipeline import PipelineConfig, load_pipeline, run_planned

    return Stage("pipeline", PipelineConfig, run_planned, "run several stages chained in one run directory",
                 "Runs the stages an experiment file names under stages:, in order, each in OUT/NAME, with "
                 "'@NAME' standing for an earlier stage's output.", output=lambda d: d / "summary.json",
                 finished="summary.json", done=lambda out: f"pipeline finished; stages, outputs and figures in {out}",
                 load=load_pipeline)


def _builtins() -> dict:
    """Built each time it is asked (cheap): a stage runs the function its module holds at that moment."""
    stages = [make() for make in (_grpo, _sft, _sample, _distill, _measure, _compare, _pipeline)]
    return {s.name: s for s in stages} | plugins("rlvr.stages")


STAGES = Registry("stage", _builtins)
