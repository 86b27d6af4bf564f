"""A task whose verifier misbehaves on purpose, for the verifier pool's tests (imported by the workers)."""
import os
import signal
import time

from rlvr.tasks.base import Verdict


class Misbehaving:
    """verify: "hang" sleeps forever, "spin" loops forever, "die" kills its process, "bomb" allocates
    without end, "alarm" guards a slow step with SIGALRM (as math-verify does), anything else is right
    when it equals the problem's answer."""

    name = "misbehaving"

    def verify(self, problem, completion):
        if completion == "hang":
            time.sleep(3600)
        if completion == "spin":
            while True:
                pass
        if completion == "die":
            os._exit(3)
        if completion == "bomb":
            xs = []
            while True:
                xs.append(bytes(100 << 20))      # calloc: address space, pages never touched
        if completion == "alarm":
            def on_alarm(signum, frame):
                raise TimeoutError("alarm")
            signal.signal(signal.SIGALRM, on_alarm)
            signal.setitimer(signal.ITIMER_REAL, 0.05)
            try:
                time.sleep(5)
            except TimeoutError:
                return Verdict(False, None, False, {"reason": "alarm fired"})
        return Verdict(completion == problem.answer, completion, True, {"reason": "ok"})
