"""What a report reads from a run directory."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class RunData:
    path: Path
    name: str
    metrics: list[dict] = field(default_factory=list)
    samples: dict[int, list[dict]] = field(default_factory=dict)
    summary: dict | None = None
    evals: list[dict] = field(default_factory=list)
    comparison: dict | None = None
    config_text: str = ""
    environment: dict = field(default_factory=dict)
    pipeline: dict | None = None


def _jsonl(path: Path) -> list[dict]:
    out = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:     # a line cut by a crash mid-write: skip it
            continue
    return out


def load_run(run: str | Path) -> RunData:
    """Read a run directory: metrics, samples, the demo's summary, eval JSONs, config, environment.
    Missing files leave their part empty; a path that is not a directory is an error."""
    path = Path(run)
    if not path.is_dir():
        raise FileNotFoundError(f"{path} is not a run directory")
    d = RunData(path=path, name=path.resolve().name)
    if (path / "metrics.jsonl").exists():
        d.metrics = [r for r in _jsonl(path / "metrics.jsonl") if isinstance(r.get("step"), int)]
    for f in (path / "samples").glob("step-*.jsonl") if (path / "samples").is_dir() else []:
        try:
            step = int(f.stem.split("-", 1)[1])
        except ValueError:
            continue
        rows = [r for r in _jsonl(f) if isinstance(r.get("completion"), str) and "prompt" in r]
        if rows:
            d.samples[step] = rows
    if (path / "summary.json").exists():
        d.summary = json.loads((path / "summary.json").read_text())
        if isinstance(d.summary.get("stages"), dict):      # an experiment of chained stages (rlvr/pipeline.py)
            d.pipeline, d.summary = load_pipeline_run(path, d.summary), None
    if (path / "eval").is_dir():
        for f in sorted((path / "eval").glob("*.json")):
            try:
                ev = json.loads(f.read_text())
            except json.JSONDecodeError:
                continue
            if not isinstance(ev, dict):
                continue
            if "sweep" in ev:
                ev.setdefault("name", f.stem)
                d.evals.append(ev)
            elif "pareto" in ev:
                d.comparison = ev
    if (path / "config.yaml").exists():
        d.config_text = (path / "config.yaml").read_text()
    run_json = path / "final" / "run.json"
    if run_json.exists():
        d.environment = json.loads(run_json.read_text()).get("environment", {})
    return d


def load_pipeline_run(path: Path, summary: dict) -> dict:
    """What the report shows of a pipeline run: each SFT or GRPO stage's validation accuracy against
    step, each demonstrate stage's accuracy (the demonstrations' ceiling), and each measure stage's
    figures per model."""
    out: dict = {"curves": {}, "ceilings": {}, "measures": {}}
    for name, info in summary["stages"].items():
        kind, stage_dir = info.get("stage"), path / name
        if kind in ("sft", "grpo") and (stage_dir / "metrics.jsonl").exists():
            ev = [r for r in _jsonl(stage_dir / "metrics.jsonl") if "eval/accuracy" in r]
            out["curves"][name] = {"stage": kind, "steps": [r["step"] for r in ev],
                                   "accuracy": [r["eval/accuracy"] for r in ev]}
        elif kind == "demonstrate" and (stage_dir / "summary.json").exists():
            out["ceilings"][name] = json.loads((stage_dir / "summary.json").read_text()).get("accuracy")
        elif kind == "measure" and isinstance(summary.get(name), dict):
            out["measures"][name] = summary[name]
    return out
