"""The embedded world's arithmetic problems as a plain JSONL of questions and answers, for the dataset task.

    python scripts/export_world.py runs/world.jsonl
    rlvr run configs/world_as_dataset.yaml        # GRPO on it with the demo's settings

Each row is ``{"question": "2151+2830=\\n", "answer": "4981"}``: the prompt exactly as the world poses it
and the reference answer as text. The rows are the world's 4-6 digit addition and subtraction problems
of all three splits; the dataset task splits them again by its own hash, as it would a user's file.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from rlvr.tasks import get_task


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("out", type=Path)
    p.add_argument("--train", type=int, default=8000, help="problems of the world's train split")
    p.add_argument("--held-out", type=int, default=1000, help="problems of each of its validation and test splits")
    args = p.parse_args(argv)
    task = get_task("arithmetic", ops="+-", min_digits=4, max_digits=6)
    rows = [{"question": q.prompt, "answer": q.answer}
            for split, n in (("train", args.train), ("validation", args.held_out), ("test", args.held_out))
            for q in task.problems(split, n, seed=0)]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    print(f"wrote {len(rows)} rows to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
