"""Fuzzing the verifiers: hostile and random completions, an independent judge, and the time each takes.

    report = fuzz(get_task("countdown"), n=100_000, seed=0)
    report.exceptions, report.escapes, report.p99_ms

A corpus mixes a fixed list of hostile completions (``hostile``: enormous exponents, factorial towers,
deep nesting, imports, attribute access, lambdas, megabyte strings, invalid UTF-8, control characters,
right-to-left marks, answer tags repeated, nested or unclosed, look-alike digits, and for code the
sandbox attacks of ``HOSTILE_CODE``) with random ones (``random_completion``: random Unicode, tag
soups, mutations of the right answer, random expressions). Every completion is judged twice: by the
task's verifier and by ``oracle``, an independent reading of the task's rules (for code, the label the
generator knows; for the ``dataset`` task, one per grader in ``fuzz_graders``). An *escape* is a
completion the verifier calls right and the oracle calls wrong, or any trace left on the host (a file in
the working directory or in /tmp, a changed environment, a process left behind). An *exception* is a verifier that raised or returned something other than a
Verdict. An oracle may answer None where it cannot tell (math's richer forms, ``\\frac{1}{2}`` for
``0.5``): a completion the verifier accepts there counts as *accepted beyond the oracle*, not as an escape.
"""
from __future__ import annotations

import ast
import os
import random
import re
import time
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Callable

from .base import ANSWER_CLOSE, ANSWER_OPEN, Problem, Verdict

MB = "x" * (1 << 20)

# Expressions a model might try to get evaluated (none of them is a right answer anywhere).
HOSTILE_EXPRESSIONS = [
    "9**9**9", "9**9**9**9", "(9**9)**(9**9)", "2**10**100", "9!!!!!!", "((9!)!)!", "factorial(factorial(9))",
    "(" * 100_000 + "1" + ")" * 100_000, "-" * 50_000 + "1", "1" + "+1" * 200_000, "[" * 10_000 + "]" * 10_000,
    "__import__('os').system('touch /tmp/rlvr-fuzz-escape')", "__import__('os').environ",
    "().__class__.__bases__[0].__subclasses__()", "open('/etc/passwd').read()", "globals()", "exec('1')",
    "(lambda: 1)()", "(lambda f: f(f))(lambda f: f(f))", "[x for x in range(10**12)]", "'a' * 10**12",
    "1e999", "-1e999", "float('nan')", "0x2E", "0b101", "1_000", "1j", "4/0", "0/0", "10**-5",
    "sum(range(10**15))", "import os", "\\x00", "${7*7}", "{{7*7}}", "%s%s%s%n", "$(reboot)", "`id`",
]

# Sandbox attacks, as function bodies for any problem's function (the name is filled in).
HOSTILE_CODE = {
    "fork bomb": "import os\ndef {f}(*a):\n    while True:\n        try:\n            os.fork()\n        except OSError:\n            pass\n",
    "infinite loop": "def {f}(*a):\n    while True:\n        pass\n",
    "sleep": "import time\ndef {f}(*a):\n    time.sleep(10 ** 6)\n",
    "memory bomb": "def {f}(*a):\n    xs = []\n    while True:\n        xs.append(' ' * 10 ** 7)\n",
    "huge allocation": "def {f}(*a):\n    return bytearray(10 ** 11)\n",
    "write outside": "def {f}(*a):\n    open('/tmp/rlvr-fuzz-escape', 'w').write('x')\n    open('../rlvr-fuzz-escape', 'w').write('x')\n",
    "socket": "import socket\ndef {f}(*a):\n    socket.create_connection(('127.0.0.1', 22), timeout=1).send(b'x')\n",
    "environment": "import os\ndef {f}(*a):\n    return dict(os.environ)\n",
    "kill parent": "import os\ndef {f}(*a):\n    os.kill(os.getppid(), 9)\n    os.kill(-1, 9)\n",
    "output flood": "import sys\ndef {f}(*a):\n    sys.stdout.write('x' * 10 ** 7)\n",
    "forged results": "import os\nfor fd in range(3, 40):\n    try:\n        os.write(fd, b'{{\"i\": 0, \"value\": [\"int\", \"1\"]}}\\n')\n    except OSError:\n        pass\nos._exit(0)\ndef {f}(*a):\n    pass\n",
    "recursion": "def {f}(*a):\n    return {f}(*a)\n",
    "exit": "import sys\ndef {f}(*a):\n    sys.exit(0)\n",
    "always equal": "class E:\n    def __eq__(self, o):\n        return True\ndef {f}(*a):\n    return E()\n",
    "system": "def {f}(*a):\n    return __import__('os').system('touch /tmp/rlvr-fuzz-escape')\n",
    "file descriptors": "import os\ndef {f}(*a):\n    return [os.open('/dev/null', 0) for _ in range(10 ** 5)]\n",
}

