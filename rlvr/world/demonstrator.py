"""An imperfect human demonstrator for the world: demonstrations written the way people write them.

People who write demonstrations give bare answers or short work, and some of their answers are wrong.
``demonstrations`` draws train problems of the arithmetic task, writes each in a style drawn from
``style_weights`` with the world's ``arithmetic_trace(problem, style, rng, **trace)`` (so the work is in
the notation of the shipped base: ``trace`` holds its corpus's notation, ``configs/base.yaml``), and with
probability ``error_rate`` replaces the final answer with a wrong one: one digit of it changed,
everything else of the trace kept. The set plays the part of human-written SFT data:
``rlvr sft`` on it should stop near the demonstrations' own accuracy, which GRPO against the verifier
can pass.

Output (``out/``): ``data.jsonl`` ({prompt, completion, problem_id, style, correct}, an SFT dataset),
``summary.json`` (counts, observed error rate) and ``config.yaml``.
"""
from __future__ import annotations

import json
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..config import ConfigError, require, require_choice, require_number, to_yaml, validate
from ..tasks import get_task
from ..tasks.arithmetic import STYLES
from ..tasks.base import SPLITS
from ..utils import atomic_write_text, prepare_run_dir
from .arithmetic_traces import CHECK_LAYOUTS, arithmetic_trace
from .segments import trace_text


@dataclass
class DemonstratorConfig:
    out: str = "runs/demonstrations"
    """Output folder: data.jsonl, summary.json, config.yaml."""
    task_kwargs: dict = field(default_factory=lambda: {"ops": "+-", "min_digits": 4, "max_digits": 6})
    """Arguments of the arithmetic task the problems come from (ops, min_digits, max_digits)."""
    split: str = "train"
    """Split the problems come from."""
    examples: int = 2000
    """Demonstrations written (one per problem)."""
    seed: int = 0
    """Seed of the problems, styles and errors."""
    style_weights: dict = field(default_factory=lambda: {"stepwise": 1.0})
    """Share of each style: short work (stepwise) by default; bare answers (direct) and check are allowed
    too. A model of the world's size cannot compute bare answers of 4+ digits, so SFT on bare answers
    stays far below their accuracy (docs/sft_vs_rl.md)."""
    error_rate: float = 0.25
    """Chance that a demonstration's final answer is wrong (one digit changed; the rest of it kept). At
    25% the set is right 75% of the time, which leaves room for RL (whose ceiling is 100%) to end 20
    points above SFT's plateau near it; at 15% it could not."""
    separators: float = 0.0
    """Share of demonstrations whose (right or wrong) final answer is written with thousands separators
    (``16,901``): an unusual format the strict verifier refuses (the too-strict side of verifier gaming,
    docs/pathologies.md)."""
    p_slip: float = 0.4
    """Share of check-style demonstrations whose first attempt slips (caught by the check; the check layout
    ``section`` only)."""
    trace: dict = field(default_factory=lambda: dict(SHIPPED_NOTATION))
    """Keyword arguments of ``arithmetic_trace`` (world/arithmetic_traces.py): the notation the
    demonstrations are written in. The default is the shipped base's (``corpus.arithmetic_trace_kwargs``
    of ``configs/base.yaml``, less its loss weights): a subtraction line decides its borrow before it
    writes the line, a check tests each column line on the line below it by the inverse operation.
    ``trace={}`` writes the trace's plain defaults (the borrow after the line, a check section after the
    work)."""

    def check(self) -> None:
        """Choices and ranges of every field (``config.validate``)."""
        require(bool(self.out), "out", "is empty", "name the output folder, e.g. out=runs/demonstrations")
        try:
            get_task("arithmetic", **self.task_kwargs)
        except (ValueError, TypeError) as e:
            raise ConfigError("task_kwargs", str(e), "fix the arithmetic task's arguments") from None
        require_choice(self.split, SPLITS, "split")
        require_number(self.examples, "examples", 1, fix="e.g. examples=2000")
        require(bool(self.style_weights), "style_weights", "is empty", "e.g. style_weights={direct: 0.5, stepwise: 0.5}")
        for k, w in self.style_weights.items():
            require_choice(k, STYLES, f"style_weights.{k}")
            require_number(w, f"style_weights.{k}", 0, fix="weights are shares >= 0")
        require(sum(self.style_weights.values()) > 0, "style_weights", "the weights sum to 0", "give one a positive weight")
        require_number(self.error_rate, "error_rate", 0, 1, fix="a share, e.g. 0.25")
        require_number(self.p_slip, "p_slip", 0, 1, fix="a share, e.g. 0.4")
        require_number(self.separators, "separators", 0, 1, fix="a share, e.g. 0.5")
        require(isinstance(self.trace, dict), "trace", f"must be a mapping, got {self.trace!r}",
                "e.g. 'trace={borrow_first: true}'")
        for k, v in self.trace.items():
            require_choice(k, TRACE_KEYS, f"trace.{k}")
            if k in ("carry_first", "rewrite_wait", "borrow_first"):
                require(isinstance(v, bool), f"trace.{k}", f"must be true or false, got {v!r}", f"e.g. trace.{k}=true")
            elif k == "check_layout":
                require_choice(v, CHECK_LAYOUTS, "trace.check_layout")
            else:
                require_number(v, f"trace.{k}", 0, 1, fix="a chance, e.g. 0.3")
        try:                               # the trace checks its own values: write one of each style
            task = get_task("arithmetic", **self.task_kwargs)
            p = task.problems(self.split, 1, seed=0)[0]
            for style in self.style_weights:
                arithmetic_trace(p, style, random.Random(0), p_slip=self.p_slip, **self.trace)
        except (ValueError, TypeError, KeyError) as e:
            raise ConfigError("trace", f"{type(e).__name__}: {e}", "fix the notation's values") from None


