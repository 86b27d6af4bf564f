"""The ``dataset`` task: a user's own questions and reference answers, graded by a grader.

    task: {name: dataset, kwargs: {path: gsm8k.jsonl, prompt: "{question}", answer: answer, grader: numeric}}

- **Rows** come from ``rlvr.data``: JSONL, CSV or Parquet files, a ``save_to_disk`` folder, or a dataset
  name loaded offline (``subset``: its configuration, e.g. GSM8K's ``main``). ``prompt`` is a template
  over a row's columns (``"{question}"``) and ``answer`` the column of the reference answer, normalised
  on load (``answers.reference_answer``: GSM8K's ``#### 1,234``, the last ``\\boxed{}``, plain values);
  ``id`` and ``difficulty`` name optional columns.
  Every column of a row reaches reward functions in ``problem.meta["row"]``.
- **Splits**: a source with named splits is used as it is (``splits`` maps rlvr's train / validation /
  test to the source's names; a split the source lacks is an error when it is asked for); a single
  table is split by a hash of each row's id, seeded by ``split_seed`` (80 / 10 / 10).
- **Prompts**: ``raw`` (the template's text as it is), ``r1_zero`` (DeepSeek-R1-Zero's template:
  the assistant thinks inside ``<think>`` and answers inside ``<answer>``; DeepSeek-AI 2025, Table 1) or
  ``chat`` (the text is the user's message, after ``system``'s when given, rendered by each model's own
  chat template with the generation prompt: ``rlvr.prompts``; completions stop at its end of turn).
- **Verdicts**: the answer is read from the completion as ``answer_from`` says (the answer tag, the
  last ``\\boxed{}``, the last number, the last code fence) and judged by ``grader`` (``tasks.graders``:
  numeric, exact, choice, math, code, or a dotted path), which also gives majority votes their canonical
  answers.
- **Code** (``grader: code``, ``tasks.code_grader``): the completion's code (the answer tag's, a Markdown
  fence inside allowed, or with ``answer_from: fence`` the last fenced block) runs in the sandbox against
  the tests of the column(s) ``tests`` names (``[[args...], expected]`` pairs or assert statements) and
  ``entry_point`` names the function (a column, the name itself, or by default the one the asserts call);
  ``sandbox`` sets its limits. The ``answer`` column is optional (a reference solution, kept as it is);
  the verdict's ``info["score"]`` is the share of tests passed (the ``partial`` reward); majority votes
  count the code's syntax tree. E.g. MBPP: ``{grader: code, tests: [test_imports, test_list], answer_from: fence}``.

Bad data is caught when the task is built, before anything runs: a missing file, a missing column (the
message lists the columns found), an empty answer, a template field that is not a column, grader code
without a ``tests`` column, tests in no accepted form.
"""
from __future__ import annotations

import hashlib
import random
import string

from ..config import ConfigError, require, require_choice
from ..data import read_rows, source_splits
from .answers import ANSWER_FROM, read_answer, reference_answer
from .base import SPLITS, Problem, Verdict, check_split, split_of
from .code_grader import code_settings, grade, read_code, row_tests
from .graders import GRADERS

R1_ZERO = ("A conversation between User and Assistant. The user asks a question, and the Assistant solves it. "
           "The assistant first thinks about the reasoning process in the mind and then provides the user with "
           "the answer. The reasoning process and answer are enclosed within <think> </think> and <answer> "
           "</answer> tags, respectively, i.e., <think> reasoning process here </think> <answer> answer here "
           "</answer>. User: {prompt}. Assistant:")
PROMPT_FORMATS = {"raw": "{prompt}", "r1_zero": R1_ZERO, "chat": "{prompt}"}


