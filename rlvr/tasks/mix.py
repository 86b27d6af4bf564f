"""A mixture of tasks: problems drawn from several tasks in given shares, each verified by its own task.

    task: {name: mix, kwargs: {tasks: [{name: arithmetic, weight: 3},
                                       {name: countdown, kwargs: {min_numbers: 3, max_numbers: 3}, weight: 1}]}}

Training on a mix rehearses every task in it: the remedy for forgetting a task RL does not train
(docs/pathologies.md). Each problem's task is drawn by weight from the seed, then each task draws its share
of problems; a problem keeps its task's index in ``meta["mix"]`` and ``verify`` sends it to that task. A
mix declares no capabilities (its tasks' styles and readings differ); a difficulty asked for is passed to
every task, each of which must have it.
"""
from __future__ import annotations

import random
from dataclasses import replace

from .base import Problem, Verdict, check_split


class Mix:
    name = "mix"
    capabilities = frozenset()

    def __init__(self, tasks: list | None = None):
        from . import get_task                      # the registry imports this module

        if not isinstance(tasks, list) or not tasks:
            raise ValueError("mix needs tasks: a list of {name, kwargs, weight}, e.g. "
                             "[{name: arithmetic, weight: 3}, {name: countdown, weight: 1}]")
        self.tasks, self.weights = [], []
        for i, spec in enumerate(tasks):
            if not isinstance(spec, dict) or "name" not in spec or set(spec) - {"name", "kwargs", "weight"}:
                raise ValueError(f"mix task {i} must be a mapping of name, kwargs and weight, got {spec!r}")
            weight = spec.get("weight", 1.0)
            if not isinstance(weight, (int, float)) or isinstance(weight, bool) or weight <= 0:
                raise ValueError(f"mix task {i} ({spec['name']}): weight must be a number > 0, got {weight!r}")
            if spec["name"] == "mix":
                raise ValueError("a mix cannot hold a mix")
            self.tasks.append(get_task(spec["name"], **(spec.get("kwargs") or {})))
            self.weights.append(float(weight))

    def problems(self, split: str, n: int, seed: int, difficulty: int | None = None) -> list[Problem]:
        """n problems: the task of each drawn by weight, then each task's share drawn by that task."""
        check_split(split)
        rng = random.Random(f"mix:{split}:{seed}:{difficulty}")
        order = rng.choices(range(len(self.tasks)), weights=self.weights, k=n)
        drawn = {}
        for i, task in enumerate(self.tasks):
            count = order.count(i)
            drawn[i] = iter(task.problems(split, count, seed, difficulty) if count else [])
        return [replace(p, meta={**p.meta, "mix": i}) for i in order for p in [next(drawn[i])]]

    def verify(self, problem: Problem, completion: str) -> Verdict:
        i = problem.meta.get("mix") if isinstance(problem.meta, dict) else None
        if not isinstance(i, int) or not 0 <= i < len(self.tasks):
            return Verdict(False, None, False, {"reason": "not a problem of this mix"})
        return self.tasks[i].verify(problem, completion)
