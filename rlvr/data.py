"""Rows of a user's data, in one place: JSONL, CSV and Parquet files, a folder written by ``datasets``'
``save_to_disk``, a folder of data files, or a dataset name loaded through ``datasets``.

``read_rows(source, split, field)`` yields ``(where, row)`` pairs (``where`` names the file and line for
messages); ``source_splits(source)`` lists the splits a source holds by name (None for a single file).
Names are loaded offline: a dataset that is not in the local cache is one ``ConfigError`` naming the fix.
Every problem is a ``ConfigError`` on ``field`` (the config field that named the source).
"""
from __future__ import annotations

import csv
import json
import os
from pathlib import Path

from .config import ConfigError

FILE_KINDS = (".jsonl", ".json", ".csv", ".parquet")


def _rows_jsonl(path: Path, field: str):
    with open(path) as f:
        for i, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                yield f"{path}, line {i}", json.loads(line)
            except json.JSONDecodeError:
                raise ConfigError(field, f"{path}, line {i}: not a JSON object", "write one JSON object per line") from None


def _rows_csv(path: Path, field: str):
    with open(path, newline="") as f:
        for i, row in enumerate(csv.DictReader(f), 2):
            yield f"{path}, line {i}", row


def _rows_parquet(path: Path, field: str):
    try:
        import pyarrow.parquet as pq    # an optional dependency, needed for Parquet only
    except ImportError:
        raise ConfigError(field, f"reading {path} needs pyarrow, which is not installed",
                          "pip install pyarrow, or convert the file to JSONL") from None
    try:
        table = pq.read_table(path)
    except Exception as e:  # noqa: BLE001  (pyarrow raises its own error types)
        raise ConfigError(field, f"{path} is not a readable Parquet file ({type(e).__name__})", "check the file") from None
    for i, row in enumerate(table.to_pylist()):
        yield f"{path}, row {i}", row


def _load_dataset(name: str, field: str, subset: str = ""):
    """A ``datasets`` Dataset or DatasetDict: a save_to_disk folder, or a name (with its ``subset``, the
    configuration some datasets need, e.g. GSM8K's ``main``) loaded offline."""
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        import datasets                 # an optional dependency, needed for folders and names only
    except ImportError:
        raise ConfigError(field, f"{name} is not a .jsonl, .csv or .parquet file, and reading a dataset needs the "
                          "datasets package", "pip install datasets, or give a JSONL file") from None
    p = Path(name)
    try:
        if p.is_dir() and any((p / f).exists() for f in ("dataset_info.json", "state.json", "dataset_dict.json")):
            return datasets.load_from_disk(str(p))
        return datasets.load_dataset(name, subset or None)
    except Exception as e:  # noqa: BLE001  (datasets raises many kinds)
        first = str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__
        raise ConfigError(field, f"could not load the dataset {name!r} offline ({first})",
                          "give a JSONL, CSV or Parquet file, a folder written by save_to_disk, or download the "
                          "dataset once where there is a network (datasets.load_dataset(name)) so that it is cached") from None


def _kind(source: str, field: str) -> str:
    p = Path(source)
    if p.suffix in FILE_KINDS:
        if not p.is_file():
            raise ConfigError(field, f"{source} does not exist", "give an existing JSONL, CSV or Parquet file")
        return p.suffix
    return "datasets"


def source_splits(source: str, field: str = "data", subset: str = "") -> list[str] | None:
    """The split names a source holds (a DatasetDict's), or None for a single table."""
    if _kind(source, field) != "datasets":
        return None
    ds = _load_dataset(source, field, subset)
    return list(ds) if hasattr(ds, "keys") else None


def read_rows(source: str, split: str | None = None, field: str = "data", subset: str = ""):
    """``(where, row)`` of every row of ``source`` (of its ``split``, for a source with splits; ``subset``:
    the configuration of a dataset name)."""
    kind = _kind(source, field)
    if kind in (".jsonl", ".json"):
        yield from _rows_jsonl(Path(source), field)
    elif kind == ".csv":
        yield from _rows_csv(Path(source), field)
    elif kind == ".parquet":
        yield from _rows_parquet(Path(source), field)
    else:
        ds = _load_dataset(source, field, subset)
        if hasattr(ds, "keys"):
            if split not in ds:
                raise ConfigError(field, f"{source} has no split {split!r}", f"choose among {', '.join(ds)}")
            ds = ds[split]
        for i, row in enumerate(ds):
            yield f"{source}, row {i}", row
