"""Run untrusted Python (a model's completion) against tests, contained.

    result = run_tests(code, "add", [(1, 2), (3, 4)], SandboxLimits())
    result.values    # [3, 7] or None where a test raised, timed out or never ran

Each call starts a fresh process (``runner.py``) and gives the code:
  - limits set with ``resource.setrlimit``: CPU seconds, address space, file size, open files and
    processes (a fork bomb meets the process limit);
  - an unprivileged uid of its own when the host runs as root, and no new privileges;
  - an empty temporary working directory and an empty environment (no secret of the parent);
  - where the kernel allows it (``isolation="auto"``), fresh pid, mount and network namespaces: no
    network at all, empty read-only tmpfs over every world-writable folder and over the package, its
    tests and the parent's home (the working directory is the one writable place), a /proc that shows
    only the sandbox, and every process of the sandbox killed when it ends; otherwise
    (``isolation="limits"``) the socket module is blocked, the other limits hold, and when the host
    runs as root every process of the sandbox's uid is killed and its files in the world-writable
    folders removed at the end (they exist while it runs). Without namespaces and without root the
    code runs as the calling user: it can signal that user's processes, so use that mode only for
    code one trusts;
  - a wall-clock limit after which the whole process group (and namespace) is killed, and a cap on the
    bytes it may print or report.

Only the test inputs enter the sandbox; the return values come back as tagged JSON of exact builtin
types and are compared with the expected values here, outside it, so printing or forging a result can
only score by computing it.
"""
from __future__ import annotations

import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from .runner import SETUP_FAILED, decode, encode

RUNNER = Path(__file__).resolve().parent / "runner.py"
WORLD_WRITABLE = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")
UID_BASE = 100_000  # a sandbox run by root gets uid UID_BASE + its runner's pid


def live_sandbox_processes() -> list[int]:
    """Pids of processes still running (not zombies) as a sandbox uid: after a verdict there should be none."""
    out = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                state = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[0]
                if os.stat(f"/proc/{p}").st_uid >= UID_BASE and state != "Z":
                    out.append(int(p))
            except (OSError, IndexError):
                pass
    return out


@dataclass
class SandboxLimits:
    cpu_s: int = 2
    """CPU seconds of the program (RLIMIT_CPU; each process it forks gets as many)."""
    wall_s: float = 5.0
    """Wall-clock seconds before the whole sandbox is killed."""
    memory_mb: int = 256
    """Address space of each process, in MiB (RLIMIT_AS)."""
    file_mb: int = 1
    """Largest file the program may write, in MiB (RLIMIT_FSIZE)."""
    processes: int = 8
    """Processes (and threads) the program may run at once (RLIMIT_NPROC)."""
    open_files: int = 32
    """Open file descriptors (RLIMIT_NOFILE)."""
    output_bytes: int = 65536
    """Most bytes read from the program's stdout and stderr together, and from its results."""
    isolation: str = "auto"
    """namespaces (fail if unavailable), limits (rlimits and a blocked socket module only), or auto."""


@dataclass
class SandboxResult:
    values: list = field(default_factory=list)
    """Per test: the returned value, or None when the test raised, ran out of time or never ran."""
    errors: list = field(default_factory=list)
    """Per test: why it has no value (exception name, 'not reached', ...), or None."""
    status: str = "ok"
    """ok, load_error (the code did not define the function), timeout (wall clock), cpu_limit,
    output_limit, crashed, setup_failed."""
    detail: str = ""
    """A few words on the status (exception name, exit code)."""
    isolation: str = ""
    """How the program was isolated: namespaces or limits."""
    output: bytes = b""
    """What the program printed (stdout and stderr), up to the cap."""
    seconds: float = 0.0


