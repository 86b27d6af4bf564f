"""``rlvr compare``: train the same GRPO run once per algorithm choice and tabulate what each bought.

Every variant is the shared ``grpo`` config (same seed, task, budget) plus a few dotted overrides. Each
trains into ``out/NAME`` (a finished run is read back, not retrained; an unfinished one resumes), then one
table row is read from its metrics.jsonl:

- steps and training seconds (the sum of ``perf/step_s``: sampling, scoring, update; evaluation excluded)
  until the validation accuracy first reaches ``target``;
- rollouts sampled until then (dynamic sampling draws extra groups, which a step count hides);
- the final validation accuracy and mean completion length, and the final step's entropy (over the rollouts
  trained on, ``loss/entropy``; when no rollout carried signal, the sampled -log p, ``rollout/entropy``).

The table goes into ``doc`` between the markers ``<!-- SECTION:begin -->`` and ``<!-- SECTION:end -->``
(``section``, default ``compare``; the rest of the page is left alone), with the command that made it.

One seed cannot separate variants whose curves lie within the validation noise of each other. With
``seeds`` each variant trains once per seed (into ``out/NAME-sSEED``) and the table gives each seed's
steps to the target and the means over the seeds that reached it (``seeds_table``).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from .config import apply_overrides, from_dict, require, to_dict
from .train.grpo import GRPOConfig, train_grpo
from .utils import command_line, time_to_target

def markers(section: str) -> tuple[str, str]:
    """The begin and end markers of a page's section."""
    return f"<!-- {section}:begin -->", f"<!-- {section}:end -->"


BEGIN, END = markers("compare")


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
    seeds: list = field(default_factory=list)
    """Seeds to train each variant with, into ``out/NAME-sSEED`` (empty: ``grpo.seed`` only, into
    ``out/NAME``). The table then gives each seed's steps to the target and the means."""
    section: str = "compare"
    """Name of the marked section of ``doc`` that receives the table."""

    def check(self) -> None:
        """Seeds are distinct whole numbers; the section name fits in a marker."""
        require(all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in self.seeds), "seeds",
                f"must be whole numbers >= 0, got {self.seeds!r}", "e.g. seeds=[0, 1, 2]")
        require(len(set(self.seeds)) == len(self.seeds), "seeds", f"repeats a seed: {self.seeds!r}",
                "list each seed once")
        require(bool(self.section) and all(c.isalnum() or c in "-_" for c in self.section), "section",
                f"must be a non-empty name of letters, digits, - and _, got {self.section!r}", "e.g. section=seeds")


def summarise(metrics_path: Path, target: float, group_size: int, prompts_per_step: int) -> dict:
    """One table row from a run's metrics.jsonl."""
    recs = [json.loads(line) for line in metrics_path.read_text().splitlines() if line.strip()]
    row = {"steps": len(recs), "steps_to_target": None, "seconds_to_target": None, "rollouts_to_target": None}
    hit = time_to_target(recs, target)
    if hit:
        row.update(steps_to_target=hit["step"], seconds_to_target=hit["train_seconds"],
                   rollouts_to_target=sum(r.get("rollout/prompts_drawn", prompts_per_step) * group_size
                                          for r in recs if r["step"] <= hit["step"]))
    seconds = sum(r.get("perf/step_s", 0.0) for r in recs)
    last = next((r for r in reversed(recs) if "eval/accuracy" in r), {})
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


def _mean(values: list):
    return sum(values) / len(values) if values else None


def seeds_table(rows: dict, seeds: list, target: float) -> str:
    """One line per variant: steps to ``target`` for each seed ("-": not reached), then the means over
    the seeds that reached it (steps, seconds, rollouts) and over all seeds (final accuracy and length)."""
    pct = f"{target:.0%}"
    lines = [f"| variant | steps to {pct}, seeds {', '.join(map(str, seeds))} | seeds reaching {pct} | "
             f"mean steps to {pct} | mean seconds to {pct} | mean rollouts to {pct} | mean final accuracy | "
             "mean final tokens |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name, per_seed in rows.items():
        runs = [per_seed[s] for s in seeds]
        hit = [r for r in runs if r["steps_to_target"] is not None]
        lines.append(
            f"| {name} | {' / '.join(_fmt(r['steps_to_target'], 'd') for r in runs)} | {len(hit)} of {len(runs)} | "
            f"{_fmt(_mean([r['steps_to_target'] for r in hit]), '.1f')} | "
            f"{_fmt(_mean([r['seconds_to_target'] for r in hit]), '.0f')} | "
            f"{_fmt(_mean([r['rollouts_to_target'] for r in hit]), '.0f')} | "
            f"{_fmt(_mean([r['final_accuracy'] for r in runs if r['final_accuracy'] is not None]), '.3f')} | "
            f"{_fmt(_mean([r['final_mean_tokens'] for r in runs if r['final_mean_tokens'] is not None]), '.1f')} |")
    return "\n".join(lines)


def write_section(doc: Path, body: str, section: str = "compare") -> None:
    begin, end = markers(section)
    text = doc.read_text() if doc.exists() else f"# Algorithms\n\n{begin}\n{end}\n"
    if begin not in text or end not in text:
        text = text.rstrip("\n") + f"\n\n{begin}\n{end}\n"
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(f"{head}{begin}\n{body}\n{end}{tail}")


def run_compare(cfg: CompareConfig, resume: bool = False, overwrite: bool = False) -> Path:
    """Train every selected variant that has no final model yet (an unfinished one resumes, whatever
    ``resume`` says), then tabulate them all; ``overwrite`` trains the selected variants again from
    scratch. Returns the path of summary.json."""
    command = command_line()
    names = cfg.only or list(cfg.variants)
    unknown = [n for n in names if n not in cfg.variants]
    if unknown:
        raise ValueError(f"unknown variant(s) {', '.join(unknown)}; known: {', '.join(cfg.variants)}")
    rows: dict = {}
    for name in names:
        for seed in cfg.seeds or [None]:
            out = Path(cfg.out) / (name if seed is None else f"{name}-s{seed}")
            extra = [] if seed is None else [f"seed={seed}"]
            data = apply_overrides(to_dict(cfg.grpo), [*cfg.variants[name], *extra, f"out={out}"])
            gcfg = from_dict(GRPOConfig, data)
            if overwrite or not (out / "final" / "config.json").exists():
                print(f"compare: training {out.name}", flush=True)
                train_grpo(gcfg, resume=not overwrite, overwrite=overwrite)
            row = summarise(out / "metrics.jsonl", cfg.target, gcfg.group_size, gcfg.prompts_per_step)
            if seed is None:
                rows[name] = row
            else:
                rows.setdefault(name, {})[seed] = row
    made = f"Made by `{command}`.\n\n" if command else ""
    body = made + (seeds_table(rows, cfg.seeds, cfg.target) if cfg.seeds else table(rows, cfg.target))
    write_section(Path(cfg.doc), body, cfg.section)
    Path(cfg.out).mkdir(parents=True, exist_ok=True)
    (Path(cfg.out) / "summary.json").write_text(json.dumps(rows, indent=2))
    return Path(cfg.out) / "summary.json"
