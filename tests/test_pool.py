"""The verifier pool: the same verdicts as in process, and a hard time limit per completion."""
import os
import threading
import time
from pathlib import Path

import pytest

from rlvr.tasks import Problem, get_task
from rlvr.tasks.pool import VerifierPool

HERE = str(Path(__file__).resolve().parent)


@pytest.fixture
def misbehaving(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", HERE + os.pathsep + os.environ.get("PYTHONPATH", ""))
    from hostile_tasks import Misbehaving

    return Misbehaving()


def test_pool_gives_the_in_process_verdicts():
    task = get_task("countdown")
    problems = task.problems("test", 20, seed=3)
    texts = [f"<answer>{p.answer}</answer>" if i % 3 else "<answer>1+</answer>" for i, p in enumerate(problems)]
    texts += ["<answer>9**9**9</answer>", "\ud800<answer>x</answer>", "<answer>" * 1000]
    problems += problems[:3]
    with VerifierPool(task, workers=2, timeout_s=10) as pool:
        got = pool.verify_many(problems, texts)
        assert pool.name == "countdown" and pool.replaced == 0
    assert got == [task.verify(p, t) for p, t in zip(problems, texts)]
    assert sum(v.correct for v in got) == 13


def test_hung_dead_and_bloated_verifiers_are_wrong_and_replaced(misbehaving):
    p = Problem("p", "", "42", 1)
    with VerifierPool(misbehaving, workers=2, timeout_s=1.0, memory_mb=512) as pool:
        t0 = time.monotonic()
        got = pool.verify_many([p] * 7, ["hang", "42", "spin", "die", "bomb", "alarm", "41"])
        took = time.monotonic() - t0
        assert [v.correct for v in got] == [False, True, False, False, False, False, False]
        reasons = [v.info["reason"] for v in got]
        assert reasons[:4] == ["timeout", "ok", "timeout", "worker died"]
        assert reasons[4] in ("worker died", "error: MemoryError")   # the worker's memory limit
        assert reasons[5] == "alarm fired"                 # SIGALRM works on the worker's main thread
        assert pool.replaced >= 3
        assert took < 6                                    # two 1 s timeouts, side by side or not
        assert pool.verify(p, "42").correct                # the replaced workers serve on


def test_pool_works_from_a_thread(misbehaving):
    p = Problem("p", "", "42", 1)
    out = []
    with VerifierPool(misbehaving, workers=1, timeout_s=0.5) as pool:
        t = threading.Thread(target=lambda: out.extend(pool.verify_many([p, p], ["hang", "42"])))
        t.start()
        t.join(10)
    assert [v.info["reason"] for v in out] == ["timeout", "ok"] and out[1].correct