def _hidden_folders() -> list[str]:
    """Folders a program must not read: the package's checkout (tests, answers), the parent's working
    directory and home; never a folder that holds the interpreter's standard library."""
    import sysconfig

    stdlib = Path(sysconfig.get_paths()["stdlib"]).resolve()
    out = []
    for p in (Path(__file__).resolve().parents[2], Path.cwd(), Path.home(), Path("/root")):
        try:
            p = p.resolve()
        except OSError:
            continue
        if len(p.parts) < 2 or p in (Path("/usr"), Path("/tmp")) or stdlib.is_relative_to(p):
            continue
        if str(p) not in out:
            out.append(str(p))
    return out


@lru_cache(maxsize=None)
def namespaces_available() -> bool:
    """Whether this kernel lets the sandbox build its namespaces (probed once per process)."""
    r = _run("def f():\n    return 1\n", "f", [[]], SandboxLimits(isolation="namespaces"))
    return r.status == "ok" and r.values == [1]


def run_tests(code: str, func: str, inputs: list, limits: SandboxLimits | None = None) -> SandboxResult:
    """Define ``func`` by running ``code`` in a sandbox, then call it on each argument tuple of
    ``inputs``; the values come back in order. Never raises for anything the code does."""
    limits = limits or SandboxLimits()
    if limits.isolation == "auto":
        iso = "namespaces" if namespaces_available() else "limits"
        limits = SandboxLimits(**{**limits.__dict__, "isolation": iso})
    return _run(code, func, [list(a) for a in inputs], limits)


def _run(code: str, func: str, inputs: list, limits: SandboxLimits) -> SandboxResult:
    t0 = time.monotonic()
    res = SandboxResult(values=[None] * len(inputs), errors=["not reached"] * len(inputs),
                        isolation=limits.isolation)
    job = {"code": code, "func": func, "inputs": [encode(a) for a in inputs], "isolation": limits.isolation,
           "limits": {k: getattr(limits, k) for k in ("cpu_s", "memory_mb", "file_mb", "processes",
                                                        "open_files")},
           "hide": _hidden_folders()}
    r, w = os.pipe()
    job["result_fd"] = w                 # pass_fds keeps the descriptor's number in the child
    workdir = None
    proc = None
    try:
        if limits.isolation == "limits":
            workdir = tempfile.mkdtemp(prefix="rlvr-sandbox-")
        proc = subprocess.Popen([sys.executable, "-I", "-S", str(RUNNER)], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, pass_fds=(w,),
                                env={"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8"}, cwd="/",
                                start_new_session=True)
        os.close(w)
        w = None
        if workdir is not None and os.geteuid() == 0:
            job["uid"] = UID_BASE + proc.pid          # unique while the runner lives
            os.chown(workdir, job["uid"], job["uid"])
        job["workdir"] = workdir
        try:
            proc.stdin.write(json.dumps(job).encode())
            proc.stdin.close()
        except OSError:
            pass
        res.output, lines = _collect(proc, r, t0 + limits.wall_s, limits.output_bytes, res)
        _read_results(lines, res)
    finally:
        if proc is not None:
            _kill(proc, job.get("uid"))
        for fd in (r, w):
            if fd is not None:
                os.close(fd)
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)
    if proc is not None and proc.returncode == SETUP_FAILED and res.status not in ("timeout", "output_limit"):
        res.status = "setup_failed"
    elif res.status == "ok" and proc is not None and proc.returncode not in (0, None):
        # the runner relays the program's status as an exit code: 256 - N for a death by signal N
        rc = proc.returncode
        sig = -rc if rc < 0 else 256 - rc if rc > 128 else 0
        if sig in (signal.SIGXCPU, signal.SIGKILL):
            res.status, res.detail = "cpu_limit", signal.Signals(sig).name
        else:
            res.status, res.detail = "crashed", f"exit code {proc.returncode}"
    res.seconds = time.monotonic() - t0
    return res


