"""Rejection sampling (``rlvr sample``): n completions per problem from any model, verified; the correct
ones kept as an SFT dataset with its provenance.

For each problem, in chunks of ``problems_per_batch`` sampled together:
  1. sample ``n`` completions with the rollout engine (seed: ``sampling.seed`` + chunk index);
  2. verify each with the task's verifier; keep the correct ones that pass the filters (a well-formed
     answer, optionally a ``keep_if`` predicate such as the world's readability), drop duplicate texts;
  3. keep at most ``keep`` of them, shortest first or at random;
  4. append them to ``data.jsonl`` ({prompt, completion, problem_id, answer, difficulty, tokens,
     pass_rate}) and one line to ``problems.jsonl`` ({id, n, correct, kept, pass_rate, dropped,
     data_bytes}).

``problems.jsonl`` is the progress record: on ``--resume`` the problems it lists are skipped, and
``data.jsonl`` is cut back to the length the last of them recorded, so a run stopped at any moment and
resumed writes the same dataset as one never stopped. ``summary.json`` (written last) holds the
provenance (model, its training step when it comes from a run directory, task, split, sampling
settings, filters) and the totals.
"""
from __future__ import annotations

import json
import os
import random
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from .config import ConfigError, require, require_choice, require_number, to_yaml, validate
from .eval.scoring import sample_many
from .models import MISSING_MODEL_FIX, LoadConfig, is_model, load_for_inference, pick_device, resolve_model
from .prompts import prompt_text
from .registry import import_object
from .rollout import SamplingConfig
from .tasks import TaskConfig, get_task
from .tasks.base import SPLITS
from .distributed import World, barrier, gather, init_world, on_main, share
from .utils import atomic_write_text, prepare_run_dir, set_threads


@dataclass
class SampleConfig:
    out: str = "runs/sample"
    """Output folder: data.jsonl (the dataset), problems.jsonl (per-problem record), summary.json."""
    model: str = ""
    """Model that samples: a Hugging Face model folder or a run directory (its final/ model, or its newest
    checkpoint while it trains); empty: the shipped base."""
    seed: int = 0
    """Seed of the problem draw and of the random selection."""
    threads: int = 1
    """Torch threads for this process."""
    load: LoadConfig = field(default_factory=LoadConfig)
    """Device and dtype of the sampling model (bfloat16: weights stored in bfloat16)."""
    task: TaskConfig = field(default_factory=TaskConfig)
    """The task whose problems are sampled and whose verifier judges them."""
    split: str = "train"
    """Split the problems come from."""
    problems: int = 500
    """Problems sampled."""
    n: int = 8
    """Completions sampled per problem."""
    sampling: SamplingConfig = field(default_factory=lambda: SamplingConfig(max_new_tokens=400))
    """Sampling settings (temperature, top_p, max_new_tokens, seed, batch_size)."""
    problems_per_batch: int = 16
    """Problems whose n completions are sampled together."""
    keep: int = 1
    """Most correct completions kept per problem (0: all)."""
    order: str = "shortest"
    """Which correct completions are kept first: shortest (fewest tokens) or random."""
    require_format: bool = True
    """Drop completions whose answer tag is not the single last thing they write."""
    keep_if: str = ""
    """A filter, ``package.module:function`` taking (task, completion) and returning whether to keep it (the
    world's readability: rlvr.world.readability:is_readable); empty keeps every correct completion."""
    dedup: bool = True
    """Keep one copy of completions with the same text (per problem)."""

    def check(self) -> None:
        """Ranges and choices of every field (``config.validate``)."""
        require(bool(self.out), "out", "is empty", "name the output folder, e.g. out=runs/sample")
        require(is_model(self.model), "model", f"{self.model} is not a model folder, a run with a model, or a hub id "
                "in the local cache", MISSING_MODEL_FIX)
        require_number(self.threads, "threads", 1, fix="e.g. threads=1")
        require_choice(self.split, SPLITS, "split")
        require_number(self.problems, "problems", 1, fix="e.g. problems=500")
        require_number(self.n, "n", 1, fix="e.g. n=8")
        require_number(self.problems_per_batch, "problems_per_batch", 1, fix="e.g. problems_per_batch=16")
        require_number(self.keep, "keep", 0, fix="0 keeps every correct completion")
        require_choice(self.order, ("shortest", "random"), "order")
        if self.keep_if:
            try:
                import_object(self.keep_if)
            except ValueError as e:
                raise ConfigError("keep_if", str(e), "give package.module:function, or leave it empty") from None


