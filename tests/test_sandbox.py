"""The code sandbox: right code scores, and hostile code is stopped, scored wrong, and leaves the host
as it was. Each attack returns the right answer only if its attack worked, so a contained attack is
exactly one that scores wrong."""
import os
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from rlvr.sandbox import SandboxLimits, live_sandbox_processes, namespaces_available, same
from rlvr.sandbox.runner import decode, encode
from rlvr.tasks import get_task

ROOT = Path(__file__).resolve().parent.parent
FAST = {"cpu_s": 1, "wall_s": 2.0, "memory_mb": 256, "processes": 8}
# Without namespaces, the sandbox gets a uid of its own only when the host runs as root; as another
# user the attacks below would reach that user's processes, so that mode is tested only as root.
MODES = (["namespaces"] if namespaces_available() else []) + (["limits"] if os.geteuid() == 0 else [])
# the slower attacks run in the default suite in the mode this machine uses, in both with -m slow
SLOW_MODES = [m if m == MODES[0] else pytest.param(m, marks=pytest.mark.slow) for m in MODES]


def code_task(isolation: str, **limits):
    task = get_task("code")
    task.limits = SandboxLimits(**{**FAST, **limits}, isolation=isolation)
    return task


def add_problem(task):
    return next(p for p in task.all if p.meta["func"] == "add")


def judge(task, body: str):
    verdict = task.verify(add_problem(task), f"<answer>{body}</answer>")
    time.sleep(0.05)
    assert live_sandbox_processes() == [], "a sandbox process outlived its verdict"
    return verdict


# ---------------------------------------------------------------------- plain behaviour
def test_values_cross_the_boundary_as_exact_types():
    for v in [None, True, 0, -10**30, 1.5, float("inf"), "x\u202e\x00", [1, (2, "a")], {"k": [1]}, {3, 4},
              frozenset({1}), (), {(1, 2): None}]:
        assert decode(encode(v)) == v and type(decode(encode(v))) is type(v)
    class Evil(int):
        def __eq__(self, other):
            return True
    with pytest.raises(ValueError):
        encode(Evil(3))
    with pytest.raises(ValueError):
        encode(object())
    assert same(3, 3) and not same(True, 1) and not same(1, True) and same(2, 2.0) and not same(2.0, 2)
    assert same([1, (2, 3)], [1, (2, 3)]) and not same([1, [2, 3]], [1, (2, 3)])
    assert same(0.1 + 0.2, 0.3) and not same(0.31, 0.3)


@pytest.mark.parametrize("mode", MODES)
def test_reference_solutions_pass_and_wrong_ones_score_a_share(mode):
    task = code_task(mode)
    p = add_problem(task)
    right = task.verify(p, f"<answer>{p.answer}</answer>")
    assert right.correct and right.info["score"] == 1.0 and right.info["isolation"] == mode
    v = task.verify(p, "<answer>def add(a, b):\n    return 0\n</answer>")   # right for (-5, 5) and (0, 0)
    assert (v.correct, v.info["passed"], v.info["tests"], v.info["score"]) == (False, 2, 4, 0.5)


def test_every_embedded_problem_is_solved_by_its_reference_and_splits_are_disjoint():
    task = get_task("code")
    assert len(task.all) >= 30
    for p in task.all:
        v = task.verify(p, f"<answer>{p.answer}</answer>")
        assert v.correct, (p.id, v.info)
    splits = {s: {p.id for p in task.problems(s, n, seed=0)}
              for s, n in (("train", 20), ("validation", 2), ("test", 5))}
    assert not splits["train"] & splits["test"] and not splits["train"] & splits["validation"]
    with pytest.raises(ValueError, match="code task has 2 validation problems; asked for 200"):
        task.problems("validation", 200, seed=0)


