"""``rlvr compare``: train the same GRPO run once per algorithm choice and tabulate what each bought.

Every variant is the shared ``grpo`` config (same seed, task, budget) plus a few dotted overrides. Each
trains into ``out/NAME`` (a finished run is read back, not retrained; an unfinished one resumes), then one
table row is read from its metrics.jsonl:

- steps and training seconds (the sum of ``perf/step_s``: sampling, scoring, update; evaluation excluded)
  until the validation accuracy first reaches ``target``;
- rollouts sampled until then (dynamic sampling draws extra groups, which a step count hides);
- the final validation accuracy and mean completion length, and the final step's entropy (over the rollouts
  trained on, ``loss/entropy``; when no rollout carried signal, the sampled -log p, ``rollout/entropy``).

The table goes into ``doc`` between the markers ``<!-- compare:begin -->`` and ``<!-- compare:end -->``
(the rest of the page is left alone), with the command that made it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from .config import apply_overrides, from_dict, to_dict
from .train.grpo import GRPOConfig, train_grpo

BEGIN, END = "<!-- compare:begin -->", "<!-- compare:end -->"


@dataclass
class CompareConfig:
    out: str = "runs/compare"
    """Folder holding one run directory per variant."""
    doc: str = "docs/algorithms.md"
    """Page whose marked section receives the table."""
    target: float = 0.9
    """Validation accuracy whose first crossing is timed."""
    only: list = field(default_factory=list)
    """Names of the variants to run (empty: all)."""
    grpo: GRPOConfig = field(default_factory=GRPOConfig)
    """The shared run: seed, task, budget, evaluation."""
    variants: dict = field(default_factory=lambda: {"grpo": []})
    """Variant name -> list of dotted overrides of ``grpo`` (e.g. ``advantage.estimator=rloo``)."""


def summarise(metrics_path: Path, target: float, group_size: int, prompts_per_step: int) -> dict:
    """One table row from a run's metrics.jsonl."""
    recs = [json.loads(line) for line in metrics_path.read_text().splitlines() if line.strip()]
    row = {"steps": len(recs), "steps_to_target": None, "seconds_to_target": None, "rollouts_to_target": None}
    seconds = rollouts = 0.0
    evals = []
    for r in recs:
        seconds += r.get("perf/step_s", 0.0)
        rollouts += r.get("rollout/prompts_drawn", prompts_per_step) * group_size
        if "eval/accuracy" in r:
            evals.append(r)
            if row["steps_to_target"] is None and r["eval/accuracy"] >= target:
                row.update(steps_to_target=r["step"], seconds_to_target=seconds, rollouts_to_target=rollouts)
    last = evals[-1] if evals else {}
    row.update(final_accuracy=last.get("eval/accuracy"), final_mean_tokens=last.get("eval/mean_tokens"),
               final_entropy=recs[-1].get("loss/entropy", recs[-1].get("rollout/entropy")) if recs else None,
               seconds=seconds)
    return row


def _fmt(v, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def table(rows: dict, target: float) -> str:
    pct = f"{target:.0%}"
    lines = [f"| variant | steps to {pct} | seconds to {pct} | rollouts to {pct} | final accuracy | "
             "final mean tokens | final entropy | steps run |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name, r in rows.items():
        lines.append(f"| {name} | {_fmt(r['steps_to_target'], 'd')} | {_fmt(r['seconds_to_target'], '.0f')} | "
                     f"{_fmt(r['rollouts_to_target'], '.0f')} | {_fmt(r['final_accuracy'], '.3f')} | "
                     f"{_fmt(r['final_mean_tokens'], '.1f')} | {_fmt(r['final_entropy'], '.3f')} | {r['steps']} |")
    return "\n".join(lines)


def write_section(doc: Path, body: str) -> None:
    text = doc.read_text() if doc.exists() else f"# Algorithms\n\n{BEGIN}\n{END}\n"
    if BEGIN not in text or END not in text:
        text = text.rstrip("\n") + f"\n\n{BEGIN}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(f"{head}{BEGIN}\n{body}\n{END}{tail}")


def run_compare(cfg: CompareConfig, command: str = "", overwrite: bool = False) -> dict:
    """Train every selected variant that has no final model yet (an unfinished one resumes), then
    tabulate them all; ``overwrite`` trains the selected variants again from scratch."""
    names = cfg.only or list(cfg.variants)
    unknown = [n for n in names if n not in cfg.variants]
    if unknown:
        raise ValueError(f"unknown variant(s) {', '.join(unknown)}; known: {', '.join(cfg.variants)}")
    rows = {}
    for name in names:
        out = Path(cfg.out) / name
        data = apply_overrides(to_dict(cfg.grpo), [*cfg.variants[name], f"out={out}"])
        gcfg = from_dict(GRPOConfig, data)
        if overwrite or not (out / "final" / "config.json").exists():
            print(f"compare: training {name}", flush=True)
            train_grpo(gcfg, resume=not overwrite, overwrite=overwrite)
        rows[name] = summarise(out / "metrics.jsonl", cfg.target, gcfg.group_size, gcfg.prompts_per_step)
    body = (f"Made by `{command}`.\n\n" if command else "") + table(rows, cfg.target)
    write_section(Path(cfg.doc), body)
    (Path(cfg.out) / "summary.json").write_text(json.dumps(rows, indent=2))
    return rows
