"""The embedded world: tasks' worked solutions, a character tokenizer and a tiny Llama base."""
from pathlib import Path


def shipped_base_path() -> Path:
    """The folder of the base model shipped inside the package."""
    return Path(__file__).resolve().parent.parent / "assets" / "base"


def shipped_models() -> dict[str, Path]:
    """Every model shipped inside the package by name: ``base`` and the distillation students
    (``student_quarter``, ``student_half``); a pipeline names each ``"@NAME"``."""
    assets = Path(__file__).resolve().parent.parent / "assets"
    return {d.name: d for d in sorted(assets.iterdir()) if (d / "config.json").is_file()}
