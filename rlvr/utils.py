"""Small shared helpers: threads, seeding, atomic writes and checked directories, run directories,
metrics."""
from __future__ import annotations

import hashlib
import json
import os
import platform
import random
import shlex
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch
import transformers
from huggingface_hub.utils import disable_progress_bars
from transformers.utils import logging as hf_logging

from .config import ConfigError


_COMMAND_LINE: list[str] = []


def set_command_line(argv: list[str]) -> None:
    """Record the ``rlvr`` command line being run (the CLI does), for the manifests and tables it writes."""
    _COMMAND_LINE[:] = list(argv)


def command_line() -> str:
    """The recorded ``rlvr ...`` command line ("" when rlvr was not started from its command line)."""
    return "rlvr " + " ".join(shlex.quote(a) for a in _COMMAND_LINE) if _COMMAND_LINE else ""


def quiet_library_progress() -> None:
    """No progress bars from transformers and the hub ("Loading weights", "Writing model shards") when
    stderr is not a terminal: a log written to a file or a pipe stays free of their debris."""
    if sys.stderr.isatty():
        return
    hf_logging.disable_progress_bar()
    disable_progress_bars()


def set_threads(n: int) -> None:
    """Torch intra-op threads for this process (1 by default: on a shared 2-core machine two threads
    per process ran 4x slower than one)."""
    if n < 1:
        raise ValueError(f"threads must be >= 1, got {n}")
    torch.set_num_threads(n)
    os.environ.setdefault("OMP_NUM_THREADS", str(n))


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_state() -> dict:
    return {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write a file so that a crash leaves either the old or the new content, never half of it."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


MANIFEST = "manifest.json"


def fsync_dir(path: str | Path) -> None:
    """Flush a directory's entries (a rename inside it) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def file_digest(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def atomic_dir(final: str | Path, fill, manifest: dict | None = None) -> Path:
    """Build a directory in a temporary sibling with ``fill(tmp_path)``, fsync every file, then rename
    it into place and fsync the parent: a crash leaves the old directory or the new one, never half.

    With ``manifest``, a ``manifest.json`` holding it plus the size and SHA-256 of every file is written
    last (``read_manifest`` checks a directory against it)."""
    final = Path(final)
    tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    fill(tmp)
    files = {}
    for p in sorted(tmp.rglob("*")):
        if p.is_file():
            with open(p, "rb") as f:
                os.fsync(f.fileno())
            files[str(p.relative_to(tmp))] = {"bytes": p.stat().st_size, "sha256": file_digest(p)}
    if manifest is not None:
        atomic_write_text(tmp / MANIFEST, json.dumps({**manifest, "files": files}, indent=1))
    fsync_dir(tmp)
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        os.replace(final, old)
    os.replace(tmp, final)
    fsync_dir(final.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return final


def read_manifest(folder: str | Path, verify_digests: bool = True) -> dict | None:
    """The manifest of a directory written by ``atomic_dir``, or None when it is missing, unreadable,
    or any file it lists is missing or differs in size (or, with ``verify_digests``, in SHA-256)."""
    folder = Path(folder)
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
        for name, meta in manifest["files"].items():
            p = folder / name
            if p.stat().st_size != meta["bytes"] or (verify_digests and file_digest(p) != meta["sha256"]):
                return None
        return manifest
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def save_model_dir(where: str | Path, model, tokenizer, state: dict | None = None,
                   files: dict[str, str] | None = None, manifest: dict | None = None) -> Path:
    """A Hugging Face model folder (weights and tokenizer), plus ``state.pt`` (optimizer, RNG, step...)
    and any text files, written atomically through ``atomic_dir`` (with ``manifest``: checked files)."""
    def fill(tmp: Path):
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        if state is not None:
            torch.save(state, tmp / "state.pt")
        for name, text in (files or {}).items():
            (tmp / name).write_text(text)
    Path(where).parent.mkdir(parents=True, exist_ok=True)
    return atomic_dir(where, fill, manifest)


def prepare_run_dir(out: str | Path, resume: bool, overwrite: bool) -> Path:
    """The run directory, checked before anything is written: an existing run is only continued with
    ``resume`` or replaced with ``overwrite`` (ConfigError otherwise). A non-empty folder that holds no
    run (no config.yaml, metrics.jsonl or checkpoints) is never deleted."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError("out", f"{out} is a file, not a run directory", "choose another out=")
    if out.is_dir() and any(out.iterdir()):
        if not any((out / name).exists() for name in ("config.yaml", "metrics.jsonl", "checkpoints")):
            raise ConfigError("out", f"{out} holds files but no run", "choose a new or empty folder for out=")
        if overwrite:
            shutil.rmtree(out)
        elif not resume:
            raise ConfigError("out", f"{out} already holds a run",
                              "pass --resume to continue it or --overwrite to start it again")
    return out


def rewind_metrics(path: str | Path, offset: int | None, step: int) -> None:
    """Cut ``metrics.jsonl`` back to where a checkpoint left it: to its recorded byte offset, or, when
    the file is shorter than that, to the records of steps up to ``step``."""
    path = Path(path)
    if not path.exists():
        return
    if offset is not None and path.stat().st_size >= offset:
        with open(path, "r+b") as f:
            f.truncate(offset)
            os.fsync(f.fileno())
    else:
        truncate_metrics(path, step)


def time_to_target(recs: list[dict], target: float) -> dict | None:
    """The first validation at or above ``target`` in a run's metrics records: its ``step``, the
    ``train_seconds`` of the training steps up to it (``perf/step_s`` summed) and the ``seconds`` on the
    clock from the first step's start, which also count the validation passes and checkpoints between
    (None for records without a ``time``). None when no validation reached it."""
    hit = next((r for r in recs if r.get("eval/accuracy", -1.0) >= target), None)
    if hit is None:
        return None
    clock = "time" in hit and "time" in recs[0]
    return {"step": hit["step"],
            "train_seconds": sum(r.get("perf/step_s", 0.0) for r in recs if r["step"] <= hit["step"]),
            "seconds": hit["time"] - recs[0]["time"] + recs[0].get("perf/step_s", 0.0) if clock else None}


class TrainingDiverged(RuntimeError):
    """Too many consecutive steps had a NaN or Inf loss or gradient; the last good checkpoint stands."""


class MetricsLog:
    """Append-only JSONL metrics, one flushed line per record; optional TensorBoard mirror.

    ``purge_step`` (on resume: the first step to be written again) drops TensorBoard events from that
    step on, as ``rewind_metrics`` does for the JSONL file. ``sync()`` returns the file's length once
    it is on disk: the position a checkpoint records.

    ``wandb_project`` mirrors every numeric metric to Weights & Biases as well (``wandb`` must be
    installed: ``pip install 'rlvr[wandb]'``). The W&B run's id is kept in the run directory, so a
    resumed run continues the same W&B run; W&B's own settings (``WANDB_MODE=offline``, the entity,
    the API key) come from its environment variables."""

    def __init__(self, path: str | Path, tensorboard_dir: str | Path | None = None, purge_step: int | None = None,
                 wandb_project: str = "", config: dict | None = None):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._f = open(self.path, "a")
        self._wandb = _wandb_run(wandb_project, self.path.parent, config) if wandb_project else None
        self._tb = None
        if tensorboard_dir is not None:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._tb = SummaryWriter(str(tensorboard_dir), purge_step=purge_step)
            except Exception:  # tensorboard is optional
                self._tb = None

    def sync(self) -> int:
        self._f.flush()
        os.fsync(self._f.fileno())
        return os.fstat(self._f.fileno()).st_size

    def log(self, step: int, metrics: dict) -> None:
        rec = {"step": step, "time": round(time.time(), 3), **metrics}
        self._f.write(json.dumps(rec) + "\n")
        self._f.flush()
        numeric = {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        if self._tb is not None:
            for k, v in numeric.items():
                self._tb.add_scalar(k, v, step)
        if self._wandb is not None:
            self._wandb.log(numeric, step=step)

    def close(self) -> None:
        self._f.close()
        if self._tb is not None:
            self._tb.close()
        if self._wandb is not None:
            self._wandb.finish()


def _wandb_run(project: str, run_dir: Path, config: dict | None):
    """A W&B run for ``run_dir``, resumed when the directory already names one."""
    try:
        import wandb
    except ImportError:
        raise RuntimeError("wandb_project is set but wandb is not installed: pip install 'rlvr[wandb]', "
                           "or leave wandb_project empty") from None
    id_file = run_dir / "wandb_id"
    run_id = id_file.read_text().strip() if id_file.exists() else wandb.util.generate_id()
    atomic_write_text(id_file, run_id)
    return wandb.init(project=project, name=run_dir.name, id=run_id, resume="allow", dir=str(run_dir),
                      config=config or {})


def truncate_metrics(path: str | Path, max_step: int) -> None:
    """Drop records after ``max_step`` (and any torn last line): used on resume."""
    path = Path(path)
    if not path.exists():
        return
    keep = []
    for line in path.read_text().splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if rec.get("step", 0) <= max_step:
            keep.append(line)
    atomic_write_text(path, "".join(l + "\n" for l in keep))


def environment() -> dict:
    return {"python": platform.python_version(), "torch": torch.__version__,
            "transformers": transformers.__version__, "threads": torch.get_num_threads(),
            "machine": platform.machine(), "cpus": os.cpu_count()}
