"""The dataset task's ``code`` grader: a user's coding problems, graded by running the completion's code
against each row's tests in the real sandbox (pairs or assert statements), in process and in the pool."""
import csv
import json
import time

import pytest

from rlvr.cli import main
from rlvr.config import ConfigError
from rlvr.tasks import get_task
from rlvr.tasks.answers import read_answer
from rlvr.tasks.code_grader import parse_tests
from rlvr.tasks.graders import GRADERS
from rlvr.tasks.pool import VerifierPool

LIMITS = {"cpu_s": 1, "wall_s": 1.5}
ROWS = {
    "add": {"text": "Add a and b.", "tests": [[[1, 2], 3], [[2, 3], 5], [[-1, 1], 0], [[10, 5], 15]], "fn": "add"},
    "occ": {"text": "Remove every c from s.", "fn": "remove_occ", "imports": ["import math"],
            "tests": ["assert remove_occ('hello', 'l') == 'heo'", "assert set(remove_occ('ab', 'a')) == {'b'}",
                      "assert math.isclose(len(remove_occ('abc', 'c')), 2)"]},
    "minmax": {"text": "The smallest and largest of xs.", "fn": "min_max",
               "tests": "assert min_max([3, 1, 2]) == (1, 3)\nassert min_max([5]) == (5, 5)"},
    "even": {"text": "Whether n is even.", "fn": "is_even",
             "tests": json.dumps(["assert is_even(2)", "assert not is_even(3)", "assert is_even(0) is True"])},
}
ADD = "def add(a, b):\n    return a + b\n"
OCC = "def remove_occ(s, c):\n    return s.replace(c, '')\n"
FORGE = ("import os\nfor fd in range(3, 40):\n    for i in range(3):\n        try:\n"
         "            os.write(fd, ('{\"i\": %d, \"value\": [\"bool\", true]}\\n' % i).encode())\n"
         "        except OSError:\n            pass\nos._exit(0)\ndef remove_occ(s, c):\n    pass\n")


def tag(code: str, after: str = "") -> str:
    return f"<answer>{code}</answer>{after}"


# (row, completion, correct, passed, score, reason)
CASES = [
    ("add", tag(ADD), True, 4, 1.0, "ok"),
    ("add", tag(f"```python\n{ADD}```"), True, 4, 1.0, "ok"),                    # a fence inside the tag
    ("add", tag(f"```py\n{ADD}\n```\n"), True, 4, 1.0, "ok"),
    ("add", "I think:\n" + tag(ADD), True, 4, 1.0, "ok"),
    ("add", tag("def add(a, b):\n    return a - b\n"), False, 0, 0.0, "tests failed"),
    ("add", tag("def add(a, b):\n    return 3\n"), False, 1, 0.25, "tests failed"),
    ("add", tag("def add(a, b):\n    return abs(a) + b\n"), False, 3, 0.75, "tests failed"),
    ("add", tag("def add(a, b):\n    return a / (a + 1) * 0 + a + b\n"), False, 0, 0.0, "tests failed"),  # floats
    ("add", tag("def add(a, b):\n    return 1 // (a + 1) * 0 + a + b\n"), False, 3, 0.75, "tests failed"),  # raises once
    ("add", tag("def add(a, b):\n    raise ValueError('no')\n"), False, 0, 0.0, "tests failed"),
    ("add", tag("def add(a, b) return a + b"), False, 0, 0.0, "does not parse: SyntaxError"),
    ("add", tag("def plus(a, b):\n    return a + b\n"), False, 0, 0.0, "no function add"),
    ("add", tag("import sys\nsys.exit(0)\n" + ADD), False, 0, 0.0, "load_error"),
    ("add", tag("def add(a, b):\n    while True:\n        pass\n"), False, 0, 0.0, "limit"),
    ("add", tag("def add(a, b):\n    while a < 0:\n        pass\n    return a + b\n"), False, 2, 0.5, "limit"),
    ("add", tag("def add(a, b):\n    print('x' * 10 ** 7)\n    return a + b\n"), False, 0, 0.0, "output_limit"),
    ("add", tag("class E:\n    def __eq__(self, o):\n        return True\ndef add(a, b):\n    return E()\n"),
     False, 0, 0.0, "tests failed"),
    ("add", ADD, False, 0, 0.0, "no answer tag"),
    ("add", tag("x" * 4001), False, 0, 0.0, "answer too long"),
    ("occ", tag(OCC), True, 3, 1.0, "ok"),
    ("occ", tag("def remove_occ(s, c):\n    return s.replace(c, '', 1)\n"), False, 2, 2 / 3, "tests failed"),
    ("occ", tag("def remove_occ(s, c):\n    return s\n"), False, 0, 0.0, "tests failed"),
    ("occ", tag("class E:\n    def __eq__(self, o):\n        return True\ndef remove_occ(s, c):\n    return E()\n"),
     False, 0, 0.0, "tests failed"),
    # the documented limit: a completion that forges its results passes the asserts judged inside the
    # sandbox, never the one whose value comes back and is compared outside
    ("occ", tag(FORGE), False, 2, 2 / 3, "tests failed"),
    ("minmax", tag("def min_max(xs):\n    return (min(xs), max(xs))\n"), True, 2, 1.0, "ok"),
    ("minmax", tag("def min_max(xs):\n    return [min(xs), max(xs)]\n"), False, 0, 0.0, "tests failed"),
    ("even", tag("def is_even(n):\n    return n % 2 == 0\n"), True, 3, 1.0, "ok"),
    ("even", tag("def is_even(n):\n    return 1 - n % 2\n"), False, 2, 2 / 3, "tests failed"),   # not `is True`
]