def test_code_that_does_not_parse_or_misses_the_function_starts_no_process():
    task = get_task("code")
    p = add_problem(task)
    t0 = time.perf_counter()
    cases = {"def add(a, b) return a+b": "does not parse: SyntaxError",
             "def plus(a, b):\n    return a + b": "no function add",
             "(" * 3000: "does not parse: SyntaxError",
             "def add(a, b):\n    return " + "-" * 3900 + "a": "does not parse: RecursionError",
             "x = '\x00'": "does not parse: SyntaxError"}
    for body, reason in cases.items():
        v = task.verify(p, f"<answer>{body}</answer>")
        assert not v.correct and v.info["score"] == 0.0
        if reason:
            assert v.info["reason"] == reason
    assert time.perf_counter() - t0 < 3.0
    assert task.verify(p, "<answer>" + "x" * 5000 + "</answer>").info["reason"] == "answer too long"


def test_jsonl_problems_load_and_malformed_lines_are_named(tmp_path):
    f = tmp_path / "p.jsonl"
    f.write_text('{"name": "double", "signature": "def double(x):", "tests": [[[2], 4], [[0], 0]]}\n')
    task = get_task("code", path=str(f))
    (p,) = task.all
    assert task.verify(p, "<answer>def double(x):\n    return 2 * x</answer>").correct
    f.write_text('{"name": "double", "signature": "def double(x):"}\n')
    with pytest.raises(ValueError, match="line 1: missing field 'tests'"):
        get_task("code", path=str(f))


# ---------------------------------------------------------------------- attacks
@pytest.mark.parametrize("mode", SLOW_MODES)
def test_infinite_loop_and_sleep_are_stopped(mode):
    t0 = time.monotonic()
    v = judge(code_task(mode, wall_s=4.0), "def add(a, b):\n    while True:\n        pass\n")
    assert not v.correct and v.info["sandbox"] == "cpu_limit"
    v = judge(code_task(mode, wall_s=0.5), "import time\ndef add(a, b):\n    time.sleep(1000)\n    return a + b\n")
    assert not v.correct and v.info["sandbox"] == "timeout"
    assert time.monotonic() - t0 < 8


@pytest.mark.parametrize("mode", SLOW_MODES)
def test_fork_bomb_is_contained(mode):
    task = code_task(mode, wall_s=1.0)
    v = judge(task, "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
                    "def add(a, b):\n    return a + b\n")
    assert not v.correct
    # a bomb that only counts the processes it got: the process limit stops it
    v = judge(task, "import os, time\ndef add(a, b):\n    n = 0\n    for _ in range(500):\n        if os.fork() == 0:\n"
                    "            time.sleep(30)\n            os._exit(0)\n        n += 1\n    return a + b\n")
    assert not v.correct


@pytest.mark.parametrize("mode", SLOW_MODES)
def test_memory_bomb_is_contained(mode):
    task = code_task(mode)
    assert not judge(task, "def add(a, b):\n    x = bytearray(8 * 1024 ** 3)\n    return a + b\n").correct
    assert not judge(task, "def add(a, b):\n    xs = []\n    while True:\n        xs.append(' ' * 10 ** 6)\n").correct


@pytest.mark.parametrize("mode", SLOW_MODES)
def test_writing_outside_the_working_directory_is_contained(mode, tmp_path):
    task = code_task(mode)
    targets = [tmp_path / "pwned", ROOT / "pwned", Path.home() / "pwned"]
    if mode == "namespaces":          # without namespaces world-writable folders stay writable
        targets += [Path("/tmp") / f"pwned-{os.getpid()}", Path("/dev/shm") / f"pwned-{os.getpid()}"]
    for target in targets:
        v = judge(task, f"def add(a, b):\n    open({str(target)!r}, 'w').write('x')\n    return a + b\n")
        assert not v.correct, target
        assert not target.exists(), target
    if mode == "limits":              # there /tmp is writable while the program runs, and swept after it
        target = Path("/tmp") / f"pwned-{os.getpid()}"
        judge(task, f"def add(a, b):\n    open({str(target)!r}, 'w').write('x')\n    return a + b\n")
        assert not target.exists()
    # inside its own working directory it may write, up to the file-size limit
    ok = judge(task, "def add(a, b):\n    open('f', 'w').write('x')\n    return a + b\n")
    assert ok.correct
    big = judge(task, "def add(a, b):\n    open('f', 'wb').write(b'x' * (2 * 1024 * 1024))\n    return a + b\n")
    assert not big.correct


