"""The process that runs untrusted Python: started by ``rlvr.sandbox.run_python`` as
``python -I -S runner.py`` with the job as JSON on stdin and a result pipe on the descriptor the job
names. Standard library only, and nothing of it runs after the untrusted code starts except the calls
of the tests, so it is a script, not a module of the package.

Layout of the processes (with namespaces, the default where the kernel allows them):

    runner (host)                 waits; killed by the parent at the wall-clock limit
      └─ init (pid 1 of a new pid, mount and network namespace; root of the namespace)
           mounts empty read-only tmpfs on /tmp, /var/tmp, /dev/shm, /run/lock and over the hidden
           folders, a writable tmpfs on /tmp/work (the working directory), a fresh /proc; dies with
           the runner (PR_SET_PDEATHSIG), and when it dies the kernel kills every process left in
           the namespace
           └─ program: limits (CPU time, address space, file size, open files, processes), an
              unprivileged uid of its own when the host runs as root, no new privileges, an empty
              working directory, an empty environment; runs the code, then each test, writing one
              JSON line per test to the result pipe

Without namespaces the runner itself becomes the program (same limits, a blocked socket module).

Values cross the process boundary in a tagged JSON form (``encode`` / ``decode``) that admits only
exact builtin types, so a result can never be an object with a forged ``__eq__``.
"""
import json
import os
import sys

CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x20000, 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_REC, MS_PRIVATE = 1, 2, 4, 8, 32, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS = 1, 38
SETUP_FAILED = 97          # exit code: the sandbox could not be built (not the program's fault)
# Imported before privileges drop: the interpreter's files may be unreadable to the sandbox's uid.
PRELOADED = ("math", "cmath", "itertools", "functools", "collections", "heapq", "bisect", "re", "string",
             "operator", "copy", "fractions", "typing", "random")
MAX_DEPTH = 30
MAX_ITEMS = 100_000


# ---------------------------------------------------------------------------- values
def encode(value, depth: int = 0, budget: list | None = None):
    """A JSON-able tagged form of a value made of exact builtin types; ValueError for anything else."""
    budget = [MAX_ITEMS] if budget is None else budget
    budget[0] -= 1
    if depth > MAX_DEPTH or budget[0] < 0:
        raise ValueError("value too large or too deep")
    t = type(value)
    if value is None:
        return ["none"]
    if t is bool:
        return ["bool", value]
    if t is int:
        return ["int", str(value)]
    if t is float:
        return ["float", repr(value)]
    if t is str:
        return ["str", value]
    if t is list or t is tuple or t is set or t is frozenset:
        items = [encode(v, depth + 1, budget) for v in value]
        if t is set or t is frozenset:
            items.sort(key=lambda e: json.dumps(e))
        return [t.__name__, items]
    if t is dict:
        return ["dict", [[encode(k, depth + 1, budget), encode(v, depth + 1, budget)] for k, v in value.items()]]
    raise ValueError(f"unsupported type {t.__name__}")


def decode(tagged):
    """The value of a tagged form (the inverse of ``encode``)."""
    tag = tagged[0]
    if tag == "none":
        return None
    if tag == "bool":
        return bool(tagged[1])
    if tag == "int":
        return int(tagged[1])
    if tag == "float":
        return float(tagged[1])
    if tag == "str":
        return str(tagged[1])
    if tag in ("list", "tuple", "set", "frozenset"):
        items = [decode(v) for v in tagged[1]]
        return {"list": list, "tuple": tuple, "set": set, "frozenset": frozenset}[tag](items)
    if tag == "dict":
        return {decode(k): decode(v) for k, v in tagged[1]}
    raise ValueError(f"unknown tag {tag!r}")


# ---------------------------------------------------------------------------- the program
def _write(fd: int, rec: dict) -> None:
    data = (json.dumps(rec) + "\n").encode()
    while data:
        data = data[os.write(fd, data):]


def _limit(resource, which, value: int) -> None:
    soft, hard = resource.getrlimit(which)
    value = value if hard == resource.RLIM_INFINITY else min(value, hard)
    resource.setrlimit(which, (value, value))