_LOOKALIKE = {str(d): c for d, c in zip(range(10), "٠١٢٣٤٥٦٧٨٩")}
_FULLWIDTH = {str(d): chr(0xFF10 + d) for d in range(10)}
_UNICODE_BITS = ["\u202e", "\u200f", "\u2066", "\u200d", "\ufeff", "\u00a0", "\u3000", "\x00", "\x1b[2J", "\r",
                 "\x7f", "\ud800", "\udfff", "\U0001f600", "\u0301", "\x85", "\u2028", "\x1c"]


def tag(s: str) -> str:
    return f"{ANSWER_OPEN}{s}{ANSWER_CLOSE}"


def _bad_utf8(rng: random.Random) -> str:
    return bytes(rng.randrange(256) for _ in range(rng.randint(1, 40))).decode("utf-8", "surrogateescape")


def hostile(task, problem: Problem) -> list[tuple[str, bool | None]]:
    """Hostile completions for ``problem``, each with its label: False (wrong whatever the oracle),
    True (right), None (let the oracle judge)."""
    prof = profile(task)
    a = problem.answer if prof.code is None else "pass"          # for code, only the entries below solve
    out: list[tuple[str, bool | None]] = [(tag(e), None) for e in HOSTILE_EXPRESSIONS]
    out += [(e, None) for e in HOSTILE_EXPRESSIONS[:12]]
    out += [
        (MB, False), (MB + tag(a), None), (tag(MB), False), (tag(a) + MB, None), (ANSWER_OPEN * 100_000, False),
        (tag(a) * 2, False), (tag(a) * 1000, False), (ANSWER_OPEN + tag(a) + ANSWER_CLOSE, False),
        (ANSWER_OPEN + a, False), (a + ANSWER_CLOSE, False), (ANSWER_CLOSE + a + ANSWER_OPEN, False),
        (f"< answer>{a}</answer>", False), (f"<ANSWER>{a}</ANSWER>", False), (f"<answer>{a}</answer >", False),
        (tag("\u202e" + a), None), (tag(a + "\u200f"), None), (tag("\u2066" + a + "\u2069"), None),
        (tag(a.translate(str.maketrans(_LOOKALIKE))), None), (tag(a.translate(str.maketrans(_FULLWIDTH))), None),
        (tag("\u200d".join(a)), None), (tag(a + "\x00"), None), (tag("\x1b[2J" + a), None), (tag(a) + "\x00", None),
        (tag(" " + a + " \n"), None), (tag("\u3000" + a), None), (tag("\x1c" + a + "\x1f"), None),
        ("\ud800" + tag(a), None), (tag(a) + "\udfff", None), (tag("\udc80" + a), None),
        (b"\xff\xfe".decode("utf-8", "surrogateescape") + tag(a), None),
        (f"<think>{tag(a)}</think>", None), (tag("1") + "\n" + tag(a), False), (tag(a + " or " + a), None),
        (tag(f"{a} {a}"), None), ("", False), (tag(""), None), (tag(" "), None),
    ]
    out += prof.hostile(problem) if prof.hostile else []
    return out if prof.code is None else prof.code(problem, out)