def select(texts: list[str], lengths: list[int], ok: list[bool], keep: int, order: str, dedup: bool,
           rng: random.Random) -> list[int]:
    """Indices of the completions kept: those ``ok``, without repeated texts (the first copy stays) when
    ``dedup``, at most ``keep`` (0: all) taken shortest first (ties by index) or at random."""
    seen, cands = set(), []
    for i, (t, good) in enumerate(zip(texts, ok)):
        if not good or (dedup and t in seen):
            continue
        seen.add(t)
        cands.append(i)
    if order == "shortest":
        cands.sort(key=lambda i: (lengths[i], i))
    else:
        rng.shuffle(cands)
    return cands[:keep] if keep else cands


def _done(out: Path) -> tuple[list[dict], int]:
    """The per-problem records written so far (a torn last line dropped) and the data file's length then."""
    records = []
    path = out / "problems.jsonl"
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                break
    return records, (records[-1]["data_bytes"] if records else 0)


def _truncate(path: Path, size: int) -> None:
    with open(path, "a+b") as f:
        f.truncate(size)
        f.flush()
        os.fsync(f.fileno())


def task_problems(cfg) -> tuple:
    """The task of ``cfg.task`` and its ``cfg.problems`` problems of ``cfg.split`` drawn with ``cfg.seed``;
    asking for more than the split holds is a config error on ``problems``."""
    task = get_task(cfg.task.name, **cfg.task.kwargs)
    try:
        return task, task.problems(cfg.split, cfg.problems, seed=cfg.seed)
    except ValueError as e:
        raise ConfigError("problems", str(e), "ask for fewer problems") from None


def rejection_sample(cfg: SampleConfig, resume: bool = False, overwrite: bool = False) -> Path:
    """Run rejection sampling as configured; returns the dataset's path (``out/data.jsonl``)."""
    validate(cfg)
    task, problems = task_problems(cfg)
    world = init_world(pick_device(cfg.load.device))
    out = Path(cfg.out)
    records = on_main(lambda: _start(cfg, out, resume, overwrite), world)  # nothing was written before this
    set_threads(cfg.threads)
    resolved = resolve_model(cfg.model)
    path, step = resolved.path, resolved.step
    keep_if = import_object(cfg.keep_if) if cfg.keep_if else None
    model, tokenizer = load_for_inference(path, cfg.load)
    t0 = time.time()
    _sample_problems(cfg, task, problems, model, tokenizer, keep_if, out, records, world)
    if world.main:
        summary = summarise(cfg, records, path, step, time.time() - t0)
        atomic_write_text(out / "summary.json", json.dumps(summary, indent=2))
    barrier(world)
    return out / "data.jsonl"


def _start(cfg: SampleConfig, out: Path, resume: bool, overwrite: bool) -> list[dict]:
    """The output folder checked and prepared, its config written; the records to go on from."""
    prepare_run_dir(out, resume, overwrite)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "config.yaml", to_yaml(cfg))
    return _rewind(out, resume)


def _rewind(out: Path, resume: bool) -> list[dict]:
    """The per-problem records to go on from (none unless ``resume``), with ``problems.jsonl`` and
    ``data.jsonl`` cut back to them."""
    records, data_bytes = _done(out) if resume else ([], 0)
    atomic_write_text(out / "problems.jsonl", "".join(json.dumps(r) + "\n" for r in records))
    _truncate(out / "data.jsonl", data_bytes)
    return records