@pytest.fixture(scope="module")
def task(tmp_path_factory):
    path = tmp_path_factory.mktemp("code") / "rows.jsonl"
    path.write_text("".join(json.dumps({"id": k, "imports": [], **r}) + "\n" for k, r in ROWS.items()))
    return get_task("dataset", path=str(path), prompt="{text}", id="id", grader="code", tests=["imports", "tests"],
                    entry_point="fn", sandbox=LIMITS)


def problem(task, key):
    return next(p for s in ("train", "validation", "test") for p in task._load(s) if p.id == key)


def check(v, correct, passed, score, reason):
    assert (v.correct, v.info["passed"], v.info["score"]) == (correct, passed, pytest.approx(score)), v.info
    if reason == "limit":
        assert v.info["reason"] in ("cpu_limit", "timeout"), v.info
    else:
        assert v.info["reason"] == reason, v.info


@pytest.mark.parametrize("row, completion, correct, passed, score, reason", CASES)
def test_code_verdicts(task, row, completion, correct, passed, score, reason):
    t0 = time.monotonic()
    v = task.verify(problem(task, row), completion)
    check(v, correct, passed, score, reason)
    assert time.monotonic() - t0 < LIMITS["wall_s"] + 1.5          # an infinite loop is bounded
    assert v.info["tests"] == len(problem(task, row).meta["code_tests"])


def test_rows_become_tests_judged_outside_where_they_can_be(task):
    occ = problem(task, "occ")
    assert occ.meta["func"] == "remove_occ" and occ.meta["code_setup"] == "import math"
    assert [t[0] for t in occ.meta["code_tests"]] == ["call", "assert", "assert"]
    assert problem(task, "even").meta["code_tests"] == [["call", [2], None, "truthy"], ["call", [3], None, "falsy"],
                                                       ["call", [0], True, "is"]]
    assert problem(task, "add").answer == "" and problem(task, "add").meta["code_tests"][0] == ["call", [1, 2], 3, "same"]
    assert task.verify(occ, tag(OCC)).info["in_sandbox"] == 2
    assert "in_sandbox" not in task.verify(problem(task, "add"), tag(ADD)).info
    # the function is found without entry_point: the first non-builtin the asserts call
    assert parse_tests([["assert sorted(f(3)) == [1]"]])[0] == "f"
    assert parse_tests(["['assert f(1) == (2, 3)']"])[1] == [["call", [1], (2, 3), "=="]]     # pandas' CSV cell
    assert parse_tests(['[[[1, "a"], null]]'], "g")[1] == [["call", [1, "a"], None, "same"]]     # JSON text
    with pytest.raises(ValueError, match="the asserts call none"):
        parse_tests([[[[1], 2]]])
    with pytest.raises(ValueError, match="an assert statement"):
        parse_tests(["print(1)"], "f")


def test_fence_answers_and_votes(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps({"q": "add", "t": ROWS["add"]["tests"], "sol": ADD}) + "\n")
    task = get_task("dataset", path=str(path), prompt="{q}", grader="code", tests="t", entry_point="add",
                    answer="sol", answer_from="fence")
    p = task._load("train")[0] if task._load("train") else next(x for s in ("validation", "test") for x in task._load(s))
    assert p.answer == ADD
    assert task.verify(p, f"Sure.\n```python\ndef add(a, b):\n    return 0\n```\nBetter:\n```python\n{ADD}```\nDone.").correct
    assert task.verify(p, f"```\n{ADD}```").correct and not task.verify(p, tag(ADD)).correct
    assert read_answer("```python\nx = 1\n```", "fence") == ("x = 1", True, "ok")
    assert read_answer("no fence", "fence") == (None, False, "no code fence")
    assert read_answer("```python\nx = 1", "fence") == (None, False, "unclosed code fence")
    assert read_answer("```a``` and ```python\nx", "fence") == ("a", True, "ok")        # the last closed one
    assert read_answer("```\n" + "x" * 300 + "\n```", "fence") == (None, False, "answer too long")
    assert task.normalize("def add(a,b):  return a+b  # sum") == task.normalize("def add(a, b):\n    return a + b")
    assert task.normalize("def add(a, b) return") is None


