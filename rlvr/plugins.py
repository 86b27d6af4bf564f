"""Plugins: what an installed package adds to rlvr, through Python entry points.

A package declares them in its ``pyproject.toml``; rlvr's own embedded world plugs in this way too::

    [project.entry-points."rlvr.stages"]
    pretrain = "rlvr.world.stages:PRETRAIN"       # a stages.Stage: a command, a step of `rlvr run`

    [project.entry-points."rlvr.behaviour"]
    readability = "rlvr.world.readability:behaviour_metrics"   # (task, completions, correct) -> dict

    [project.entry-points."rlvr.probes"]
    faithfulness = "rlvr.world.faithfulness:probe"  # (model, tokenizer, task, problems, sampling, seed) -> dict

Groups:
  - ``rlvr.stages``: a ``Stage`` each, added to the command line and to experiment files;
  - ``rlvr.commands``: ``add(subparsers)`` functions that add a subcommand of their own;
  - ``rlvr.behaviour``: extra behaviour metrics of a task's completions, logged at every step and
    validation (an entry returns {} for tasks it does not know);
  - ``rlvr.probes``: extra measurements of ``rlvr eval``, run with ``--probe NAME=N``.
"""
from __future__ import annotations

from functools import lru_cache
from importlib.metadata import entry_points

GROUPS = ("rlvr.stages", "rlvr.commands", "rlvr.behaviour", "rlvr.probes")


@lru_cache(maxsize=None)
def plugins(group: str) -> dict:
    """{name: loaded object} of every entry point in ``group``, by name."""
    if group not in GROUPS:
        raise ValueError(f"unknown plugin group {group!r}; known: {', '.join(GROUPS)}")
    return {ep.name: ep.load() for ep in sorted(entry_points(group=group), key=lambda ep: ep.name)}
