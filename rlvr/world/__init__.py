"""The embedded world: tasks' worked solutions, a character tokenizer and a tiny Llama base."""
from pathlib import Path


def shipped_base_path() -> Path:
    """The folder of the base model shipped inside the package."""
    return Path(__file__).resolve().parent.parent / "assets" / "base"