def _sample_problems(cfg: SampleConfig, task, problems: list, model, tokenizer, keep_if, out: Path,
                     records: list[dict], world: World = World()) -> None:
    """1-4 for each problem not in ``records``, a chunk at a time; each new record is appended to ``records``.
    Under torchrun the ranks share each chunk's sampling and verification, and rank 0 writes."""
    done = {r["id"] for r in records}
    data_f, prob_f = (open(out / "data.jsonl", "a"), open(out / "problems.jsonl", "a")) if world.main else (None, None)
    progress = Progress(TextColumn("sample"), BarColumn(), TextColumn("{task.completed}/{task.total} problems"),
                        TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                        disable=not sys.stderr.isatty() or not world.main)
    try:
        with progress:
            bar = progress.add_task("sample", total=len(problems), completed=len(done), info="")
            for c, s in enumerate(range(0, len(problems), cfg.problems_per_batch)):
                chunk = problems[s:s + cfg.problems_per_batch]
                if all(p.id in done for p in chunk):
                    continue
                # 1. sample the whole chunk (the same batch as an uninterrupted run: the same tokens)
                sampling = SamplingConfig(**{**asdict(cfg.sampling), "seed": cfg.sampling.seed + c})
                smp = sample_many(model, tokenizer, task, chunk, cfg.n, sampling, world=world)
                for rec in gather([_one_problem(cfg, task, chunk[j], prompt_text(tokenizer, chunk[j]),
                                                smp.text[j * cfg.n:(j + 1) * cfg.n],
                                                [len(ids) for ids in smp.completion_ids[j * cfg.n:(j + 1) * cfg.n]],
                                                keep_if)
                                   for j in share(len(chunk), world) if chunk[j].id not in done], world):
                    if world.main:
                        _append(data_f, prob_f, rec)
                    records.append(rec)
                kept = sum(r["kept"] for r in records)
                progress.update(bar, completed=len(records), info=f"kept {kept}")
                if not sys.stderr.isatty() and world.main:
                    print(f"sample {len(records)}/{len(problems)} problems, {kept} traces kept", flush=True)
    finally:
        if world.main:
            data_f.close()
            prob_f.close()


def _append(data_f, prob_f, rec: dict) -> None:
    """4. a problem's data rows (popped from ``rec``) to ``data.jsonl``, then its record, with the data
    file's length after them, to ``problems.jsonl``; each file synced to disk before the next is written."""
    for row in rec.pop("rows"):
        data_f.write(json.dumps(row) + "\n")
    data_f.flush()
    os.fsync(data_f.fileno())
    rec["data_bytes"] = data_f.tell()
    prob_f.write(json.dumps(rec) + "\n")
    prob_f.flush()
    os.fsync(prob_f.fileno())


def _one_problem(cfg: SampleConfig, task, problem, prompt: str, texts: list[str], lengths: list[int],
                 keep_if) -> dict:
    """2-3. verify, filter, deduplicate and select one problem's completions; its record and data rows (with
    ``prompt``, the text the model read)."""
    verdicts = [task.verify(problem, t) for t in texts]
    correct = [v.correct for v in verdicts]
    fmt = [v.format_ok or not cfg.require_format for v in verdicts]
    legible = [keep_if is None or bool(keep_if(task, t)) for t in texts]
    ok = [a and b and c for a, b, c in zip(correct, fmt, legible)]
    rng = random.Random(f"select:{cfg.seed}:{problem.id}")
    kept = select(texts, lengths, ok, cfg.keep, cfg.order, cfg.dedup, rng)
    pass_rate = sum(correct) / len(texts)
    rows = [{"prompt": prompt, "completion": texts[i], "problem_id": problem.id, "answer": problem.answer,
             "difficulty": problem.difficulty, "tokens": lengths[i], "pass_rate": pass_rate} for i in kept]
    dropped = {"format": sum(c and not f for c, f in zip(correct, fmt)),
               "keep_if": sum(c and f and not r for c, f, r in zip(correct, fmt, legible)),
               "duplicate_or_over_keep": sum(ok) - len(kept)}
    return {"id": problem.id, "n": len(texts), "correct": sum(correct), "kept": len(kept), "pass_rate": pass_rate,
            "dropped": dropped, "rows": rows}


def summarise(cfg: SampleConfig, records: list[dict], path: str, step: int | None, seconds: float) -> dict:
    """The dataset's provenance and totals."""
    n = max(1, len(records))
    return {
        "provenance": {"model": cfg.model or "shipped base", "model_path": path, "model_step": step,
                       "task": asdict(cfg.task), "split": cfg.split, "seed": cfg.seed, "n": cfg.n,
                       "sampling": asdict(cfg.sampling), "keep": cfg.keep, "order": cfg.order,
                       "require_format": cfg.require_format, "keep_if": cfg.keep_if,
                       "dedup": cfg.dedup},
        "problems": len(records), "traces_kept": sum(r["kept"] for r in records),
        "problems_with_a_trace": sum(r["kept"] > 0 for r in records),
        "mean_pass_rate": sum(r["pass_rate"] for r in records) / n,
        "dropped": {k: sum(r["dropped"][k] for r in records) for k in ("format", "keep_if", "duplicate_or_over_keep")},
        "seconds_this_session": round(seconds, 1),
    }
