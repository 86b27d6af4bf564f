"""Kill a real GRPO run with SIGKILL at random moments, resume it, and compare with a run never killed.

    python scripts/kill_resume.py [--trials 12] [--steps 6] [--seed 0] [--out runs/kill-resume]

A tiny freshly initialised Llama trains on 2-digit addition (checkpoint every step, validation every
two steps, a KL reference, an entropy bonus so that the weights move every step, the verifier in a
worker process). The reference run goes uninterrupted.
Each trial starts the same run, kills it (one or two times, at a uniformly random moment of its
training, or inside a checkpoint write: after the files and before the manifest, or after the
manifest and before the rename), resumes it with ``--resume`` until it finishes, then checks that
  - every line of metrics.jsonl parses and the steps are exactly 1..N, none twice;
  - every record equals the reference's, bit for bit (wall-clock keys ``time`` and ``perf/*`` aside);
  - the final weights equal the reference's exactly.
It prints one line per trial and a JSON summary. ``tests/test_crash.py`` runs one trial of each kind.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Runs the command line in a child process; KILL_AT=manifest:N or rename:N makes it SIGKILL itself in
# its N-th checkpoint write, just before the manifest is written or just before the folder's rename.
CHILD = r"""
import os, signal, sys
import rlvr.utils as U
where, _, n = os.environ.get("KILL_AT", "::").partition(":")
count = [0]
def hit():
    count[0] += 1
    if count[0] == int(n):
        os.kill(os.getpid(), signal.SIGKILL)
if where == "manifest":
    write = U.atomic_write_text
    def patched(path, text):
        if str(path).endswith(U.MANIFEST):
            hit()
        return write(path, text)
    U.atomic_write_text = patched
elif where == "rename":
    fsync_dir = U.fsync_dir
    def patched(path):
        fsync_dir(path)
        if ".tmp-" in str(path) and "checkpoints" in str(path):
            hit()
    U.fsync_dir = patched
from rlvr.cli import main
sys.exit(main(sys.argv[1:]))
"""


def overrides(model: Path, out: Path, steps: int) -> list[str]:
    return ["task.kwargs={ops: '+', min_digits: 2, max_digits: 2}", "prompts_per_step=3", "group_size=3",
            "sampling.max_new_tokens=12", "eval_every=2", "eval_problems=4", "sample_every=1",
            "checkpoint_every=1", "keep_checkpoints=2", "microbatch_size=4", "loss.beta=0.04", "verify_workers=1",
            "loss.entropy_coef=0.01",      # a gradient every step, even while every reward is 0
            f"steps={steps}", f"model={model}", f"out={out}"]


def tiny_model(where: Path) -> Path:
    """A freshly initialised 2-layer, width-32 Llama with the world's tokenizer."""
    import torch

    from rlvr.world.model import ModelConfig, build_model
    from rlvr.world.tokenizer import build_tokenizer

    tok = build_tokenizer()
    torch.manual_seed(0)
    model = build_model(ModelConfig(hidden_size=32, layers=2, heads=2, intermediate_size=64, max_positions=256), tok)
    model.save_pretrained(where)
    tok.save_pretrained(where)
    return where


def start(args: list[str], kill_at: str = "") -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "KILL_AT": kill_at, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-c", CHILD, "grpo", *args], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def run(args: list[str], kill_at: str = "", kill_after: float | None = None, ready=None) -> int:
    """Run the command to its end, or SIGKILL it ``kill_after`` seconds after ``ready()`` turns true."""
    p = start(args, kill_at)
    if kill_after is not None:
        while p.poll() is None and not (ready is None or ready()):
            time.sleep(0.005)
        end = time.monotonic() + kill_after
        while p.poll() is None and time.monotonic() < end:
            time.sleep(0.002)
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
    _, err = p.communicate()
    if p.returncode not in (0, -signal.SIGKILL):
        raise RuntimeError(f"run failed ({p.returncode}): {err.decode()[-2000:]}")
    return p.returncode


