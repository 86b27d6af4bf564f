"""Every sandbox attack of rlvr.tasks.fuzz.HOSTILE_CODE against every code problem of the test split,
in each isolation mode this machine offers; an attack is contained when it scores wrong and the host is
as it was (no new file in /tmp or the working folder, no process left running as a sandbox uid, the
environment unchanged, this process and a sentinel process alive).

    python scripts/sandbox_attacks.py
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter

from rlvr.sandbox import SandboxLimits, live_sandbox_processes, namespaces_available
from rlvr.tasks import get_task
from rlvr.tasks.fuzz import HOSTILE_CODE, tag


def host() -> tuple:
    return (sorted(os.listdir(".")), sorted(p for p in os.listdir("/tmp") if "rlvr-fuzz" in p), dict(os.environ))


def main() -> int:
    # without namespaces the sandbox has a uid of its own only when this runs as root
    modes = (["namespaces"] if namespaces_available() else []) + (["limits"] if os.geteuid() == 0 else [])
    task = get_task("code")
    problems = task.problems("test", 7, seed=0)
    sentinel = subprocess.Popen(["sleep", "3600"])
    tried, contained, failures, by_attack = 0, 0, [], Counter()
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        for mode in modes:
            task.limits = SandboxLimits(cpu_s=1, wall_s=2.0, isolation=mode)
            for name, body in HOSTILE_CODE.items():
                for p in problems:
                    before = host()
                    t0 = time.monotonic()
                    v = task.verify(p, tag(body.format(f=p.meta["func"])))
                    time.sleep(0.02)
                    ok = (not v.correct and host() == before and not live_sandbox_processes() and sentinel.poll() is None)
                    tried += 1
                    contained += ok
                    by_attack[(mode, name)] += ok
                    if not ok:
                        failures.append({"mode": mode, "attack": name, "problem": p.id, "verdict": v.info,
                                         "seconds": round(time.monotonic() - t0, 2)})
    sentinel.kill()
    print(json.dumps({"modes": modes, "problems": len(problems), "attacks": len(HOSTILE_CODE), "tried": tried,
                      "contained": contained, "failures": failures[:10]}))
    return 0 if tried == contained else 1


if __name__ == "__main__":
    sys.exit(main())
