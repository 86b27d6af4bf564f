"""Tools a policy calls mid-trace, run with a time limit, and the config of tool-calling rollouts.

A tool is a Python callable ``fn(argument: str) -> str``, named in a config by its registered name
(``TOOLS``: ``calculator``, ``lying_calculator``, ``python``) or by a dotted path
``package.module:function``. The policy calls one by writing ``<tool>NAME ARGUMENT</tool>`` (or, with
``format: chat``, in its chat template's own tool-call format: ``formats.py``); the rollout stops there,
the tool runs, and ``<result>OUTPUT</result>`` is appended to the context before generation resumes
(``rollout/episodes.py``). A tool never crashes a run: whatever it raises, a time limit it passes, or a
worker that dies becomes the output text (``error: ...``).

``ToolBox`` runs the calls in worker processes (``tasks/pool.py``, the verifier's pool: a hard time
limit per call, a memory limit, a worker killed and replaced when it passes the limit). With
``workers: 0`` calls run in the training process, without a time limit.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..config import require, require_number
from ..registry import Registry
from ..tasks.base import Verdict
from .builtin import calculator, lying_calculator, python
from .formats import FORMATS, tool_format

TOOLS = Registry("tool", {"calculator": calculator, "lying_calculator": lying_calculator, "python": python})
"""Tools by name; a dotted path ``package.module:function`` names a user's own. Signature:
``fn(argument: str) -> str``."""


@dataclass
class ToolsConfig:
    names: list = field(default_factory=list)
    """Tools the policy may call, by registered name or dotted path (empty: no tools)."""
    environment: str = ""
    """A dotted path to a multi-turn environment factory ``make(problem, tools) -> Environment``
    (``rollout/episodes.py``); empty: the tool-calling environment when tools are named."""
    format: str = "tags"
    """How the policy calls a tool: ``tags`` (``<tool>NAME ARGUMENT</tool>``, answered
    ``<result>OUTPUT</result>``) or ``chat`` (the chat template's: ``<tool_call>{"name": ..., "arguments":
    {...}}</tool_call>``, answered by the template's tool message; ``tools/formats.py``)."""
    call_open: str = ""
    """Text that opens a tool call; empty: the format's own (``<tool>``; ``<tool_call>`` for chat)."""
    call_close: str = ""
    """Text that closes a tool call, where generation stops and the tool runs; empty: the format's own
    (``</tool>``; ``</tool_call>`` for chat)."""
    result_open: str = ""
    """Text before a tool's output in the context (tags format); empty: ``<result>``."""
    result_close: str = ""
    """Text after a tool's output in the context (tags format); empty: ``</result>``."""
    max_calls: int = 4
    """Most tool calls per rollout; a further call ends the rollout."""
    max_output_chars: int = 200
    """A tool's output is cut to this many characters."""
    timeout_s: float = 5.0
    """Wall-clock limit of one call (workers > 0)."""
    workers: int = 1
    """Worker processes that run the calls; 0 runs them in the training process, with no time limit."""

    @property
    def enabled(self) -> bool:
        return bool(self.names or self.environment)

    def check(self) -> None:
        """Ranges of every field (``config.validate``); unknown tools are config errors."""
        for name in self.names:
            TOOLS.check(name, "tools.names")
        if self.environment:
            from ..registry import import_object
            try:
                import_object(self.environment)
            except ValueError as e:
                require(False, "tools.environment", str(e), "give package.module:make_episode, a function "
                        "(problem, tools) -> Environment")
        require(self.format in FORMATS, "tools.format", f"unknown format {self.format!r}",
                f"one of: {', '.join(FORMATS)}")
        require(all(isinstance(s, str) for s in (self.call_open, self.call_close, self.result_open,
                                                 self.result_close)), "tools",
                "the call and result tags must be text", "e.g. tools.call_open='<tool>'")
        require_number(self.max_calls, "tools.max_calls", 1, fix="e.g. tools.max_calls=4")
        require_number(self.max_output_chars, "tools.max_output_chars", 1, fix="e.g. tools.max_output_chars=200")
        require_number(self.timeout_s, "tools.timeout_s", 0, low_open=True, fix="e.g. tools.timeout_s=5")
        require_number(self.workers, "tools.workers", 0, fix="0 runs tools in this process; e.g. tools.workers=1")


