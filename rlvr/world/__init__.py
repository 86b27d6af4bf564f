"""The embedded world: tasks' worked solutions, a character tokenizer and a tiny Llama base."""
from pathlib import Path

ASSETS = Path(__file__).resolve().parent.parent / "assets"
"""Where the package keeps its shipped models, one folder each."""


def shipped_base_path() -> Path:
    """The folder of the base model shipped inside the package."""
    return ASSETS / "base"


def shipped_models() -> dict[str, Path]:
    """Every model shipped inside the package by name: ``base`` and the distillation students
    (``student_quarter``, ``student_half``); a pipeline names each ``"@NAME"``."""
    return {d.name: d for d in sorted(ASSETS.iterdir()) if (d / "config.json").is_file()}