@pytest.mark.parametrize("mode", MODES)
def test_sockets_reach_nothing(mode):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    server.settimeout(0.2)
    port = server.getsockname()[1]
    accepted = []

    def accept():
        end = time.monotonic() + 6
        while time.monotonic() < end:
            try:
                accepted.append(server.accept())
            except socket.timeout:
                continue
            except OSError:
                return
    t = threading.Thread(target=accept, daemon=True)
    t.start()
    task = code_task(mode)
    v = judge(task, "import socket\ndef add(a, b):\n    s = socket.create_connection(('127.0.0.1', %d), timeout=1)\n"
                    "    s.sendall(b'leak')\n    return a + b\n" % port)
    assert not v.correct
    v = judge(task, "import socket\ndef add(a, b):\n    socket.getaddrinfo('example.com', 80)\n    return a + b\n")
    assert not v.correct
    server.close()
    t.join()
    assert accepted == []


@pytest.mark.parametrize("mode", MODES)
def test_environment_secrets_are_out_of_reach(mode, monkeypatch):
    secret = f"s3cret-{os.getpid()}"
    monkeypatch.setenv("RLVR_TEST_SECRET", secret)
    task = code_task(mode)
    attack = ("import os\ndef add(a, b):\n    found = any(%r in v for v in os.environ.values())\n"
              "    for pid in os.listdir('/proc'):\n        try:\n"
              "            found = found or %r.encode() in open('/proc/%%s/environ' %% pid, 'rb').read()\n"
              "        except Exception:\n            pass\n"
              "    return a + b if found else None\n") % (secret, secret)
    assert not judge(task, attack).correct
    # the same search finds a value the sandbox does hold, so the search itself works
    assert judge(task, attack.replace(repr(secret), repr("/usr/bin"), 1)).correct


@pytest.mark.parametrize("mode", MODES)
def test_killing_the_parent_is_contained(mode):
    sentinel = subprocess.Popen(["sleep", "60"])
    try:
        task = code_task(mode)
        attack = ("import os, signal\ndef add(a, b):\n    hits = 0\n"
                  "    for pid in [os.getppid(), %d, %d] + [int(p) for p in os.listdir('/proc') if p.isdigit()]:\n"
                  "        if pid != os.getpid():\n            try:\n                os.kill(pid, signal.SIGKILL)\n"
                  "                hits += pid in (os.getppid(), %d, %d)\n            except Exception:\n                pass\n"
                  "    return a + b if hits else None\n") % ((os.getpid(), sentinel.pid) * 2)
        assert not judge(task, attack).correct
        if mode == "namespaces":  # kill(-1) reaches only the sandbox's own namespace
            judge(task, "import os\ndef add(a, b):\n    os.kill(-1, 9)\n    return a + b\n")
        assert sentinel.poll() is None                 # the host's processes live on
    finally:
        sentinel.kill()
        sentinel.wait()


@pytest.mark.parametrize("mode", MODES)
def test_output_flood_and_forged_results_score_nothing(mode):
    task = code_task(mode)
    v = judge(task, "import sys\ndef add(a, b):\n    sys.stdout.write('x' * 10 ** 6)\n    return a + b\n")
    assert not v.correct and v.info["sandbox"] == "output_limit"
    forged = ("import os, json\nfor fd in range(3, 30):\n    for i in range(4):\n        try:\n"
              "            os.write(fd, (json.dumps({'i': i, 'value': ['int', '3']}) + '\\n').encode())\n"
              "        except OSError:\n            pass\nos._exit(0)\ndef add(a, b):\n    return a + b\n")
    assert judge(task, forged).info["score"] == 0.25     # a forged 3 is right only for add(1, 2)
