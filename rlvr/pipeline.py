"""Experiments that chain stages: the R1 pipeline, SFT against RL, distillation.

An experiment file with ``stage: pipeline`` names its stages in order under ``stages:``, each a mapping
with its kind (``stage: sft``) and that stage's config fields::

    stage: pipeline
    out: runs/r1
    stages:
      cold_data:  {stage: demonstrate, examples: 300, error_rate: 0.0}
      cold_start: {stage: sft, model: "@base", data: "@cold_data", steps: 40}
      rl:         {stage: grpo, model: "@cold_start", steps: 40}

A value ``"@NAME"`` is the output of the earlier stage NAME (a model folder for sft, grpo and distill;
the dataset for demonstrate and sample; the figures for measure); ``"@base"`` is the pipeline's
``base`` model, and ``"@student_quarter"`` / ``"@student_half"`` the shipped students. Each stage
runs in ``out/NAME/`` (its ``out`` is set by the pipeline, as is ``threads``), so every figure of the experiment lands in one run directory; ``out/summary.json`` lists the stages,
their outputs and seconds, and ``out/curves.png`` draws the validation accuracy of the ``curves``
stages against step. Dotted overrides reach into the stages (``stages.rl.steps=2``), and the file's
``quick`` mapping (a partial config: ``quick: {stages: {rl: {steps: 2}}}``) is merged over it first by
``rlvr run FILE --quick``. On ``--resume`` a finished stage is kept and an unfinished one resumes.

``rlvr distill`` is the two-stage pipeline sample-then-SFT with a config of its own (``DistillConfig``).
"""
from __future__ import annotations

import copy
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from transformers import AutoModelForCausalLM, AutoTokenizer

from .config import ConfigError, _deep_update, apply_overrides, from_dict, load_config, require, require_choice, \
    require_number, suggest, to_dict, validate
from .eval.scoring import validation_figures
from .models import resolve_model, shipped_base_path, shipped_models
from .rejection import SampleConfig, task_problems
from .rollout import SamplingConfig
from .stages import STAGES
from .tasks import TaskConfig
from .tasks.base import SPLITS
from .train.sft import SFTConfig
from .utils import atomic_write_text, prepare_run_dir, set_threads


# ------------------------------------------------------------------------------ distill
@dataclass
class DistillConfig:
    out: str = "runs/distill"
    """Run directory: data/ (the teacher's verified traces) and sft/ (the student's SFT run)."""
    teacher: str = ""
    """Model that samples: a Hugging Face model folder or a run directory; empty: the shipped base."""
    student: str = ""
    """Model fine-tuned on the traces: a Hugging Face model folder or a run directory; empty: the shipped base."""
    threads: int = 1
    """Torch threads of both stages."""
    sample: SampleConfig = field(default_factory=lambda: SampleConfig(out=""))
    """Rejection sampling from the teacher (its out and model are set from the fields above)."""
    sft: SFTConfig = field(default_factory=lambda: SFTConfig(out=""))
    """SFT of the student on the sampled traces (its out, model and data are set from the fields above)."""

    def check(self) -> None:
        """The run directory and threads (each stage checks its own fields)."""
        require(bool(self.out), "out", "is empty", "name the run directory, e.g. out=runs/distill")
        require_number(self.threads, "threads", 1, fix="e.g. threads=1")


def fill_distill(cfg: DistillConfig) -> None:
    out = Path(cfg.out)
    cfg.sample.out, cfg.sample.model, cfg.sample.threads = str(out / "data"), cfg.teacher, cfg.threads
    cfg.sft.out, cfg.sft.model, cfg.sft.threads = str(out / "sft"), cfg.student, cfg.threads
    cfg.sft.data = str(out / "data" / "data.jsonl")


def run_distill(cfg: DistillConfig, resume: bool = False, overwrite: bool = False) -> Path:
    """Sample verified traces from the teacher, then SFT the student on them; returns the student's
    final model folder."""
    fill_distill(cfg)
    validate(cfg)
    out = prepare_run_dir(cfg.out, resume, overwrite)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "config.yaml", yaml.safe_dump(to_dict(cfg), sort_keys=False))
    run_stage("data", "sample", cfg.sample, resume)
    return run_stage("sft", "sft", cfg.sft, resume)


