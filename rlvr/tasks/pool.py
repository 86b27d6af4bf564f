"""Verification in worker processes, with a hard time limit per completion whatever the verifier does.

    with VerifierPool(task, workers=2, timeout_s=10) as pool:
        verdicts = pool.verify_many(problems, completions)   # in order, several at once
        pool.verify(problem, completion)                     # a pool stands in for its task

Each worker verifies one completion at a time on its own main thread, so a verifier that guards itself
with SIGALRM (math-verify does; the signal only works on a main thread) works there. The parent uses
no signals at all: it waits on the workers' pipes with a deadline, from any thread. A worker that
passes the deadline is killed (SIGKILL) and replaced, and that completion's verdict is wrong with
reason ``timeout``; a worker that dies (a crash, its memory limit) is replaced the same way and the
verdict is wrong with reason ``worker died``. Workers leave when the parent dies (PR_SET_PDEATHSIG, and
the end of their input). Verdicts come back as JSON, so a worker can never hand the parent an object.
"""
from __future__ import annotations

import json
import os
import pickle
import selectors
import struct
import subprocess
import sys
import time
from pathlib import Path

from .base import Verdict

_HEADER = struct.Struct("!I")
MAX_MESSAGE = 1 << 20
READY = b"ready\n"


class VerifierPool:
    """``workers`` processes that run ``task.verify``; every other attribute is the task's own."""

    def __init__(self, task, workers: int = 1, timeout_s: float = 10.0, memory_mb: int = 2048):
        if workers < 1:
            raise ValueError(f"a verifier pool needs at least one worker, got {workers}")
        if timeout_s <= 0:
            raise ValueError(f"the verification time limit must be > 0 seconds, got {timeout_s}")
        self.task = task
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        self.replaced = 0
        """Workers killed or lost and started again (timeouts and crashes). A worker's start-up (the
        interpreter, the task's imports) happens before its clock runs."""
        self._workers = [self._start() for _ in range(workers)]

    def __getattr__(self, name):
        if name == "task":
            raise AttributeError(name)
        return getattr(self.task, name)

    # ---------------------------------------------------------------- workers
    def _start(self) -> subprocess.Popen:
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        proc = subprocess.Popen([sys.executable, "-c", "from rlvr.tasks.pool import worker_main; worker_main()"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, bufsize=0)
        _send(proc.stdin, pickle.dumps((self.task, self.memory_mb)))
        if _read_exact(proc.stdout, len(READY)) != READY:    # started and holding the task: the clock may run
            _stop(proc)
            raise RuntimeError("a verifier worker failed to start (see its stderr)")
        return proc

    def _replace(self, i: int) -> None:
        _stop(self._workers[i])
        self._workers[i] = self._start()
        self.replaced += 1

    def close(self) -> None:
        for w in self._workers:
            _stop(w, grace=1.0)
        self._workers = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    # ---------------------------------------------------------------- verification
    def verify(self, problem, completion) -> Verdict:
        return self.verify_many([problem], [completion])[0]

    def verify_many(self, problems: list, completions: list) -> list[Verdict]:
        """One verdict per (problem, completion), in order."""
        out: list = [None] * len(completions)
        todo = list(range(len(completions)))[::-1]
        busy: dict[int, tuple[int, float]] = {}              # worker -> (job, deadline)
        sel = selectors.DefaultSelector()
        try:
            while todo or busy:
                for w in range(len(self._workers)):
                    if w not in busy and todo:
                        j = todo.pop()
                        try:
                            _send(self._workers[w].stdin, pickle.dumps((problems[j], completions[j])))
                            busy[w] = (j, time.monotonic() + self.timeout_s)
                            sel.register(self._workers[w].stdout, selectors.EVENT_READ, w)
                        except (OSError, ValueError):
                            todo.append(j)
                            self._replace(w)
                wait = min(d for _, d in busy.values()) - time.monotonic()
                for key, _ in sel.select(timeout=max(0.0, wait)):
                    w = key.data
                    j, _ = busy.pop(w)
                    sel.unregister(key.fileobj)
                    out[j] = _receive(self._workers[w].stdout)
                    if out[j] is None:
                        out[j] = Verdict(False, None, False, {"reason": "worker died"})
                        self._replace(w)
                now = time.monotonic()
                for w, (j, deadline) in list(busy.items()):
                    if now >= deadline:
                        busy.pop(w)
                        sel.unregister(self._workers[w].stdout)
                        out[j] = Verdict(False, None, False, {"reason": "timeout"})
                        self._replace(w)
        finally:
            sel.close()
        return out


def _send(f, payload: bytes) -> None:
    f.write(_HEADER.pack(len(payload)) + payload)
    f.flush()


def _read_exact(f, n: int) -> bytes | None:
    data = b""
    while len(data) < n:
        chunk = f.read(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _receive(f) -> Verdict | None:
    """A verdict from a worker's JSON reply; None when the worker is gone or its reply is malformed."""
    try:
        head = _read_exact(f, _HEADER.size)
        if head is None or _HEADER.unpack(head)[0] > MAX_MESSAGE:
            return None
        body = _read_exact(f, _HEADER.unpack(head)[0])
        rec = json.loads(body)
        return Verdict(bool(rec["correct"]), rec["parsed"] if isinstance(rec["parsed"], str) else None,
                       bool(rec["format_ok"]), rec["info"] if isinstance(rec["info"], dict) else {})
    except Exception:
        return None


def _stop(proc: subprocess.Popen, grace: float = 0.0) -> None:
    try:
        proc.stdin.close()
    except OSError:
        pass
    try:
        proc.wait(timeout=grace) if grace else proc.kill()
    except subprocess.TimeoutExpired:
        proc.kill()
    try:
        proc.wait(timeout=5)
        proc.stdout.close()
    except Exception:
        pass


def worker_main() -> None:
    """A worker: the task and its memory limit, then (problem, completion) pairs until the input ends."""
    import ctypes
    import resource

    try:
        ctypes.CDLL(None).prctl(1, 9, 0, 0, 0)                 # PR_SET_PDEATHSIG: SIGKILL
    except Exception:
        pass
    inp = sys.stdin.buffer
    out = os.fdopen(os.dup(1), "wb", buffering=0)               # the protocol's own descriptor
    os.dup2(2, 1)                                               # a verifier's prints go to stderr
    head = _read_exact(inp, _HEADER.size)
    if head is None:
        return
    task, memory_mb = pickle.loads(_read_exact(inp, _HEADER.unpack(head)[0]))
    limit = memory_mb << 20
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (limit if hard == resource.RLIM_INFINITY else min(limit, hard), hard))
    out.write(READY)
    while True:
        head = _read_exact(inp, _HEADER.size)
        if head is None:
            return
        problem, completion = pickle.loads(_read_exact(inp, _HEADER.unpack(head)[0]))
        try:
            v = task.verify(problem, completion)
            rec = {"correct": v.correct is True, "parsed": v.parsed, "format_ok": v.format_ok is True,
                   "info": v.info}
            payload = json.dumps(rec, default=str).encode()
            if len(payload) > MAX_MESSAGE:
                raise ValueError("verdict too large")
        except BaseException as e:  # noqa: BLE001  a verdict always goes back
            payload = json.dumps({"correct": False, "parsed": None, "format_ok": False,
                                  "info": {"reason": f"error: {type(e).__name__}"}}).encode()
        _send(out, payload)