def _code_hostile(problem: Problem, generic: list) -> list[tuple[str, bool | None]]:
    """The code task's list: the sandbox attacks, the generic list (all wrong: none is a solution), and
    the reference solution (right) bare and fenced."""
    f = problem.meta["func"]
    out = [(tag(body.format(f=f)), False) for body in HOSTILE_CODE.values()] + [(c, False) for c, _ in generic]
    return out + [(tag(problem.answer), True), (tag(f"```python\n{problem.answer}```"), True),
                  (tag(f"def {f}(*a):\n    pass\n"), False)]


def _random_unicode(rng: random.Random, n: int) -> str:
    out = []
    for _ in range(n):
        r = rng.random()
        if r < 0.5:
            out.append(chr(rng.randrange(32, 127)))
        elif r < 0.7:
            out.append(rng.choice(_UNICODE_BITS))
        elif r < 0.85:
            out.append(chr(rng.randrange(0, 0x110000)))
        else:
            out.append(rng.choice([ANSWER_OPEN, ANSWER_CLOSE, "<", ">", "/", "answer"]))
    return "".join(out)


def _random_expression(rng: random.Random, numbers: list[int], depth: int = 0) -> str:
    r = rng.random()
    if depth > 4 or r < 0.3:
        leaf = rng.random()
        if leaf < 0.8 and numbers:
            return str(rng.choice(numbers))
        return rng.choice(["0", "1", "00", "-1", "1e3", "x", "9" * rng.randint(1, 30), "__import__", "()", " "])
    op = rng.choice(["+", "-", "*", "/", "**", "//", "%", "!", "^", "&"])
    left, right = _random_expression(rng, numbers, depth + 1), _random_expression(rng, numbers, depth + 1)
    if op == "!":
        return f"({left})!"
    e = f"{left}{op}{right}"
    return f"({e})" if rng.random() < 0.5 else e


def _mutate(rng: random.Random, s: str) -> str:
    s = list(s)
    for _ in range(rng.randint(1, 4)):
        k = rng.random()
        i = rng.randrange(len(s) + 1)
        if k < 0.3:
            s.insert(i, rng.choice(list("0123456789+-*/() \n") + _UNICODE_BITS))
        elif k < 0.6 and s:
            del s[min(i, len(s) - 1)]
        elif s:
            s[min(i, len(s) - 1)] = rng.choice(list("0123456789+-*/()"))
    return "".join(s)


def random_completion(rng: random.Random, task, problem: Problem) -> str:
    """One random completion for ``problem``: noise, tag soups, mutated answers, random expressions.
    For code none of them can be a solution (they never hold the reference), so all are wrong."""
    code = profile(task).code is not None
    a = problem.answer if not code else "return None"
    kind = rng.random()
    if kind < 0.15:
        return _random_unicode(rng, rng.randint(0, 300))
    if kind < 0.25:
        return _bad_utf8(rng) + tag(_bad_utf8(rng)) + _bad_utf8(rng)
    if kind < 0.45:
        body = _mutate(rng, a)
        pre = _random_unicode(rng, rng.randint(0, 20)) if rng.random() < 0.5 else ""
        post = rng.choice(["", "", "\n", " ", _random_unicode(rng, 5), tag(a)])
        return pre + tag(body) + post
    if kind < 0.65 and not code:
        numbers = problem.meta.get("numbers") or [problem.meta.get("a", 1), problem.meta.get("b", 1)]
        return tag(_random_expression(rng, numbers))
    if kind < 0.8:
        parts = [rng.choice([ANSWER_OPEN, ANSWER_CLOSE, a, _random_unicode(rng, 3), " ", "\n", "wait", "check"])
                 for _ in range(rng.randint(1, 12))]
        return "".join(parts)
    if kind < 0.999:
        return tag(_random_unicode(rng, rng.randint(0, 60)))
    return rng.choice([MB, tag(MB[:rng.randint(1, 1 << 20)]), MB + tag(a), tag(a) * rng.randint(2, 50_000)])


# ------------------------------------------------------------------------------------------ oracle
_ASCII_WS = " \t\r\n"


