"""The run harness shared by every trainer (GRPO, SFT, pretraining): what a run does besides its algorithm.

    run = Run(cfg, "grpo", resume, overwrite)        # run directory, threads, seed, config.yaml
    model = load(run.last or start)                 # the newest valid checkpoint when resuming
    state = run.restore(model, tokenizer, opt)      # optimizer, RNG, step; metrics log rewound
    with run.progress(cfg.steps) as bar:
        while run.step < cfg.steps:
            ... one step ...
            run.step += 1
            run.guard(bad)                          # NaN/Inf steps: counted, stop after max_bad_steps
            run.log(rec); run.save(rec)             # metrics (JSONL, TensorBoard, W&B), atomic checkpoint
            bar.show(info)
    final = run.finish(files)                       # out/final, loadable by transformers

The config must have ``out``, ``seed``, ``threads`` and ``wandb_project``; ``keep_checkpoints`` and
``max_bad_steps`` are read when present. Checkpoints are atomic folders with a manifest written last
(``rlvr.checkpoint``); resume restores weights, optimizer, RNG states, step and the metrics file's
position, so a run killed at any moment and resumed gives the same metrics and weights as one never
interrupted (bit for bit on a CPU). ``extra_state`` (a callable) adds the trainer's own state to each
checkpoint (a curriculum, a critic); ``restore`` returns the whole saved state to read it back.
"""
from __future__ import annotations

import contextlib
import json
import math
import sys
from pathlib import Path

import torch
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from .. import checkpoint
from ..config import to_dict, to_yaml
from ..utils import MetricsLog, TrainingDiverged, atomic_write_text, environment, prepare_run_dir, \
    rewind_metrics, rng_state, save_model_dir, seed_everything, set_rng_state, set_threads
from ..distributed import World, barrier, on_main
from .policy import merged


def weights_finite(model) -> bool:
    """No parameter of ``model`` holds a NaN or an Inf."""
    return all(bool(torch.isfinite(p).all()) for p in model.parameters())


def lr_factor(step: int, cfg) -> float:
    """The learning rate's share of its peak at ``step``: linear warm-up over ``cfg.warmup_steps``,
    then constant or (``cfg.lr_schedule == "cosine"``) a cosine to 10% of the peak at ``cfg.steps``."""
    if step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    if cfg.lr_schedule == "cosine":
        t = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, t)))
    return 1.0