def records(out: Path) -> list[dict]:
    """The metrics, checked: every line parses, steps are 1..N once each."""
    lines = (out / "metrics.jsonl").read_text().splitlines()
    recs = [json.loads(line) for line in lines]
    steps = [r["step"] for r in recs]
    assert steps == list(range(1, len(steps) + 1)), f"steps {steps}"
    return [{k: v for k, v in r.items() if k != "time" and not k.startswith("perf/")} for r in recs]


def weights(out: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(out / "final" / "model.safetensors")


def same(out: Path, ref: Path) -> tuple[bool, str]:
    import torch

    try:
        a, b = records(out), records(ref)
    except (AssertionError, ValueError) as e:
        return False, f"metrics file: {e}"
    if len(a) != len(b):
        return False, f"{len(a)} records, reference {len(b)}"
    for ra, rb in zip(a, b):
        if ra != rb:
            diff = sorted(k for k in set(ra) | set(rb) if ra.get(k) != rb.get(k))
            return False, f"step {ra['step']} differs in {diff[:5]}"
    wa, wb = weights(out), weights(ref)
    if wa.keys() != wb.keys() or not all(torch.equal(wa[k], wb[k]) for k in wa):
        return False, "final weights differ"
    return True, "identical"


def trial(kind: str, model: Path, out: Path, ref: Path, steps: int, train_s: float, rng: random.Random) -> dict:
    """One kill-and-resume trial of ``kind``: random (one kill), random2 (two), manifest:N or rename:N."""
    args = overrides(model, out, steps)
    kills = []
    if kind.startswith(("manifest", "rename")):
        rc = run(args, kill_at=kind)
        kills.append(kind if rc == -signal.SIGKILL else "finished")
    else:
        def lines() -> int:
            m = out / "metrics.jsonl"
            return len(m.read_text().splitlines()) if m.exists() else 0
        for _ in range(2 if kind == "random2" else 1):
            delay = rng.uniform(0, train_s)
            if not kills:      # the clock starts once the config is validated and written
                rc = run(args, kill_after=delay, ready=(out / "config.yaml").exists)
            else:              # ... or, resuming, once the run has logged a step more than it had
                n0 = lines()
                rc = run(args + ["--resume"], kill_after=delay * (1 - n0 / steps), ready=lambda: lines() > n0)
            kills.append(f"{delay:.2f}s ({lines()} lines)" if rc == -signal.SIGKILL else "finished")
    run(args + ["--resume"])
    ok, why = same(out, ref)
    return {"kind": kind, "kills": kills, "passed": ok, "detail": why}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=12)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="runs/kill-resume")
    a = ap.parse_args(argv)
    import shutil

    root = Path(a.out)
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    model = tiny_model(root / "tiny")
    ref = root / "reference"
    train_s = []
    for out in (ref, root / "timing"):    # the second, warm, run times the trials' kill window
        t0 = time.monotonic()
        p = start(overrides(model, out, a.steps))
        while p.poll() is None and not (out / "config.yaml").exists():
            time.sleep(0.005)
        t_ready = time.monotonic()
        p.wait()
        train_s.append(time.monotonic() - t_ready)
        print(f"{out.name}: {a.steps} steps, {train_s[-1]:.1f}s of {time.monotonic() - t0:.1f}s after validation",
              flush=True)
    train_s = train_s[-1]
    rng = random.Random(a.seed)
    kinds = ["manifest:2", "rename:3", "random2"] + ["random"] * max(0, a.trials - 3)
    results = []
    for i, kind in enumerate(kinds[:a.trials]):
        res = trial(kind, model, root / f"trial-{i}", ref, a.steps, train_s, rng)
        results.append(res)
        print(f"trial {i}: {res['kind']:10s} kills {', '.join(res['kills']):32s} {'PASS' if res['passed'] else 'FAIL'} "
              f"{res['detail']}", flush=True)
    summary = {"trials": len(results), "passed": sum(r["passed"] for r in results),
               "kills": sum(len([k for k in r["kills"] if k != "finished"]) for r in results),
               "during_checkpoint_write": sum(r["kind"].startswith(("manifest", "rename")) for r in results),
               "steps": a.steps, "reference_train_s": round(train_s, 1)}
    print(json.dumps(summary))
    return 0 if summary["passed"] == summary["trials"] else 1


if __name__ == "__main__":
    sys.exit(main())