SHIPPED_NOTATION = {"check_layout": "inline_inverse", "p_line_slip": 0.3, "rewrite_wait": False, "borrow_first": True}
"""The shipped base's arithmetic notation (``configs/base.yaml``; a test keeps the two equal)."""
TRACE_KEYS = ("carry_first", "check_layout", "p_line_slip", "rewrite_wait", "borrow_first", "p_check_slip")
"""The notation keywords of ``arithmetic_trace`` a demonstration may set."""

_ANSWER = re.compile(r"<answer>([^<]*)</answer>")


def wrong_answer(answer: str, rng: random.Random) -> str:
    """``answer`` (a whole number) with one digit changed: never the same number, never a leading zero."""
    sign, digits = ("-", answer[1:]) if answer.startswith("-") else ("", answer)
    i = rng.randrange(len(digits))
    choices = [d for d in "0123456789" if d != digits[i] and not (d == "0" and i == 0 and len(digits) > 1)]
    return sign + digits[:i] + rng.choice(choices) + digits[i + 1:]


def with_answer(completion: str, answer: str) -> str:
    """``completion`` with the content of its (last) answer tag replaced by ``answer``."""
    tags = list(_ANSWER.finditer(completion))
    if not tags:
        raise ValueError("the completion has no answer tag")
    m = tags[-1]
    return completion[:m.start(1)] + answer + completion[m.end(1):]


def demonstrations(cfg: DemonstratorConfig) -> list[dict]:
    """The demonstration records, deterministic in the config."""
    task = get_task("arithmetic", **cfg.task_kwargs)
    problems = task.problems(cfg.split, cfg.examples, seed=cfg.seed)
    rng = random.Random(f"demonstrator:{cfg.seed}")
    styles = list(cfg.style_weights)
    rows = []
    for p in problems:
        style = rng.choices(styles, weights=[cfg.style_weights[s] for s in styles])[0]
        text = trace_text(arithmetic_trace(p, style, rng, p_slip=cfg.p_slip, **cfg.trace))
        wrong = rng.random() < cfg.error_rate
        answer = wrong_answer(p.answer, rng) if wrong else p.answer
        separated = cfg.separators > 0 and rng.random() < cfg.separators      # no draw at 0: sets stay as they were
        if wrong or separated:
            text = with_answer(text, f"{int(answer):,}" if separated else answer)
        rows.append({"prompt": p.prompt, "completion": text, "problem_id": p.id, "style": style, "correct": not wrong,
                     "separated": separated})
    return rows


def write_demonstrations(cfg: DemonstratorConfig, resume: bool = False, overwrite: bool = False) -> Path:
    """Write the demonstration set to ``cfg.out``; returns the path of data.jsonl. With ``resume`` a
    finished set is kept as it is (the set is a function of the config)."""
    validate(cfg)
    try:
        rows = demonstrations(cfg)
    except ValueError as e:
        raise ConfigError("examples", str(e), "ask for fewer demonstrations") from None
    out = prepare_run_dir(cfg.out, resume, overwrite)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "config.yaml", to_yaml(cfg))
    atomic_write_text(out / "data.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    n = len(rows)
    summary = {"examples": n, "wrong": sum(not r["correct"] for r in rows),
               "accuracy": sum(r["correct"] for r in rows) / n,
               "styles": dict(Counter(r["style"] for r in rows)), "error_rate": cfg.error_rate,
               "separated": sum(r["separated"] for r in rows)}
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2))
    return out / "data.jsonl"
