"""Which model a config means, in one place.

A model is named by
  - nothing (``""``): the base model shipped inside the package;
  - ``@NAME``: a model shipped inside the package (``@base``, ``@student_quarter``, ``@student_half``);
  - a run directory: its ``final/`` model, or while it trains its newest valid checkpoint;
  - a Hugging Face model folder (a ``save_pretrained`` folder with ``config.json``).

``resolve_model`` returns the folder to load with the training step it stands for (when known) and a
short name for tables; every stage and command resolves models through it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from . import checkpoint

ASSETS = Path(__file__).resolve().parent / "assets"
"""Where the package keeps its shipped models, one folder each."""


def shipped_models() -> dict[str, Path]:
    """Every model shipped inside the package by name: ``base`` and the distillation students."""
    return {d.name: d for d in sorted(ASSETS.iterdir()) if (d / "config.json").is_file()}


def shipped_base_path() -> Path:
    """The folder of the base model shipped inside the package."""
    return ASSETS / "base"


@dataclass
class ResolvedModel:
    path: str              # the folder (or hub id) to load
    name: str              # a short name for tables
    step: int | None       # the training step it stands for, when known


def resolve_model(model: str) -> ResolvedModel:
    """The model ``model`` names (see the module docstring). A name that is no folder is passed on as
    it is (a hub id, loaded by transformers if it is cached)."""
    if not model:
        return ResolvedModel(str(shipped_base_path()), "base", None)
    if model.startswith("@"):
        shipped = shipped_models()
        if model[1:] not in shipped:
            raise ValueError(f"{model} names no shipped model; shipped: {', '.join('@' + n for n in shipped)}")
        return ResolvedModel(str(shipped[model[1:]]), model[1:], _run_steps(shipped[model[1:]]))
    p = Path(model)
    if (p / "final" / "config.json").is_file():
        return ResolvedModel(str(p / "final"), p.resolve().name, _run_steps(p / "final"))
    newest = checkpoint.latest(p / "checkpoints") if (p / "checkpoints").is_dir() else None
    if newest is not None:
        return ResolvedModel(str(newest), p.resolve().name, int(newest.name.split("-")[1]))
    if p.exists():
        name = "base" if p.resolve() == shipped_base_path() else p.resolve().name
        return ResolvedModel(str(p), name, _run_steps(p))
    return ResolvedModel(model, model.rstrip("/").split("/")[-1], None)


def is_model_folder(model: str) -> bool:
    """Whether ``model`` resolves to a folder holding a Hugging Face model (config.json)."""
    try:
        return (Path(resolve_model(model).path) / "config.json").is_file()
    except ValueError:
        return False


def _run_steps(folder: Path) -> int | None:
    """The training steps recorded in a final model's run.json (None for a model without one)."""
    try:
        return json.loads((Path(folder) / "run.json").read_text()).get("steps")
    except (OSError, ValueError, AttributeError):
        return None