def _program(job: dict, uid: int | None, isolation: str) -> None:
    """Limits, privileges, then the untrusted code and its tests. Never returns."""
    import resource

    fd = job["result_fd"]
    lim = job["limits"]
    try:
        if isolation == "limits":
            os.chdir(job["workdir"])
        else:
            if uid is not None:
                os.chown("/tmp/work", uid, uid)
            os.chdir("/tmp/work")
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        _limit(resource, resource.RLIMIT_CORE, 0)
        resource.setrlimit(resource.RLIMIT_CPU, (lim["cpu_s"], lim["cpu_s"] + 1))
        _limit(resource, resource.RLIMIT_AS, lim["memory_mb"] << 20)
        _limit(resource, resource.RLIMIT_FSIZE, lim["file_mb"] << 20)
        _limit(resource, resource.RLIMIT_NOFILE, lim["open_files"])
        _limit(resource, resource.RLIMIT_NPROC, lim["processes"] + job.get("nproc_base", 0))
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
        if uid is not None:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
        os.environ.clear()
        os.environ["PATH"] = "/usr/bin:/bin"
        os.umask(0o077)
    except Exception as e:  # the sandbox could not be built: not the program's fault
        _write(fd, {"event": "setup_failed", "reason": f"{type(e).__name__}: {e}"})
        os._exit(SETUP_FAILED)
    if isolation == "limits":  # no network namespace: no socket module either
        for name in ("socket", "_socket", "ssl", "_ssl"):
            sys.modules[name] = None
    inputs = [decode(a) for a in job["inputs"]]      # decoded before the untrusted code runs
    _write(fd, {"event": "start", "isolation": isolation, "uid": os.getuid()})
    namespace = {"__name__": "__completion__", "__builtins__": __builtins__}
    try:
        exec(compile(job["code"], "<completion>", "exec"), namespace)
    except BaseException as e:  # noqa: BLE001  the program's own failure is its verdict
        _write(fd, {"event": "load_error", "error": type(e).__name__})
        os._exit(0)
    fn = namespace.get(job["func"])
    if not callable(fn):
        _write(fd, {"event": "load_error", "error": f"no function {job['func']}"})
        os._exit(0)
    for i, args in enumerate(inputs):
        try:
            value = encode(fn(*args))
            rec = {"i": i, "value": value}
        except BaseException as e:  # noqa: BLE001
            rec = {"i": i, "error": type(e).__name__}
        try:
            _write(fd, rec)
        except Exception:
            os._exit(0)
    _write(fd, {"event": "done"})
    os._exit(0)


# ---------------------------------------------------------------------------- namespaces
def _mount(libc, source, target, fstype, flags, data) -> None:
    import ctypes

    enc = lambda s: None if s is None else s.encode()  # noqa: E731
    if libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)) != 0:
        raise OSError(ctypes.get_errno(), f"mount {fstype or ''} on {target}")


def _isolated(job: dict) -> None:
    """Enter fresh namespaces, then fork init, which forks the program. Never returns."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    root = os.geteuid() == 0
    uid, gid = os.getuid(), os.getgid()
    nproc_base = 0
    if not root:  # the process limit counts every process of this user
        nproc_base = sum(1 for p in os.listdir("/proc") if p.isdigit() and _owner(p) == uid)
    flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | (0 if root else CLONE_NEWUSER)
    if libc.unshare(flags) != 0:
        raise OSError(ctypes.get_errno(), "unshare")
    if not root:
        for name, text in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1"), ("gid_map", f"0 {gid} 1")):
            with open(f"/proc/self/{name}", "w") as f:
                f.write(text)
    sandbox_uid = 100_000 + os.getpid() if root else None   # unique while this runner lives
    init = os.fork()
    if init:
        _, status = os.waitpid(init, 0)
        os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
    # init: pid 1 of the new namespaces
    try:
        libc.prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)
        _mount(libc, None, "/", None, MS_REC | MS_PRIVATE, None)
        # every world-writable folder and every hidden one becomes an empty read-only tmpfs; the only
        # writable place is the working directory, a tmpfs of its own
        _mount(libc, "tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=755")
        os.mkdir("/tmp/work")
        _mount(libc, None, "/tmp", None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, None)
        for d in ("/var/tmp", "/dev/shm", "/run/lock", *job.get("hide", [])):
            if os.path.isdir(d) and not os.path.islink(d):
                _mount(libc, "tmpfs", d, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, "size=1m,mode=755")
        size = f"size={job['limits']['file_mb'] * 4}m,mode=700"
        _mount(libc, "tmpfs", "/tmp/work", "tmpfs", MS_NOSUID | MS_NODEV, size)
        _mount(libc, "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None)
    except Exception as e:
        _write(job["result_fd"], {"event": "setup_failed", "reason": f"{type(e).__name__}: {e}"})
        os._exit(SETUP_FAILED)
    job["nproc_base"] = nproc_base
    program = os.fork()
    if program == 0:
        _program(job, sandbox_uid, "namespaces")
    while True:  # init reaps every orphan; it leaves when the program does, taking the rest along
        try:
            pid, status = os.wait()
        except ChildProcessError:
            os._exit(0)
        if pid == program:
            os._exit(os.waitstatus_to_exitcode(status) & 0xFF)


def _owner(pid: str) -> int:
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return -1


def main() -> None:
    job = json.loads(sys.stdin.buffer.read())
    for name in PRELOADED + (("socket",) if job["isolation"] == "namespaces" else ()):
        __import__(name)
    if job["isolation"] == "namespaces":
        try:
            _isolated(job)
        except Exception as e:
            _write(job["result_fd"], {"event": "setup_failed", "reason": f"{type(e).__name__}: {e}"})
            os._exit(SETUP_FAILED)
    root = os.geteuid() == 0
    uid = job.get("uid") if root else None
    if not root:
        job["nproc_base"] = sum(1 for p in os.listdir("/proc") if p.isdigit() and _owner(p) == os.getuid())
    _program(job, uid, "limits")


if __name__ == "__main__":
    main()
