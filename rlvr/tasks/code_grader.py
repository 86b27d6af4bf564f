"""Grading code by running it: the ``code`` task's verifier, and the ``code`` grader of the ``dataset`` task.

    task: {name: dataset, kwargs: {path: mbpp.jsonl, prompt: "{text}", grader: code,
           tests: [test_imports, test_list], answer_from: fence}}

The completion's code (the answer tag's content, a Markdown fence inside it allowed, or with
``answer_from: fence`` the last fenced block) is run in ``rlvr.sandbox`` against the row's tests. The
column ``tests`` names (a list of columns: their tests joined, in order) holds them in these forms, mixed
freely; a cell of text holding a JSON or Python list (a CSV's) is read as that list:

- **pairs** ``[[arguments...], expected]`` (the ``code`` task's form): the function is called on the
  arguments in the sandbox and its value compared outside with ``sandbox.same`` (exact types, an int may
  stand for a float, floats to 1e-9; JSON has no tuples: write a tuple's test as an assert);
- **asserts**: a list of strings, one assert statement each (MBPP's ``test_list``), or one string of
  Python with an assert per statement; import statements among them (MBPP's ``test_imports``) run
  before the asserts and are not tests. ``assert f(<literals>) == <literal>`` (either side), ``assert
  f(...)``, ``assert not f(...)`` and ``assert f(...) is None`` (or True, False) are run as calls: the
  value comes back and is compared outside the sandbox as the assert would (Python's ``==``, truth, ``is``),
  so no completion can forge it. Any other assert (``assert set(f(x)) == {1, 2}``, ``assert
  math.isclose(f(x), 2.5)``) runs whole inside the sandbox and passes when it does not raise; a
  completion that subverts its own process (rebinds builtins, writes to the result pipe) can pass
  those, so train on the forms judged outside. The verdict counts them in ``info["in_sandbox"]``.

``entry_point`` names the function: a column holding its name, or the name itself when no column has
that name; when empty, the first function the asserts call that is not a builtin. Code that does not
parse, or defines no top-level function of that name, is judged without starting a process. The
verdict's info: passed, tests, score (the share passed: the ``partial`` reward), reason, sandbox,
isolation. Majority votes count the code's syntax tree (``code_key``): completions that differ only in
layout and comments vote together; code that does not parse casts no vote.
"""
from __future__ import annotations

import ast
import builtins
import json
import re

from ..config import ConfigError, require, require_choice
from ..sandbox import SandboxLimits, run_tests, same
from ..sandbox.runner import encode
from .answers import read_answer
from .base import Verdict, extract_answer
from .graders import Grader

MAX_CODE_CHARS = 4000
CODE_FROM = ("tag", "fence")
HARNESS = "__rlvr_test__"
_FENCE = re.compile(r"\A\s*```[A-Za-z0-9_+-]*[ \t]*\n(.*?)\n?```\s*\Z", re.DOTALL)


# ---------------------------------------------------------------- the completion's code
def extract_code(completion: str, max_chars: int = MAX_CODE_CHARS) -> tuple[str | None, bool, str]:
    """The code in the answer tag, without a Markdown fence: (code or None, format_ok, info)."""
    code, format_ok, info = extract_answer(completion, max_chars=max_chars)
    if code is None:
        return None, False, info
    m = _FENCE.match(code)
    return (m.group(1) if m else code), format_ok, info


def read_code(completion: str, answer_from: str, max_chars: int = MAX_CODE_CHARS) -> tuple[str | None, bool, str]:
    """The code of a completion: the answer tag's (``extract_code``) or the last fenced block's."""
    if answer_from == "tag":
        return extract_code(completion, max_chars)
    return read_answer(completion, answer_from, max_chars=max_chars)


def precheck(code: str, func: str) -> str | None:
    """Why ``code`` cannot pass without running it (it does not parse, or defines no top-level
    function ``func``), or None."""
    try:
        tree = ast.parse(code)
    except Exception as e:  # SyntaxError, and the parser's own limits (too deep, too long)
        return f"does not parse: {type(e).__name__}"
    if not any(isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == func for node in tree.body):
        return f"no function {func}"
    return None


def code_key(parsed) -> str | None:
    """Canonical form of code, for majority votes: its syntax tree (None when it does not parse)."""
    try:
        return ast.dump(ast.parse(parsed)) if isinstance(parsed, str) else None
    except Exception:
        return None


# ---------------------------------------------------------------- tests
def _statements(src: str) -> list:
    """("assert", source, node) and ("setup", source) items of one string of Python."""
    try:
        tree = ast.parse(src)
    except (SyntaxError, ValueError) as e:
        raise ValueError(f"test {src[:60]!r} is not Python ({type(e).__name__})") from None
    out = []
    for node in tree.body:
        if isinstance(node, ast.Assert):
            out.append(("assert", ast.unparse(node), node))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            out.append(("setup", ast.unparse(node)))
        else:
            raise ValueError(f"a test is an assert statement (or an import before them), got {ast.unparse(node)[:60]!r}")
    return out