# ------------------------------------------------------------------------------ measure
@dataclass
class MeasureConfig:
    out: str = "runs/measure"
    """Output folder (summary.json)."""
    models: dict = field(default_factory=lambda: {"base": ""})
    """Label -> model (a Hugging Face model folder or a run directory; empty: the shipped base)."""
    task: TaskConfig = field(default_factory=TaskConfig)
    """The task whose held-out problems are sampled."""
    split: str = "test"
    """Split of the problems."""
    problems: int = 500
    """Problems sampled, one completion each per model."""
    seed: int = 0
    """Seed of the problem draw."""
    threads: int = 1
    """Torch threads for this process."""
    sampling: SamplingConfig = field(default_factory=lambda: SamplingConfig(max_new_tokens=600, seed=12345))
    """Sampling settings (temperature 1 by default)."""
    greedy: bool = False
    """Also measure greedy accuracy."""

    def check(self) -> None:
        """Choices and ranges (the models are loaded when the stage runs)."""
        require(bool(self.out), "out", "is empty", "name the output folder")
        require(bool(self.models), "models", "is empty", "name the models, e.g. models={base: ''}")
        require_choice(self.split, SPLITS, "split")
        require_number(self.problems, "problems", 1, fix="e.g. problems=500")
        require_number(self.threads, "threads", 1, fix="e.g. threads=1")


def measure(cfg: MeasureConfig, resume: bool = False, overwrite: bool = False) -> Path:
    """The validation figures of the trainers (``eval.scoring.validation_figures``: accuracy at
    temperature T and optionally greedy, length, behaviour, by difficulty) of each model on the same
    held-out problems; writes ``out/summary.json`` and returns its path."""
    validate(cfg)
    task, problems = task_problems(cfg)
    for label, model in cfg.models.items():
        require(not model or (Path(resolve_model(str(model)).path) / "config.json").is_file(), f"models.{label}",
                f"{model} is not a Hugging Face model folder or a run directory with a model", "fix the path")
    out = prepare_run_dir(cfg.out, resume, overwrite)
    set_threads(cfg.threads)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "config.yaml", yaml.safe_dump(to_dict(cfg), sort_keys=False))
    results = {}
    for label, model in cfg.models.items():
        resolved = resolve_model(str(model))
        path, step = resolved.path, resolved.step
        lm, tok = AutoModelForCausalLM.from_pretrained(path), AutoTokenizer.from_pretrained(path)
        figures = validation_figures(lm, tok, task, problems, cfg.sampling, greedy=cfg.greedy)
        res = {"model": path, "step": step, **{k.removeprefix("eval/"): v for k, v in figures.items()}}
        results[label] = res
        print(f"measure {label}: accuracy {res['accuracy']:.3f}, readable {res.get('readable', float('nan')):.3f}, "
              f"mean tokens {res['mean_tokens']:.0f}", flush=True)
    summary = {"split": cfg.split, "problems": len(problems), "temperature": cfg.sampling.temperature, "models": results}
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2))
    return out / "summary.json"


# ------------------------------------------------------------------------------ the pipeline
MODEL_KEYS = ("model", "teacher", "student")


def run_stage(name: str, kind: str, cfg, resume: bool) -> Path:
    """Run one stage in ``cfg.out`` (kept as it is when ``resume`` finds it finished); its output."""
    d = Path(cfg.out)
    if resume and (d / STAGES[kind].finished).exists():
        print(f"stage {name} ({kind}): finished, kept", flush=True)
        return STAGES[kind].output(d)
    print(f"stage {name} ({kind}) -> {d}", flush=True)
    STAGES[kind].run(cfg, resume=resume)
    return STAGES[kind].output(d)