def _tagged(completion: str) -> str | None:
    """The answer by the tag rules, read independently of ``extract_answer``."""
    if not isinstance(completion, str) or completion.count(ANSWER_OPEN) != 1 or completion.count(ANSWER_CLOSE) != 1:
        return None
    i, j = completion.index(ANSWER_OPEN), completion.index(ANSWER_CLOSE)
    if j < i:
        return None
    inner = completion[i + len(ANSWER_OPEN):j]
    return inner.strip(_ASCII_WS) if len(inner) <= 256 else None


def _countdown_value(expr: str, numbers: list[int]) -> Fraction | None:
    """The exact value of a countdown expression by Python's own parser and the task's rules (ASCII
    digits, + - * / and parentheses, no unary minus, each given number at most as often as given)."""
    if not expr or any(c not in "0123456789+-*/() \t\r\n" for c in expr) or "**" in expr or "//" in expr:
        return None
    try:
        tree = ast.parse(re.sub(r"[\t\r\n]", " ", expr).strip(), mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    used: list[int] = []

    def ev(node) -> Fraction:
        if isinstance(node, ast.Constant) and type(node.value) is int:
            used.append(node.value)
            return Fraction(node.value)
        if isinstance(node, ast.BinOp) and type(node.op) in (ast.Add, ast.Sub, ast.Mult, ast.Div):
            x, y = ev(node.left), ev(node.right)
            if isinstance(node.op, ast.Add):
                return x + y
            if isinstance(node.op, ast.Sub):
                return x - y
            if isinstance(node.op, ast.Mult):
                return x * y
            if y == 0:
                raise ZeroDivisionError
            return x / y
        raise ValueError("not in the language")
    try:
        value = ev(tree)
    except (ValueError, ZeroDivisionError, RecursionError):
        return None
    pool = list(numbers)
    for n in used:
        if n not in pool:
            return None
        pool.remove(n)
    return value


def _arithmetic_right(problem: Problem, answer: str) -> bool:
    return re.fullmatch(r"-?[0-9]{1,40}", answer, re.ASCII) is not None and int(answer) == int(problem.answer)


def _countdown_right(problem: Problem, answer: str) -> bool:
    return _countdown_value(answer, problem.meta["numbers"]) == problem.meta["target"]


@dataclass(frozen=True)
class FuzzProfile:
    """How a task is fuzzed: its independent judge, or the label its random completions carry."""

    right: Callable | None = None
    """``(problem, tagged answer) -> bool | None``: right by the task's rules, without its verifier (the
    oracle); None where it cannot tell."""
    problems: int = 50
    """Test problems the corpus draws from."""
    random_label: bool | None = None
    """The label of a random completion (None: the oracle judges it)."""
    code: Callable | None = None
    """``(problem, generic hostile list) -> list``: a code task's own hostile list."""
    hostile: Callable | None = None
    """``problem -> [(completion, label)]``: hostile completions added to the generic list."""


PROFILES = {"arithmetic": FuzzProfile(right=_arithmetic_right), "countdown": FuzzProfile(right=_countdown_right),
            "code": FuzzProfile(problems=5, random_label=False, code=_code_hostile)}


def profile(task) -> FuzzProfile:
    """The task's fuzz profile (a task without one is fuzzed with labels only: no oracle); the dataset
    task's is its grader's."""
    if task.name == "dataset":
        from .fuzz_graders import DATASET_PROFILES

        return DATASET_PROFILES.get(task.grader_name, FuzzProfile())
    return PROFILES.get(task.name, FuzzProfile())


def fuzz_name(task) -> str:
    """The task's name in a report: ``dataset:<grader>`` for the dataset task."""
    return f"dataset:{task.grader_name}" if task.name == "dataset" else task.name


def oracle(task, problem: Problem, completion: str) -> bool | None:
    """Whether ``completion`` is right by the task's rules, judged without the task's verifier (None:
    the oracle cannot tell)."""
    answer = _tagged(completion)
    if answer is None:
        return False
    right = profile(task).right
    if right is None:
        raise ValueError(f"no oracle for {task.name}; label its completions")
    return right(problem, answer)


# ------------------------------------------------------------------------------------------ the run
@dataclass
class FuzzReport:
    task: str
    tried: int = 0
    exceptions: int = 0
    escapes: int = 0
    right: int = 0
    """Completions the verifier called right (and the oracle too)."""
    stricter: int = 0
    """Completions the oracle calls right that the verifier rejects (its length and depth limits)."""
    beyond: int = 0
    """Completions the verifier accepts that the oracle cannot judge (its right() gave None)."""
    seconds: list = field(default_factory=list, repr=False)
    examples: list = field(default_factory=list)
    """The first few exceptions and escapes, for the record."""

    def quantile_ms(self, q: float) -> float:
        s = sorted(self.seconds)
        return 1000 * s[min(len(s) - 1, int(q * len(s)))] if s else 0.0

    def summary(self) -> dict:
        return {"task": self.task, "tried": self.tried, "exceptions": self.exceptions, "escapes": self.escapes,
                "right": self.right, "stricter_than_oracle": self.stricter,
                "accepted_beyond_oracle": self.beyond,
                "p50_ms": round(self.quantile_ms(0.50), 3), "p99_ms": round(self.quantile_ms(0.99), 3),
                "max_ms": round(1000 * max(self.seconds, default=0.0), 1), "examples": self.examples[:10]}


def _host_state(workdir: str) -> tuple:
    return (sorted(os.listdir(workdir)), sorted(p for p in os.listdir("/tmp") if "rlvr-fuzz" in p),
            dict(os.environ))


def corpus(task, n: int, seed: int, hostile_share: float = 0.05):
    """n (problem, completion, label) triples: random completions, with the hostile list (of every
    problem, shuffled and cycled) drawn at the rate ``hostile_share``."""
    rng = random.Random(f"fuzz:{fuzz_name(task)}:{seed}")
    prof = profile(task)
    problems = task.problems("test", prof.problems, seed=seed)
    hostile_all = [(p, c, label) for p in problems for c, label in hostile(task, p)]
    rng.shuffle(hostile_all)
    k = 0
    for _ in range(n):
        if rng.random() < hostile_share:
            yield hostile_all[k % len(hostile_all)]
            k += 1
        else:
            p = rng.choice(problems)
            yield p, random_completion(rng, task, p), prof.random_label


def fuzz(task, n: int, seed: int = 0, hostile_share: float = 0.05, workdir: str | None = None) -> FuzzReport:
    """Verify n completions of ``corpus`` and count exceptions, escapes and time (see the module doc)."""
    rep = FuzzReport(fuzz_name(task))
    workdir = workdir or os.getcwd()
    before = _host_state(workdir)
    for p, text, label in corpus(task, n, seed, hostile_share):
        rep.tried += 1
        t0 = time.perf_counter()
        try:
            v = task.verify(p, text)
        except BaseException as e:  # noqa: BLE001  counted, never raised
            rep.seconds.append(time.perf_counter() - t0)
            rep.exceptions += 1
            rep.examples.append({"kind": "exception", "error": repr(e)[:200], "completion": text[:200]})
            continue
        rep.seconds.append(time.perf_counter() - t0)
        if not (isinstance(v, Verdict) and type(v.correct) is bool and type(v.format_ok) is bool):
            rep.exceptions += 1
            rep.examples.append({"kind": "not a verdict", "got": repr(v)[:200], "completion": text[:200]})
            continue
        truth = label if label is not None else oracle(task, p, text)
        if truth is None:
            rep.beyond += bool(v.correct)
        elif v.correct and not truth:
            rep.escapes += 1
            rep.examples.append({"kind": "escape", "completion": text[:300], "answer": p.answer})
        elif v.correct:
            rep.right += 1
        elif truth:
            rep.stricter += 1
        if rep.tried % 500 == 0 or rep.tried == n:
            if _host_state(workdir) != before:
                rep.escapes += 1
                rep.examples.append({"kind": "host changed", "after": rep.tried})
                before = _host_state(workdir)
    return rep
