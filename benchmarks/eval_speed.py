"""Wall time of ``rlvr eval`` on the shipped base: 500 test problems x 16 samples (the issue's goal: under
two minutes on a 2-core machine), with the load average before and after, since a shared machine runs
slower. Run: ``python benchmarks/eval_speed.py [--threads 1] [--problems 500] [--samples 16]``."""
import argparse
import os
import tempfile
import time

from rlvr.eval.evaluate import EvalConfig, evaluate_models
from rlvr.utils import set_threads
from rlvr.world import shipped_base_path

ap = argparse.ArgumentParser()
ap.add_argument("--threads", type=int, default=1)
ap.add_argument("--problems", type=int, default=500)
ap.add_argument("--samples", type=int, default=16)
args = ap.parse_args()
set_threads(args.threads)
load0 = os.getloadavg()
t0 = time.time()
with tempfile.TemporaryDirectory() as out:
    res = evaluate_models([str(shipped_base_path())], EvalConfig(n_problems=args.problems, samples=args.samples),
                          out, progress=lambda s: None)
wall = time.time() - t0
r = res["models"]["base"]
print(f"{args.problems} problems x {args.samples} samples, budgets {r['config']['budgets']}, threads {args.threads}")
print(f"sampling {r['sampling_seconds']} s ({r['tokens_sampled']} tokens, "
      f"{r['tokens_sampled'] / r['sampling_seconds']:.0f} tokens/s); all figures {r['seconds']} s; wall {wall:.1f} s")
print(f"load average (1 min) before {load0[0]:.2f}, after {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
