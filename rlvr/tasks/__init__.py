"""The task registry and the task section of a config.

A config's ``task: {name: ..., kwargs: {...}}`` names a built-in task (``arithmetic``, ``countdown``,
``code``, ``dataset``, ``mix``: several of them in shares) or a user's own task class by dotted path (``my_pkg.tasks:Parity``); ``get_task`` builds it.
The contract a task meets is ``tasks.base.Task``.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field

from ..config import ConfigError, require, suggest
from ..registry import Registry
from .arithmetic import Arithmetic
from .base import Problem, Task, Verdict, extract_answer, has_capability, split_of  # noqa: F401
from .code import Code
from .countdown import Countdown
from .dataset import Dataset
from .mix import Mix

TASKS = Registry("task", {"arithmetic": Arithmetic, "countdown": Countdown, "code": Code, "dataset": Dataset,
                          "mix": Mix})


def task_names() -> list[str]:
    return TASKS.names()


def get_task(name: str, **kwargs) -> Task:
    """The task ``name`` (a built-in name or ``package.module:Class``) built with ``kwargs``."""
    return TASKS.get(name)(**kwargs)


@dataclass
class TaskConfig:
    name: str = "arithmetic"
    """Task: a built-in name (arithmetic, countdown, code, dataset, mix) or a dotted path package.module:Class."""
    kwargs: dict = field(default_factory=lambda: {"ops": "+-", "min_digits": 4, "max_digits": 6})
    """Arguments of the task (for arithmetic: ops, min_digits, max_digits)."""

    def check(self) -> None:
        """The task exists, takes these arguments and meets the task contract (it is built once)."""
        TASKS.check(self.name, "name")
        cls = TASKS.get(self.name)
        params = inspect.signature(cls).parameters
        takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
        for k in self.kwargs:
            require(takes_any or k in params, f"kwargs.{k}", f"the {self.name} task takes no argument {k!r}",
                    suggest(str(k), list(params), "arguments"))
        try:
            task = cls(**self.kwargs)
        except ConfigError:                           # a task that names the field itself (the dataset task)
            raise
        except (ValueError, TypeError) as e:
            raise ConfigError("kwargs", str(e), f"fix task.kwargs for the {self.name} task") from None
        require(isinstance(task, Task), "name", f"{self.name} does not meet the task contract",
                "give it name, problems(split, n, seed, difficulty=None) and verify(problem, completion) "
                "(docs/extending.md)")
        for k, v in getattr(task, "stated_kwargs", dict)().items():   # what the task chose, written to the config
            self.kwargs.setdefault(k, v)