@dataclass
class PipelineConfig:
    out: str = "runs/pipeline"
    """Run directory: one folder per stage, config.yaml, summary.json, curves.png."""
    base: str = ""
    """The model "@base" names (a Hugging Face model folder; empty: the shipped base)."""
    threads: int = 1
    """Torch threads of every stage."""
    stages: dict = field(default_factory=dict)
    """Stage name -> {stage: KIND, ...its config}, run in order; KIND is any stage of ``rlvr.stages`` but
    pipeline (sft, grpo, sample, distill, measure, compare, and the world's demonstrate, ...)."""
    curves: list = field(default_factory=list)
    """Stages (sft or grpo) whose validation accuracy is drawn against step in curves.png."""
    ceiling: str = ""
    """A demonstrate stage whose demonstrations' accuracy is drawn as a line in curves.png."""
    quick: dict = field(default_factory=dict)
    """A partial config merged over the file by ``rlvr run FILE --quick`` (before any overrides): a small
    version of the experiment that checks it runs."""

    def check(self) -> None:
        """Fields of the pipeline itself (each stage is checked by ``load_pipeline``)."""
        require(bool(self.out), "out", "is empty", "name the run directory, e.g. out=runs/r1")
        if self.base:
            require((Path(self.base) / "config.json").is_file(), "base",
                    f"{self.base} is not a Hugging Face model folder (no config.json there)",
                    "pretrain it first (see the file's comments), or leave base empty for the shipped base")
        require_number(self.threads, "threads", 1, fix="e.g. threads=1")
        require(bool(self.stages), "stages", "no stage", "add stages: {NAME: {stage: sft, ...}}")
        for name in self.curves:
            require(name in self.stages, "curves", f"{name!r} is not a stage", suggest(str(name), self.stages, "stages"))
        if self.ceiling:
            require(self.stages.get(self.ceiling, {}).get("stage") == "demonstrate", "ceiling",
                    f"{self.ceiling!r} is not a demonstrate stage", "name a demonstrate stage or leave it empty")


def _walk(obj, fn, key: str = ""):
    """``obj`` with every string that starts with "@" replaced by ``fn(dotted key, name)``."""
    if isinstance(obj, dict):
        return {k: _walk(v, fn, f"{key}.{k}" if key else str(k)) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_walk(v, fn, key) for v in obj]
    if isinstance(obj, str) and obj.startswith("@"):
        return fn(key, obj[1:])
    return obj


def _placed(body: dict, out: Path, threads: int) -> dict:
    """A stage's config dict with the fields the pipeline sets: its folder, and threads where it has them."""
    return {**body, "out": str(out), **({"threads": threads} if "threads" in body else {})}


def _overlay(node: dict, new: dict, where: str) -> None:
    """Merge ``new`` into ``node``: a stage or a mapping whose keys all exist is merged key by key (an
    unknown key of a stage is an error), anything else is replaced whole (and checked as a whole later)."""
    for k, v in new.items():
        key = f"{where}{k}"
        if k not in node:
            raise ConfigError(f"quick.{key}", "unknown key", suggest(key, [f"{where}{n}" for n in node]))
        if isinstance(v, dict) and isinstance(node[k], dict) and ("stage" in node[k] or set(v) <= set(node[k])
                                                                   or key == "stages"):
            _overlay(node[k], v, key + ".")
        else:
            node[k] = v


def load_pipeline(path: str | Path, overrides: list[str] | None = None, quick: bool = False):
    """The pipeline config of ``path`` and its stages [(name, kind, config dict with "@" references)],
    every stage checked (fields, types, ranges, references to earlier stages). Raises ConfigError."""
    base = load_config(PipelineConfig, path)        # file-level errors (missing file, YAML, unknown keys)
    data = to_dict(base)
    for name, st in list(data["stages"].items()):
        where = f"stages.{name}"
        require(isinstance(st, dict) and "stage" in st, where, "names no stage kind",
                f"write {name}: {{stage: KIND, ...}} with KIND one of {', '.join(STAGES)}")
        require_choice(st["stage"], [k for k in STAGES if k != "pipeline"], f"{where}.stage")
        full = to_dict(STAGES[st["stage"]].cls())
        _deep_update(full, {k: v for k, v in st.items() if k != "stage"}, STAGES[st["stage"]].cls, f" in {path}",
                     f"{where}.")
        data["stages"][name] = {"stage": st["stage"], **full}
    if quick:
        require(bool(data["quick"]), "--quick", f"{path} has no quick variant", "add a quick: mapping to it")
        _overlay(data, copy.deepcopy(data["quick"]), "")
    apply_overrides(data, list(overrides or []))
    cfg = from_dict(PipelineConfig, data)
    validate(cfg)
    shipped = {**shipped_models(), "base": None}           # "@base" is cfg.base ("" the shipped base)
    stages, earlier = [], []
    for name, st in cfg.stages.items():
        kind = st["stage"]
        require_choice(kind, STAGES, f"stages.{name}.stage")
        body = {k: v for k, v in st.items() if k != "stage"}

        def stand_in(key: str, ref: str, name=name) -> str:
            require(ref in shipped or ref in earlier, f"stages.{name}.{key}",
                    f"'@{ref}' names no earlier stage and no shipped model",
                    suggest(ref, earlier + sorted(shipped), "names (earlier stages, shipped models)"))
            if ref in shipped and ref not in earlier:
                return cfg.base if ref == "base" else str(shipped[ref])
            if key in MODEL_KEYS:                  # checked for real when the stage starts
                return ""
            return f"{cfg.out}/{ref}"

        try:
            stage_cfg = from_dict(STAGES[kind].cls, _placed(_walk(body, stand_in), Path(cfg.out) / name, cfg.threads),
                                  f"stages.{name}.")
            STAGES[kind].prepare(stage_cfg)
            validate(stage_cfg)
        except ConfigError as e:
            raise (e if e.field.startswith("stages.") else e.within(f"stages.{name}.")) from None
        stages.append((name, kind, body))
        earlier.append(name)
    return cfg, stages


