"""Do two runs retrace each other? Their metrics step by step (wall-clock keys aside) and their summaries.

    python scripts/compare_runs.py runs/demo-before runs/demo-after

Prints whether ``metrics.jsonl`` is identical, else the first step that differs, by how much, and how
far apart the values drift over the run; then every number of ``summary.json`` side by side with its
difference. Exit code 0 when the metrics are identical, 1 otherwise.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

WALL_CLOCK = ("time", "perf/")


def _records(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]


def _numbers(tree, prefix: str = "") -> dict:
    """Every number of a nested summary by its dotted path."""
    if isinstance(tree, dict):
        return {k: v for key, sub in tree.items() for k, v in _numbers(sub, f"{prefix}{key}.").items()}
    if isinstance(tree, list):
        return {k: v for i, sub in enumerate(tree) for k, v in _numbers(sub, f"{prefix}{i}.").items()}
    if isinstance(tree, (int, float)) and not isinstance(tree, bool):
        return {prefix.rstrip("."): tree}
    return {}


def compare_metrics(a: list[dict], b: list[dict]) -> dict:
    """The first differing step, its differing keys, and the largest difference per key over the run."""
    first, worst = None, {}
    for ra, rb in zip(a, b):
        keys = {k for k in ra.keys() | rb.keys() if not k.startswith(WALL_CLOCK)}
        diff = {k: (ra.get(k), rb.get(k)) for k in keys if ra.get(k) != rb.get(k)}
        if diff and first is None:
            first = {"step": ra["step"], "differences": diff}
        for k, (x, y) in diff.items():
            if isinstance(x, (int, float)) and isinstance(y, (int, float)):
                worst[k] = max(worst.get(k, 0.0), abs(x - y))
    return {"records": (len(a), len(b)), "identical": first is None and len(a) == len(b), "first": first,
            "largest": dict(sorted(worst.items(), key=lambda kv: -kv[1]))}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("a", type=Path)
    p.add_argument("b", type=Path)
    p.add_argument("--top", type=int, default=12, help="keys of the largest drift shown")
    args = p.parse_args(argv)
    res = compare_metrics(_records(args.a), _records(args.b))
    print(f"metrics.jsonl: {res['records'][0]} and {res['records'][1]} records; "
          + ("identical (wall-clock keys aside)" if res["identical"] else f"first difference at step {res['first']['step']}"))
    if res["first"]:
        for k, (x, y) in sorted(res["first"]["differences"].items()):
            print(f"  step {res['first']['step']}: {k}: {x!r} vs {y!r}")
        print("largest difference over the run:")
        for k, v in list(res["largest"].items())[:args.top]:
            print(f"  {k}: {v:.4g}")
    sa, sb = args.a / "summary.json", args.b / "summary.json"
    if sa.exists() and sb.exists():
        na, nb = _numbers(json.loads(sa.read_text())), _numbers(json.loads(sb.read_text()))
        print("summary.json (a, b, b - a):")
        for k in sorted(na.keys() & nb.keys()):
            if "seconds" not in k and "per_s" not in k and "per_step" not in k:
                print(f"  {k}: {na[k]:.4g} {nb[k]:.4g} {nb[k] - na[k]:+.4g}")
    return 0 if res["identical"] else 1


if __name__ == "__main__":
    sys.exit(main())