def call_name(tool: str) -> str:
    """The name a policy calls a tool by: its registered name, or the attribute of its dotted path."""
    return tool.partition(":")[2] or tool


class _Runner:
    """What a pool worker holds: ``verify(name, argument)`` runs the tool called ``name`` and returns its
    output as a verdict's ``parsed`` text, or its error in ``info`` (the pool's protocol carries verdicts)."""

    def __init__(self, tools: list[str]):
        self.tools = {call_name(t): t for t in tools}

    def verify(self, name: str, argument: str) -> Verdict:
        if name not in self.tools:
            return Verdict(False, None, True, {"error": f"unknown tool {name!r}; tools: {', '.join(self.tools)}"})
        try:
            return Verdict(True, str(TOOLS.get(self.tools[name])(argument)), True, {})
        except Exception as e:  # noqa: BLE001  an error is the tool's output
            return Verdict(False, None, True, {"error": f"{type(e).__name__}: {e}"})


class ToolBox:
    """The run's tools: ``run(calls) -> outputs``, one text per (name, argument), errors included;
    ``format``, how the policy calls them (``formats.py``; the chat format needs the ``tokenizer``)."""

    def __init__(self, cfg: ToolsConfig, tokenizer=None):
        from ..tasks.pool import VerifierPool

        self.cfg = cfg
        self._runner = _Runner(cfg.names)
        self.names = list(self._runner.tools)
        """The names the policy calls the tools by (``call_name``)."""
        self.format = tool_format(cfg, {n: TOOLS.get(t) for n, t in self._runner.tools.items()}, tokenizer)
        self._pool = VerifierPool(self._runner, cfg.workers, cfg.timeout_s) if cfg.workers > 0 else None

    def run(self, calls: list[tuple[str, str]]) -> list[str]:
        """The output text of each call, in order: the tool's own, or ``error: ...``, cut to
        ``max_output_chars``."""
        if not calls:
            return []
        names, args = [c[0] for c in calls], [c[1] for c in calls]
        verdicts = (self._pool.verify_many(names, args) if self._pool is not None
                    else [self._runner.verify(n, a) for n, a in zip(names, args)])
        return [self._text(v) for v in verdicts]

    def _text(self, v: Verdict) -> str:
        if v.correct and v.parsed is not None:
            out = v.parsed
        else:
            why = v.info.get("error") or {"timeout": f"timed out after {self.cfg.timeout_s:g} s"}.get(
                v.info.get("reason"), v.info.get("reason", "no output"))
            out = f"error: {why}"
        return out[:self.cfg.max_output_chars]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def tool_metrics(ro, fmt=None) -> dict:
    """Per-step figures of multi-turn rollouts: turns per episode, the policy's own tokens per turn and the
    environment's share of the completion tokens; with tools (``fmt``, the box's format) the share of
    rollouts that call a tool, the calls per rollout and the share of calls answered with an error (a call
    counts once its result is in the context)."""
    turns = ro.turns or [1] * len(ro)
    masks = ro.action_mask or [[1] * len(c) for c in ro.completion_ids]
    own, tokens = sum(map(sum, masks)), sum(map(len, masks))
    out = {"episode/turns": sum(turns) / len(turns), "episode/own_tokens_per_turn": own / max(1, sum(turns)),
           "episode/observation_share": (tokens - own) / max(1, tokens)}
    if fmt is None:
        return out
    calls = [t.count(fmt.result_prefix) for t in ro.text]
    errors = sum(t.count(fmt.result_prefix + "error:") for t in ro.text)
    return {**out, "tools/call_share": sum(c > 0 for c in calls) / len(calls),
            "tools/calls_per_rollout": sum(calls) / len(calls), "tools/error_share": errors / max(1, sum(calls))}
