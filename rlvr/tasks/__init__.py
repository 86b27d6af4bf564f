"""Task registry: ``get_task(name, **kwargs)`` builds a task by name."""
from __future__ import annotations

from .base import Problem, Verdict, extract_answer, split_of  # noqa: F401


def _registry():
    from .arithmetic import Arithmetic
    from .code import Code
    from .countdown import Countdown

    return {"arithmetic": Arithmetic, "countdown": Countdown, "code": Code}


def task_names() -> list[str]:
    return sorted(_registry())


def get_task(name: str, **kwargs):
    reg = _registry()
    if name not in reg:
        raise ValueError(f"unknown task {name!r}; known tasks: {', '.join(sorted(reg))}")
    return reg[name](**kwargs)