def _items(value) -> list:
    """The test items of one cell: pairs, asserts and imports (see the module doc)."""
    if isinstance(value, str):
        text = value.strip()
        if not text.startswith("["):
            return _statements(text)
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            try:
                value = ast.literal_eval(text)      # a Python list, as pandas writes one to a CSV
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                return _statements(text)
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"tests must be a list or text, got {type(value).__name__}")
    out = []
    for item in value:
        if isinstance(item, str):
            out += _statements(item)
        elif isinstance(item, (list, tuple)) and len(item) == 2 and isinstance(item[0], (list, tuple)):
            out.append(("pair", list(item[0]), item[1]))
        else:
            raise ValueError(f"a test is [[arguments...], expected] or an assert statement, got {str(item)[:60]!r}")
    return out


def _first_call(nodes) -> str:
    """The first function the asserts call that is not a builtin."""
    for node in nodes:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name) and not hasattr(builtins, sub.func.id):
                return sub.func.id
    raise ValueError("no function to test: the asserts call none")


def _is_call(node, func: str) -> bool:
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == func
            and not node.keywords and not any(isinstance(a, ast.Starred) for a in node.args))


def _assert_test(node: ast.Assert, src: str, func: str) -> list:
    """["call", arguments, expected, how] for an assert judged outside the sandbox, else ["assert", source]."""
    t, other, how = node.test, None, "truthy"
    if isinstance(t, ast.Compare) and len(t.ops) == 1 and isinstance(t.ops[0], ast.Eq):
        t, other, how = (t.left, t.comparators[0], "==") if _is_call(t.left, func) else (t.comparators[0], t.left, "==")
    elif (isinstance(t, ast.Compare) and len(t.ops) == 1 and isinstance(t.ops[0], ast.Is)
          and isinstance(t.comparators[0], ast.Constant) and any(t.comparators[0].value is c for c in (None, True, False))):
        t, other, how = t.left, t.comparators[0], "is"
    elif isinstance(t, ast.UnaryOp) and isinstance(t.op, ast.Not):
        t, how = t.operand, "falsy"
    if _is_call(t, func):
        try:
            args = [ast.literal_eval(a) for a in t.args]
            encode(args)
            return ["call", args, None if other is None else ast.literal_eval(other), how]
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            pass
    return ["assert", src]


def parse_tests(cells: list, func: str = "") -> tuple[str, list, str]:
    """(function name, tests, setup code) from a row's test cells; ValueError saying what is wrong.

    A test is ``["call", arguments, expected, how]`` (how: same, ==, is, truthy, falsy) or ``["assert",
    source]``; the setup is the import statements, one a line."""
    items = [it for cell in cells for it in _items(cell)]
    setup = "\n".join(it[1] for it in items if it[0] == "setup")
    items = [it for it in items if it[0] != "setup"]
    if not items:
        raise ValueError("no tests")
    func = func or _first_call(it[2] for it in items if it[0] == "assert")
    if not func.isidentifier():
        raise ValueError(f"the function's name {func!r} is not a Python identifier")
    tests = []
    for k, it in enumerate(items):
        if it[0] == "pair":
            try:
                encode(it[1])
                encode(it[2])
            except ValueError:
                raise ValueError(f"test {k + 1}: arguments and expected value must be plain values "
                                 "(numbers, text, lists, dicts)") from None
            tests.append(["call", it[1], it[2], "same"])
        else:
            tests.append(_assert_test(it[2], it[1], func))
    return func, tests, setup


# ---------------------------------------------------------------- running them
def _harness(func: str, tests: list, setup: str) -> str:
    """Python appended to the completion's code: the setup, then one function that runs test k
    (kind 0: call the function; kind 1: run an assert)."""
    asserts = tuple(t[1] for t in tests if t[0] == "assert")
    return (f"\n\n{setup}\ndef {HARNESS}(kind, x, _asserts={asserts!r}):\n"
            f"    if kind == 0:\n        return globals()[{func!r}](*x)\n"
            f"    exec(_asserts[x], globals())\n    return True\n")


def _passes(test: list, value) -> bool:
    if test[0] == "assert":
        return value is True
    _, _, want, how = test
    if how == "same":
        return same(value, want)
    if how == "==":
        return bool(value == want)
    if how == "is":
        return value is want
    return bool(value) if how == "truthy" else not value