def _collect(proc, r: int, deadline: float, cap: int, res: SandboxResult) -> tuple[bytes, list[bytes]]:
    """Read the program's output and its result lines until the runner has exited and both pipes are
    drained, the deadline passes or either passes the cap; sets ``res.status`` on a timeout or an
    overflow."""
    sel = selectors.DefaultSelector()
    out_fd = proc.stdout.fileno()
    sel.register(out_fd, selectors.EVENT_READ)
    sel.register(r, selectors.EVENT_READ)
    bufs = {out_fd: bytearray(), r: bytearray()}
    open_fds = {out_fd, r}
    while open_fds:
        left = deadline - time.monotonic()
        if left <= 0:
            res.status, res.detail = "timeout", "wall-clock limit"
            break
        events = sel.select(timeout=min(left, 0.05))
        if not events and proc.poll() is not None:
            break       # the runner is gone and nothing is left to read (a stray child may hold the pipes)
        for key, _ in events:
            chunk = os.read(key.fd, 65536)
            if not chunk:
                sel.unregister(key.fd)
                open_fds.discard(key.fd)
                continue
            bufs[key.fd] += chunk
            if len(bufs[key.fd]) > cap:
                res.status, res.detail = "output_limit", f"more than {cap} bytes"
                open_fds.clear()
                break
    sel.close()
    if res.status == "ok":
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            res.status, res.detail = "timeout", "wall-clock limit"
    return bytes(bufs[out_fd][:cap]), bytes(bufs[r][:cap]).split(b"\n")


def _read_results(lines: list[bytes], res: SandboxResult) -> None:
    """Fill values and errors from the result lines; anything malformed counts as no value."""
    n = len(res.values)
    seen = set()
    for line in lines:
        try:
            rec = json.loads(line)
            if not isinstance(rec, dict):
                continue
            event = rec.get("event")
            if event == "setup_failed":
                res.status, res.detail = "setup_failed", str(rec.get("reason", ""))[:200]
            elif event == "load_error" and res.status == "ok":
                res.status, res.detail = "load_error", str(rec.get("error", ""))[:200]
            elif event is None:
                i = rec["i"]
                if type(i) is not int or not 0 <= i < n or i in seen:
                    res.errors = ["forged result"] * n      # a second line for a test: trust none
                    res.values = [None] * n
                    res.status, res.detail = "crashed", "malformed results"
                    return
                seen.add(i)
                if "value" in rec:
                    res.values[i], res.errors[i] = decode(rec["value"]), None
                else:
                    res.errors[i] = str(rec.get("error", "error"))[:100]
        except Exception:  # noqa: BLE001  a malformed line is a missing result
            continue


def _kill(proc, uid: int | None) -> None:
    """Kill the runner's process group (with namespaces, its init dies with it and takes every process
    of the sandbox along); without namespaces, also every process still running as the sandbox's uid,
    wherever it went (a process that left the group with setsid), and remove what that uid left in
    the world-writable folders."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if uid is not None:  # kill(-1) as the sandbox's uid reaches every process of that uid at once
        pid = os.fork()
        if pid == 0:
            try:
                os.setgid(uid)
                os.setuid(uid)
                os.kill(-1, signal.SIGKILL)
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
        for d in WORLD_WRITABLE:    # whatever that uid left where anyone may write goes too
            try:
                entries = list(os.scandir(d))
            except OSError:
                continue
            for e in entries:
                try:
                    if e.stat(follow_symlinks=False).st_uid == uid:
                        shutil.rmtree(e.path) if e.is_dir(follow_symlinks=False) else os.unlink(e.path)
                except OSError:
                    pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
    for f in (proc.stdin, proc.stdout):
        if f is not None:
            try:
                f.close()
            except OSError:
                pass


def same(got, want) -> bool:
    """Whether a returned value equals the expected one: exact types (an int may stand for a float),
    floats to 1e-9 relative, containers element by element."""
    import math

    if type(want) is float and type(got) in (int, float):
        return math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12)
    if type(got) is not type(want):
        return False
    if type(want) in (list, tuple):
        return len(got) == len(want) and all(same(g, w) for g, w in zip(got, want))
    if type(want) is dict:
        return got.keys() == want.keys() and all(same(got[k], want[k]) for k in want)
    return got == want
