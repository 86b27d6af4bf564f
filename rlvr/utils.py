"""Small shared helpers: threads, seeding, atomic writes, run directories, metrics."""
from __future__ import annotations

import json
import os
import random
import shutil
import time
from pathlib import Path

import numpy as np


def set_threads(n: int) -> None:
    """Torch intra-op threads for this process (1 by default: on a shared 2-core machine two threads
    per process ran 4x slower than one)."""
    import torch

    if n < 1:
        raise ValueError(f"threads must be >= 1, got {n}")
    torch.set_num_threads(n)
    os.environ.setdefault("OMP_NUM_THREADS", str(n))


def seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_state() -> dict:
    import torch

    return {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}


def set_rng_state(state: dict) -> None:
    import torch

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


def atomic_dir(final: str | Path, fill) -> Path:
    """Build a directory in a temporary sibling with ``fill(tmp_path)``, fsync, then rename into place."""
    final = Path(final)
    tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    fill(tmp)
    for p in tmp.rglob("*"):
        if p.is_file():
            with open(p, "rb") as f:
                os.fsync(f.fileno())
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        os.replace(final, old)
    os.replace(tmp, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return final


def save_model_dir(where: str | Path, model, tokenizer, state: dict | None = None,
                   files: dict[str, str] | None = None) -> Path:
    """A Hugging Face model folder (weights and tokenizer), plus ``state.pt`` (optimizer, RNG, step...)
    and any text files, written atomically through ``atomic_dir``."""
    import torch

    def fill(tmp: Path):
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        if state is not None:
            torch.save(state, tmp / "state.pt")
        for name, text in (files or {}).items():
            (tmp / name).write_text(text)
    Path(where).parent.mkdir(parents=True, exist_ok=True)
    return atomic_dir(where, fill)


class MetricsLog:
    """Append-only JSONL metrics, one flushed line per record; optional TensorBoard mirror."""

    def __init__(self, path: str | Path, tensorboard_dir: str | Path | None = None):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._f = open(self.path, "a")
        self._tb = None
        if tensorboard_dir is not None:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._tb = SummaryWriter(str(tensorboard_dir))
            except Exception:  # tensorboard is optional
                self._tb = None

    def log(self, step: int, metrics: dict) -> None:
        rec = {"step": step, "time": round(time.time(), 3), **metrics}
        self._f.write(json.dumps(rec) + "\n")
        self._f.flush()
        if self._tb is not None:
            for k, v in metrics.items():
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    self._tb.add_scalar(k, v, step)

    def close(self) -> None:
        self._f.close()
        if self._tb is not None:
            self._tb.close()


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
    import platform

    import torch
    import transformers

    return {"python": platform.python_version(), "torch": torch.__version__,
            "transformers": transformers.__version__, "threads": torch.get_num_threads(),
            "machine": platform.machine(), "cpus": os.cpu_count()}