def grade(code: str, format_ok: bool, func: str, tests: list, setup: str, limits: SandboxLimits) -> Verdict:
    """The verdict on ``code`` against ``tests`` (``parse_tests``'s form): correct when every test
    passes; ``info["score"]`` the share that did."""
    n = len(tests)
    reason = precheck(code, func)
    if reason is not None:
        return Verdict(False, code, False, {"passed": 0, "tests": n, "score": 0.0, "reason": reason})
    if all(t[0] == "call" for t in tests):
        res = run_tests(code, func, [t[1] for t in tests], limits)
    else:
        k, inputs = 0, []
        for t in tests:
            inputs.append([0, t[1]] if t[0] == "call" else [1, k])
            k += t[0] == "assert"
        res = run_tests(code + _harness(func, tests, setup), HARNESS, inputs, limits)
    passed = sum(1 for t, v, e in zip(tests, res.values, res.errors) if e is None and _passes(t, v))
    reason = "ok" if passed == n else (res.status if res.status != "ok" else "tests failed")
    info = {"passed": passed, "tests": n, "score": passed / n, "reason": reason, "sandbox": res.status,
            "isolation": res.isolation}
    in_sandbox = sum(t[0] == "assert" for t in tests)
    return Verdict(passed == n, code, format_ok, {**info, "in_sandbox": in_sandbox} if in_sandbox else info)


# ---------------------------------------------------------------- the grader and the dataset task's settings
def _correct(answer: str, reference: str) -> bool:
    """``reference`` is JSON ``{"tests": ..., "entry_point": ...}``; every test passes (default limits)."""
    try:
        spec = json.loads(reference)
        func, tests, setup = parse_tests([spec["tests"]], spec.get("entry_point", ""))
        m = _FENCE.match(answer)
        return grade(m.group(1) if m else answer, True, func, tests, setup, SandboxLimits()).correct
    except Exception:
        return False


CODE = Grader("code", _correct, code_key)
"""Code, run against tests in the sandbox (the ``dataset`` task gives it each row's tests and a score)."""


def sandbox_limits(sandbox) -> SandboxLimits:
    """``SandboxLimits`` from a config's ``sandbox`` mapping (cpu_s, wall_s, memory_mb, ...)."""
    require(sandbox is None or isinstance(sandbox, dict), "kwargs.sandbox", f"must be a mapping, got {sandbox!r}",
            "e.g. task.kwargs.sandbox={cpu_s: 2, wall_s: 5, memory_mb: 256}")
    fields = SandboxLimits.__dataclass_fields__
    for k, v in (sandbox or {}).items():
        require(k in fields, "kwargs.sandbox", f"unknown limit {k!r}", f"use {', '.join(fields)}")
        if k == "isolation":
            require_choice(v, ("auto", "namespaces", "limits"), "kwargs.sandbox.isolation")
        else:
            kind = type(fields[k].default)
            require(isinstance(v, (int, kind)) and not isinstance(v, bool) and v > 0, f"kwargs.sandbox.{k}",
                    f"must be a {'whole ' if kind is int else ''}number > 0, got {v!r}")
    return SandboxLimits(**{k: (float(v) if k == "wall_s" else v) for k, v in (sandbox or {}).items()})


def code_settings(grader: str, tests, entry_point: str, sandbox, answer_from: str) -> tuple[tuple, SandboxLimits | None]:
    """(the test columns, the sandbox's limits) of a dataset task; ConfigError for settings that do not fit."""
    if grader != "code":
        require(not tests and not entry_point and sandbox is None, "kwargs.tests",
                f"tests, entry_point and sandbox are read by grader code only, and the grader is {grader!r}",
                "set task.kwargs.grader=code, or drop them")
        return (), None
    require(answer_from in CODE_FROM, "kwargs.answer_from", f"grader code reads code from the answer tag or "
            f"the last Markdown fence, not {answer_from!r}", "set task.kwargs.answer_from=tag or fence")
    columns = (tests,) if isinstance(tests, str) else tests
    require(isinstance(columns, (list, tuple)) and all(isinstance(c, str) for c in columns), "kwargs.tests",
            f"must name a column or a list of columns, got {tests!r}", "e.g. task.kwargs.tests=test_list")
    require(isinstance(entry_point, str), "kwargs.entry_point", f"must be text, got {entry_point!r}",
            "name the function's column, or the function")
    return tuple(c for c in columns if c), sandbox_limits(sandbox)


def row_tests(row: dict, columns: tuple, entry_point: str, where: str) -> dict:
    """A row's function and tests, for ``Problem.meta`` (``func``, ``code_tests``, ``code_setup``)."""
    require(bool(columns), "kwargs.tests", f"{where}: grader code runs each row's tests and no column is named; "
            f"the columns are {', '.join(map(str, row))}", "set task.kwargs.tests to the column of the tests")
    func = row.get(entry_point, entry_point)           # a column naming it, or the name itself
    try:
        require(isinstance(func, str), "kwargs.entry_point", f"{where}: {func!r} is not a function's name")
        func, tests, setup = parse_tests([row[c] for c in columns], func)
    except ValueError as e:
        if isinstance(e, ConfigError):
            raise
        fix = "set task.kwargs.entry_point to the function's name" if str(e).startswith(("no function", "the function")) \
            else "give a list of [[arguments...], expected] pairs or of assert statements"
        raise ConfigError("kwargs.tests", f"{where}: {e}", fix) from None
    return {"func": func, "code_tests": tests, "code_setup": setup}