def run_pipeline(cfg: PipelineConfig, stages: list, resume: bool = False, overwrite: bool = False) -> dict:
    """Run the stages in order in ``cfg.out``; returns the summary (also written to out/summary.json)."""
    out = prepare_run_dir(cfg.out, resume, overwrite)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "config.yaml", yaml.safe_dump({"stage": "pipeline", **to_dict(cfg)}, sort_keys=False))
    outputs = {**shipped_models(), "base": Path(cfg.base) if cfg.base else shipped_base_path()}
    summary = {"stages": {}}
    for name, kind, body in stages:
        body = _walk(copy.deepcopy(body), lambda key, ref: str(outputs[ref]))
        stage_cfg = from_dict(STAGES[kind].cls, _placed(body, out / name, cfg.threads), f"stages.{name}.")
        t0 = time.time()
        try:
            outputs[name] = run_stage(name, kind, stage_cfg, resume)
        except ConfigError as e:
            raise e.within(f"stages.{name}.") from None
        summary["stages"][name] = {"stage": kind, "output": str(outputs[name]), "seconds": round(time.time() - t0, 1)}
        if kind == "measure":
            summary[name] = json.loads(outputs[name].read_text())["models"]
    if cfg.curves:
        try:                                   # a view of the runs' own metrics: never fail the experiment
            plot_curves(out, cfg)
            summary["curves"] = str(out / "curves.png")
        except Exception as e:  # noqa: BLE001
            print(f"curves.png not written: {type(e).__name__}: {e}", file=sys.stderr)
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2))
    return summary


def plot_curves(out: Path, cfg: PipelineConfig) -> None:
    """Validation accuracy (temperature T) of the ``curves`` stages against step, and the ceiling line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4))
    for name in cfg.curves:
        recs = [json.loads(l) for l in (out / name / "metrics.jsonl").read_text().splitlines() if l.strip()]
        ev = [r for r in recs if "eval/accuracy" in r]
        ax.plot([r["step"] for r in ev], [r["eval/accuracy"] for r in ev], "o-",
                label=f"{name} ({cfg.stages[name]['stage']})")
    if cfg.ceiling:
        acc = json.loads((out / cfg.ceiling / "summary.json").read_text())["accuracy"]
        ax.axhline(acc, color="gray", linestyle="--", label=f"demonstrations' accuracy ({acc:.0%})")
    ax.set_xlabel("training step"), ax.set_ylabel("validation accuracy"), ax.set_ylim(0, 1), ax.legend()
    fig.tight_layout()
    fig.savefig(out / "curves.png", dpi=110)
    plt.close(fig)


def run_planned(planned: tuple, resume: bool = False, overwrite: bool = False) -> Path:
    """The pipeline stage's runner: ``planned`` is ``load_pipeline``'s (config, stages)."""
    cfg, stages = planned
    run_pipeline(cfg, stages, resume=resume, overwrite=overwrite)
    return Path(cfg.out) / "summary.json"
