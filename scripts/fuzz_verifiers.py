"""Fuzz the verifiers: hostile and random completions, exceptions, escapes and time per verification.

    python scripts/fuzz_verifiers.py --n 100000 --tasks arithmetic,countdown
    python scripts/fuzz_verifiers.py --n 2000 --tasks code --hostile-share 0.5
    python scripts/fuzz_verifiers.py --tasks dataset --graders numeric,exact,choice --n 20000
    python scripts/fuzz_verifiers.py --tasks dataset --graders code --code-n 2000 --hostile-share 0.25

The dataset task is fuzzed once per grader (``--graders``), on a small dataset of that grader's answers
(``rlvr.tasks.fuzz_graders.ROWS``) written to a temporary folder; ``--math-n`` (300) is math's own
size, as math-verify takes up to 3 s on a hostile answer, and ``--code-n`` (300) the code grader's, as each
completion that defines the function starts a sandbox process (up to 2 s of wall clock under fuzz).

See rlvr/tasks/fuzz.py for the corpus, the oracle and what counts as an escape. Prints one JSON line
per task and grader (tried, exceptions, escapes, right, p50/p99/max milliseconds) and exits 1 on any exception or
escape. Run it from an empty folder or with --workdir: files appearing there count as escapes.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

from rlvr.tasks import get_task
from rlvr.tasks.fuzz import fuzz
from rlvr.tasks.fuzz_graders import ROWS, dataset_task


def _tasks(a, data: str):
    """(task, n) for each task named, the dataset task once per grader."""
    for name in a.tasks.split(","):
        if name == "dataset":
            for grader in a.graders.split(","):
                yield dataset_task(data, grader), {"math": a.math_n, "code": a.code_n}.get(grader, a.n)
            continue
        kwargs = {"ops": "+-*", "min_digits": 2, "max_digits": 7} if name == "arithmetic" else \
            {"cpu_s": 1, "wall_s": 2.0} if name == "code" else {}
        yield get_task(name, **kwargs), a.n


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=3000, help="completions per task")
    ap.add_argument("--tasks", default="arithmetic,countdown,code,dataset")
    ap.add_argument("--graders", default=",".join(ROWS), help="the dataset task's graders to fuzz")
    ap.add_argument("--math-n", type=int, default=300, help="completions for the dataset task's math grader")
    ap.add_argument("--code-n", type=int, default=300, help="completions for the dataset task's code grader")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--hostile-share", type=float, default=0.05, help="share of completions drawn from the hostile list")
    ap.add_argument("--workdir", help="folder watched for files (default: a fresh temporary one)")
    a = ap.parse_args(argv)
    failed = False
    data = tempfile.TemporaryDirectory(prefix="rlvr-dataset-")
    for task, n in _tasks(a, data.name):
        with tempfile.TemporaryDirectory() as tmp:
            workdir = a.workdir or tmp
            cwd = os.getcwd()
            os.chdir(workdir)
            try:
                t0 = time.time()
                rep = fuzz(task, n, seed=a.seed, hostile_share=a.hostile_share, workdir=workdir)
            finally:
                os.chdir(cwd)
        s = rep.summary()
        s["seconds"] = round(time.time() - t0, 1)
        print(json.dumps(s), flush=True)
        failed |= bool(rep.exceptions or rep.escapes)
    data.cleanup()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
