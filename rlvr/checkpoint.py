"""Checkpoints that survive a crash at any moment, kept by recency and by validation accuracy.

A run's ``checkpoints/`` holds one folder per saved step, ``step-000010/``: a Hugging Face model folder
(weights and tokenizer, loadable as is), ``state.pt`` (optimizer, RNG states, step, sampler and the
metrics file's position) and, written last, ``manifest.json`` with the step, the metrics of that step
and the size and SHA-256 of every file. The folder is built under a temporary name, every file
fsync'd, then renamed into place (``utils.atomic_dir``). On resume only folders whose manifest is valid
and whose files match it count (``latest``); a temporary folder, a folder without a manifest or with a
damaged file is ignored, and removed by ``prune``, which keeps the newest ``keep`` checkpoints and the
best one by a validation metric.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

from .utils import read_manifest, save_model_dir

_NAME = re.compile(r"step-(\d{6,})")


def save(root: str | Path, step: int, model, tokenizer, state: dict, metrics: dict | None = None) -> Path:
    """Write checkpoint ``step`` under ``root`` (the manifest last) and return its folder."""
    manifest = {"step": step, "metrics": {k: v for k, v in (metrics or {}).items()
                                          if isinstance(v, (int, float)) and not isinstance(v, bool)}}
    return save_model_dir(Path(root) / f"step-{step:06d}", model, tokenizer, state=state, manifest=manifest)


def valid(root: str | Path, verify_digests: bool = False) -> list[tuple[int, Path, dict]]:
    """(step, folder, manifest) of every valid checkpoint under ``root``, oldest first. Sizes are always
    checked; SHA-256 digests with ``verify_digests``."""
    root = Path(root)
    out = []
    if not root.is_dir():
        return out
    for p in root.iterdir():
        m = _NAME.fullmatch(p.name)
        if not (m and p.is_dir()):
            continue
        manifest = read_manifest(p, verify_digests)
        if manifest is not None and manifest.get("step") == int(m.group(1)):
            out.append((int(m.group(1)), p, manifest))
    return sorted(out, key=lambda t: t[0])


def latest(root: str | Path) -> Path | None:
    """The newest checkpoint whose files all match its manifest (digests checked), or None."""
    for step, folder, _ in reversed(valid(root)):
        if read_manifest(folder, verify_digests=True) is not None:
            return folder
    return None


def best(root: str | Path, metric: str = "eval/accuracy") -> Path | None:
    """The valid checkpoint with the highest ``metric`` in its manifest (the earliest on a tie)."""
    return _best(valid(root), metric)


def _best(entries: list, metric: str) -> Path | None:
    scored = [(m["metrics"][metric], -step, folder) for step, folder, m in entries
              if isinstance(m.get("metrics", {}).get(metric), (int, float))]
    return max(scored)[2] if scored else None


def prune(root: str | Path, keep: int, metric: str = "eval/accuracy", newest: int | None = None) -> list[Path]:
    """Remove all but the newest ``keep`` valid checkpoints and the best by ``metric``, and every
    temporary or invalid folder (and, with ``newest``, every checkpoint of a later step: those a resume
    did not take); returns what was removed. Call it only while no checkpoint is being written to
    ``root`` (one writer per run)."""
    root = Path(root)
    if not root.is_dir():
        return []
    ok = [c for c in valid(root) if newest is None or c[0] <= newest]
    kept = {folder for _, folder, _ in ok[-keep:]} if keep > 0 else set()
    top = _best(ok, metric)
    if top is not None:
        kept.add(top)
    removed = []
    for p in root.iterdir():
        if p not in kept and p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
    return removed