def test_the_registered_grader_reads_tests_as_json():
    code = GRADERS.get("code")
    spec = json.dumps({"tests": ["assert add(1, 2) == 3"], "entry_point": "add"})
    assert code.correct(ADD, spec) and code.correct(f"```python\n{ADD}```", spec)
    assert not code.correct("def add(a, b):\n    return 0\n", spec) and not code.correct(ADD, "not json")


def test_the_pool_gives_the_in_process_verdicts(task):
    problems = [problem(task, row) for row, *_ in CASES]
    texts = [c[1] for c in CASES]
    with VerifierPool(task, workers=2, timeout_s=10) as pool:
        got = pool.verify_many(problems, texts)
        assert pool.replaced == 0
    for v, (_, _, correct, passed, score, reason) in zip(got, CASES):
        check(v, correct, passed, score, reason)


@pytest.mark.parametrize("kwargs, message", [
    ({"grader": "code"}, ("task.kwargs.tests: {rows}, line 1: grader code runs each row's tests and no column is "
                          "named; the columns are text, tests, fn; set task.kwargs.tests to the column of the tests")),
    ({"grader": "code", "tests": "test_list"}, ("task.kwargs.tests: {rows}, line 1: no column 'test_list'; the "
                                                "columns are text, tests, fn; set task.kwargs.tests to one of them")),
    ({"grader": "code", "tests": "text", "entry_point": "fn"}, ("task.kwargs.tests: {rows}, line 1: test 'Add.' is "
                                                               "not Python (SyntaxError); give a list of [[arguments")),
    ({"grader": "code", "tests": "tests"}, ("task.kwargs.tests: {rows}, line 1: no function to test: the asserts "
                                            "call none; set task.kwargs.entry_point to the function's name")),
    ({"grader": "code", "tests": "tests", "answer_from": "boxed"}, ("task.kwargs.answer_from: grader code reads "
                                                                    "code from the answer tag or the last Markdown fence")),
    ({"grader": "code", "tests": "tests", "sandbox": "{cpu: 1}"}, "task.kwargs.sandbox: unknown limit 'cpu'"),
    ({"grader": "numeric", "tests": "tests"}, ("task.kwargs.tests: tests, entry_point and sandbox are read by "
                                               "grader code only")),
])
def test_bad_code_settings_are_one_line(tmp_path, capsys, kwargs, message):
    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps({"text": "Add.", "tests": ROWS["add"]["tests"], "fn": "add"}) + "\n")
    kw = ", ".join(f"{k}: {v}" if v.startswith("{") else f"{k}: '{v}'" for k, v in kwargs.items())
    out = tmp_path / "run"
    rc = main(["grpo", "task.name=dataset", f"task.kwargs={{path: '{rows}', prompt: '{{text}}', {kw}}}",
               f"out={out}", "eval_every=0"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and message.format(rows=rows) in err[0], err
    assert not out.exists()


def test_no_answer_column_is_needed_and_tests_are_checked_on_load(tmp_path):
    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps({"q": "Add.", "t": ROWS["add"]["tests"]}) + "\n")
    task = get_task("dataset", path=str(rows), prompt="{q}", grader="code", tests="t", entry_point="add")
    assert sum(len(task._load(s)) for s in ("train", "validation", "test")) == 1
    with open(tmp_path / "rows.csv", "w", newline="") as f:                      # a CSV's cells are text
        csv.writer(f).writerows([["q", "t"], ["Add.", json.dumps(ROWS["add"]["tests"])], ["Add.", "assert add(2, 2) == 4"]])
    task = get_task("dataset", path=str(tmp_path / "rows.csv"), prompt="{q}", grader="code", tests="t", entry_point="add")
    got = [task.verify(p, tag(ADD)).info["tests"] for s in ("train", "validation", "test") for p in task._load(s)]
    assert sorted(got) == [1, 4]                                  # the same prompt, other tests: two problems
    rows.write_text(json.dumps({"q": "Add.", "t": [[1, 2, 3]]}) + "\n")
    with pytest.raises(ConfigError, match="line 1: a test is"):
        get_task("dataset", path=str(rows), prompt="{q}", grader="code", tests="t", entry_point="add")