class Run:
    """One run directory and its bookkeeping: checkpoints, resume, metrics, the NaN/Inf guard, progress."""

    def __init__(self, cfg, kind: str, resume: bool = False, overwrite: bool = False, world: World = World()):
        self.cfg, self.kind, self.world = cfg, kind, world
        self.keep = getattr(cfg, "keep_checkpoints", 2)
        self.max_bad_steps = getattr(cfg, "max_bad_steps", 3)
        self.out, self.ckpts = Path(cfg.out), Path(cfg.out) / "checkpoints"
        self.last = on_main(lambda: self._prepare(resume, overwrite), world)   # rank 0 writes the run directory
        set_threads(cfg.threads)
        seed_everything(cfg.seed)
        self.step = self.bad_streak = 0
        self.model = self.tokenizer = self.opt = self.metrics = None
        self.extra_state = dict
        self.optimizer_state = lambda: self.opt.state_dict()     # FSDP: gathered whole (train/sharding.py)
        self.load_optimizer = lambda state: self.opt.load_state_dict(state)

    def _prepare(self, resume: bool, overwrite: bool):
        """The run directory, its config.yaml, the checkpoint to resume from (None for a fresh run)."""
        prepare_run_dir(self.out, resume, overwrite)
        self.out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.out / "config.yaml", to_yaml(self.cfg))
        last = checkpoint.latest(self.ckpts) if resume else None
        # leftovers of a crash: temporary folders, damaged checkpoints, any newer than the one resumed from
        checkpoint.prune(self.ckpts, keep=self.keep, newest=int(last.name.split("-")[1]) if last is not None else -1)
        return last

    def restore(self, model, tokenizer, opt) -> dict:
        """Attach the model, tokenizer and optimizer; when resuming, load the checkpoint's optimizer, RNG
        states and step. Opens the metrics log, rewound to the checkpoint. Returns the saved state ({}
        for a fresh run)."""
        self.model, self.tokenizer, self.opt = model, tokenizer, opt
        state = {}
        if self.last is not None:
            state = torch.load(self.last / "state.pt", weights_only=False)
            self.load_optimizer(state["optimizer"])
            set_rng_state(state["rng"])
            self.step, self.bad_streak = state["step"], state.get("bad_streak", 0)
        if self.world.main:
            rewind_metrics(self.out / "metrics.jsonl", state.get("metrics_bytes", 0), self.step)
            self.metrics = MetricsLog(self.out / "metrics.jsonl", self.out / "tb", purge_step=self.step + 1,
                                      wandb_project=self.cfg.wandb_project, config=to_dict(self.cfg))
        return state

    def log(self, rec: dict) -> None:
        if self.world.main:
            self.metrics.log(self.step, rec)

    def guard(self, bad: str | None) -> None:
        """Count a step skipped for a NaN or Inf (``bad`` is its cause, None for a good step); after
        ``max_bad_steps`` in a row the run stops with ``TrainingDiverged``, the last good checkpoint
        untouched."""
        self.bad_streak = self.bad_streak + 1 if bad else 0
        if not bad:
            return
        print(f"step {self.step}: skipped ({bad}); {self.bad_streak} bad step(s) in a row", file=sys.stderr, flush=True)
        if self.bad_streak >= self.max_bad_steps:
            raise TrainingDiverged(
                f"{self.bad_streak} consecutive steps with a NaN or Inf loss or gradient (last: {bad} at step "
                f"{self.step}); the run stopped; last good checkpoint: {checkpoint.latest(self.ckpts)}")

    def due(self, every: int, total: int) -> bool:
        """Whether this step is one of every ``every`` (0: never) or the last of ``total``."""
        return bool(every and (self.step % every == 0 or self.step == total))

    def save(self, metrics: dict | None = None, **state) -> None:
        """An atomic checkpoint of this step (then the oldest pruned); refused when the weights are not
        finite. ``state`` adds entries to the saved state beside the trainer's ``extra_state()``."""
        if not weights_finite(self.model):
            raise TrainingDiverged(f"the weights hold NaN or Inf after step {self.step}; nothing was saved; "
                                   f"last good checkpoint: {checkpoint.latest(self.ckpts)}")
        optimizer = self.optimizer_state()           # on every rank: FSDP gathers it
        if not self.world.main:                      # the weights are the same on every rank
            return
        full = {"optimizer": optimizer, "rng": rng_state(), "step": self.step,
                "bad_streak": self.bad_streak, "metrics_bytes": self.metrics.sync(), **self.extra_state(), **state}
        checkpoint.save(self.ckpts, self.step, self.model, self.tokenizer, full, metrics)
        checkpoint.prune(self.ckpts, keep=self.keep)

    @contextlib.contextmanager
    def progress(self, total: int):
        """A progress bar on a terminal, one line per update in a log file or pipe; closes the metrics
        log on the way out, whatever happened."""
        bar = _Bar(self.kind, total, self.step, quiet=not self.world.main)
        try:
            with bar.progress:
                yield bar
        finally:
            if self.metrics is not None:
                self.metrics.close()

    def finish(self, folder: str = "final", files: dict | None = None, **run_info) -> Path:
        """Save the model to ``out/folder`` with ``run.json`` (steps, config, environment, the best
        checkpoint by validation accuracy, and ``run_info``); refused when the weights are not finite.
        Under LoRA the adapter goes to ``out/adapter`` and ``out/folder`` holds the merged model."""
        if not weights_finite(self.model):
            raise TrainingDiverged(f"the weights hold NaN or Inf at the end; last good checkpoint: "
                                   f"{checkpoint.latest(self.ckpts)}")
        if not self.world.main:
            barrier(self.world)                      # rank 0 writes the final model
            return self.out / folder
        best = checkpoint.best(self.ckpts)
        run = {"steps": self.step, "config": str(self.out / "config.yaml"), **run_info,
               "environment": environment(), "best_checkpoint": str(best) if best else None}
        self.model = merged(self.model, self.out / "adapter")
        final = save_model_dir(self.out / folder, self.model, self.tokenizer,
                               files={"run.json": json.dumps(run, indent=2), **(files or {})})
        barrier(self.world)
        return final


class _Bar:
    def __init__(self, kind: str, total: int, done: int, quiet: bool = False):
        self.kind, self.total, self.quiet = kind, total, quiet
        self.tty = sys.stderr.isatty()
        self.progress = Progress(TextColumn(kind), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                                 TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                                 disable=not self.tty or quiet)
        self.task = self.progress.add_task(kind, total=total, completed=done, info="")

    def show(self, step: int, info: str, line: str | None = None) -> None:
        """Update the bar; without a terminal print ``line`` (default: the step and ``info``)."""
        self.progress.update(self.task, completed=step, info=info)
        if not self.tty and not self.quiet:
            print(line or f"{self.kind} step {step}/{self.total} {info}", flush=True)