def _template_fields(template: str) -> list[str]:
    try:
        return [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as e:
        raise ConfigError("kwargs.prompt", f"{template!r} is not a template ({e})",
                          "write column names in braces, e.g. prompt='{question}'") from None


def _check_columns(row: dict, need: list[tuple[str, str]], where: str) -> None:
    """Every column named in ``need`` [(config field, column)] is in ``row``."""
    for key, column in need:
        require(column in row, f"kwargs.{key}", f"{where}: no column {column!r}; the columns are "
                f"{', '.join(map(str, row))}", f"set task.kwargs.{key} to one of them")


class Dataset:
    """A user's dataset as a task (see the module docstring)."""

    name = "dataset"
    capabilities = frozenset({"normalize"})

    def __init__(self, path: str = "", prompt: str = "{question}", answer: str = "answer", id: str = "",
                 difficulty: str = "", grader: str = "numeric", answer_from: str = "tag", prompt_format: str = "raw",
                 splits: dict | None = None, split_seed: int = 0, system: str = "", tests: str | list = "",
                 entry_point: str = "", sandbox: dict | None = None, subset: str = ""):
        require(bool(path), "kwargs.path", "is empty", "name the data: a .jsonl, .csv or .parquet file, a "
                "save_to_disk folder or a dataset name, e.g. task.kwargs.path=data/gsm8k.jsonl")
        require_choice(answer_from, ANSWER_FROM, "kwargs.answer_from")
        require_choice(prompt_format, PROMPT_FORMATS, "kwargs.prompt_format")
        GRADERS.check(grader, "kwargs.grader")
        self.test_columns, self.limits = code_settings(grader, tests, entry_point, sandbox, answer_from)
        self.entry_point = entry_point
        self.path, self.template, self.answer_column = path, prompt, answer
        self.id_column, self.difficulty_column, self.split_seed = id, difficulty, split_seed
        self.grader_name, self.answer_from, self.prompt_format = grader, answer_from, prompt_format
        require(not system or prompt_format == "chat", "kwargs.system", "a system prompt needs prompt_format=chat",
                "set task.kwargs.prompt_format=chat, or drop system")
        self.system = system
        self.fields = _template_fields(prompt)
        self.subset = subset
        named = source_splits(path, "kwargs.path", subset)
        self.split_names = None if named is None else {s: (splits or {}).get(s, s) for s in SPLITS}
        self._tables: dict[str, list[Problem]] = {}
        self.skipped: dict[str, int] = {}
        """Rows skipped per split (bad rows of a split read after the first)."""
        self._load("train" if named is None else next((s for s in SPLITS if self.split_names[s] in named), "train"))

    def stated_kwargs(self) -> dict:
        """What a run's config states beside the given arguments: the seed of a single table's hash split."""
        return {"split_seed": self.split_seed} if self.split_names is None else {}

    @property
    def grader(self):
        return GRADERS.get(self.grader_name)

    def __getstate__(self) -> dict:
        """What a verifier worker needs (the rows stay in this process)."""
        return {**self.__dict__, "_tables": {}}

    # ---------------------------------------------------------------- rows to problems
    def _problem(self, row: dict, where: str) -> Problem:
        code = self.grader_name == "code"
        need = [*(() if code else [("answer", self.answer_column)]), *(("tests", c) for c in self.test_columns),
                *(("prompt", f) for f in self.fields),
                *((k, c) for k, c in (("id", self.id_column), ("difficulty", self.difficulty_column)) if c)]
        _check_columns(row, need, where)
        ref = self._reference(row, where)
        tests = row_tests(row, self.test_columns, self.entry_point, where) if code else {}
        text = self.template.format(**{f: row[f] for f in self.fields})
        prompt = PROMPT_FORMATS[self.prompt_format].format(prompt=text)
        key = f"{text}\0{ref}" + (f"\0{tests['code_tests']}" if code else "")
        pid = str(row[self.id_column]) if self.id_column else hashlib.sha256(key.encode()).hexdigest()[:16]
        difficulty = row[self.difficulty_column] if self.difficulty_column else 0
        require(isinstance(difficulty, int) or str(difficulty).strip().lstrip("-").isdigit(), "kwargs.difficulty",
                f"{where}: difficulty {difficulty!r} is not a whole number", "give whole numbers, or no difficulty column")
        meta = {"row": dict(row), **({"chat": {"system": self.system}} if self.prompt_format == "chat" else {}), **tests}
        return Problem(id=pid, prompt=prompt, answer=ref, difficulty=int(difficulty), meta=meta)

    def _reference(self, row: dict, where: str) -> str:
        """The row's reference answer, normalised; under grader code the answer column's text as it is (a
        reference solution), or nothing: the tests decide."""
        if self.grader_name == "code":
            value = row.get(self.answer_column)
            return value if isinstance(value, str) else ""
        try:
            return reference_answer(row[self.answer_column])
        except ValueError:
            raise ConfigError("kwargs.answer", f"{where}: the answer column {self.answer_column!r} is empty",
                              "give every row a reference answer, or drop the row") from None

    def _load(self, split: str) -> list[Problem]:
        """The problems of rlvr's ``split``, read once."""
        if self.split_names is None:                  # one table: a seeded hash split of every row
            if not self._tables:
                rows = [self._problem(row, where) for where, row in read_rows(self.path, None, "kwargs.path", self.subset)]
                require(bool(rows), "kwargs.path", f"{self.path} holds no rows", "give a file with at least one row")
                for s in SPLITS:
                    self._tables[s] = [p for p in rows if split_of(f"{self.split_seed}:{p.id}") == s]
            return self._tables[split]
        if split not in self._tables:                 # the first split read is checked whole, when the task is built;
            strict = not self._tables                 # a bad row of a later one is skipped and counted
            self._tables[split] = []
            for where, row in read_rows(self.path, self.split_names[split], "kwargs.path", self.subset):
                try:
                    self._tables[split].append(self._problem(row, where))
                except ConfigError:
                    if strict:
                        raise
                    self.skipped[split] = self.skipped.get(split, 0) + 1
        return self._tables[split]

    # ---------------------------------------------------------------- the task contract
    def problems(self, split: str, n: int, seed: int, difficulty: int | None = None) -> list[Problem]:
        """n problems of ``split`` in an order drawn with ``seed`` (ValueError when the split holds fewer)."""
        check_split(split)
        pool = [p for p in self._load(split) if difficulty is None or p.difficulty == difficulty]
        if n > len(pool):
            raise ValueError(f"{self.path} has {len(pool)} {split} problems"
                             f"{'' if difficulty is None else f' of difficulty {difficulty}'}; asked for {n}")
        random.Random(f"{self.name}:{split}:{seed}:{difficulty}").shuffle(pool)
        return pool[:n]

    def verify(self, problem: Problem, completion: str) -> Verdict:
        try:
            if self.grader_name == "code":
                return self._verify_code(problem, completion)
            answer, format_ok, info = read_answer(completion, self.answer_from)
            if answer is None:
                return Verdict(False, None, False, {"reason": info})
            correct = bool(self.grader.correct(answer, problem.answer))
            return Verdict(correct, answer, format_ok, {"reason": "ok" if correct else "wrong answer"})
        except Exception as e:  # noqa: BLE001  a verifier never raises
            return Verdict(False, None, False, {"reason": f"error: {type(e).__name__}"})

    def _verify_code(self, problem: Problem, completion: str) -> Verdict:
        """The completion's code against the row's tests, in the sandbox (``code_grader.grade``)."""
        code, format_ok, info = read_code(completion, self.answer_from)
        tests = problem.meta["code_tests"]
        if code is None:
            return Verdict(False, None, False, {"passed": 0, "tests": len(tests), "score": 0.0, "reason": info})
        return grade(code, format_ok, problem.meta["func"], tests, problem.meta["code_setup"], self.limits)

    def normalize(self, parsed: str | None) -> str | None:
        """The grader's canonical form of an answer, for majority votes."""
        return None if parsed is None else self.grader.normalize(parsed)
