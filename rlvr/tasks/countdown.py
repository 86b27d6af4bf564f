"""Countdown (the TinyZero task): reach a target with 3 or 4 given numbers (difficulty = how many), each
used at most once, with ``+ - * /`` and parentheses.

The prompt is ``make 60 from 25 5 3`` and a newline. The answer tag holds an arithmetic expression, read
by a small parser of this module (never ``eval``) and computed exactly with fractions: it is right when it
uses only given numbers, none more often than given, and its value is the target. Intermediate values may
be fractions (``3/4*8`` makes 6); unary minus is not part of the language.

A completion may be written in one of three styles, told apart by their first word (``STYLE_PREFIX``,
``style_of``): ``direct`` (the bare answer tag), ``stepwise`` (``work`` and a search, one try a line)
and ``check`` (``work+check``: the search, then the hit's expression evaluated as a whole). The
embedded world writes worked solutions in these styles for its pretraining corpus; the task itself only
poses and verifies problems.
"""
from __future__ import annotations

import itertools
import random
import re
from collections import Counter
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

from .base import Problem, Verdict, check_split, draw_distinct, extract_answer

STYLES = ("direct", "stepwise", "check")
STYLE_PREFIX = {"direct": "<answer>", "stepwise": "work\n", "check": "work+check\n"}
NUMBER_COUNTS = (3, 4)
NUMBER_RANGE = (1, 30)
TARGET_RANGE = (1, 200)
MAX_EXPR_CHARS = 200
MAX_DEPTH = 20
MAX_NUMBER_DIGITS = 6
MAX_MAGNITUDE = 10 ** 12


def style_of(completion: str) -> str:
    """Which style a completion is written in: direct, stepwise, check, or other."""
    if completion.startswith(STYLE_PREFIX["check"]):
        return "check"
    if completion.startswith(STYLE_PREFIX["stepwise"]):
        return "stepwise"
    if completion.startswith(STYLE_PREFIX["direct"]):
        return "direct"
    return "other"


# -------------------------------------------------------------------- the expression language
class _Bad(Exception):
    """An expression that is wrong; ``syntax`` tells a malformed one from a well-formed wrong one."""

    def __init__(self, reason: str, syntax: bool = True):
        super().__init__(reason)
        self.reason = reason
        self.syntax = syntax


def _tokenize(text: str) -> list:
    """Numbers (as int) and the characters ``+-*/()``; ASCII whitespace is skipped."""
    tokens: list = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in " \t\r\n":
            i += 1
        elif "0" <= ch <= "9":
            j = i
            while j < n and "0" <= text[j] <= "9":
                j += 1
                if j - i > MAX_NUMBER_DIGITS:
                    raise _Bad("number too long")
            if text[i] == "0" and j - i > 1:
                raise _Bad("number with a leading zero")
            tokens.append(int(text[i:j]))
            i = j
        elif ch in "+-*/()":
            tokens.append(ch)
            i += 1
        else:
            raise _Bad(f"bad character {ch!r}")
    return tokens


class _Parser:
    """Recursive descent to postfix; the nesting depth is checked, so recursion stays shallow.

    expr := term (('+'|'-') term)* ; term := factor (('*'|'/') factor)* ; factor := NUMBER | '(' expr ')'
    """

    def __init__(self, tokens: list):
        self.tokens = tokens
        self.i = 0
        self.out: list = []

    def _peek(self):
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def parse(self) -> list:
        if not self.tokens:
            raise _Bad("empty expression")
        self._expr(0)
        if self.i != len(self.tokens):
            raise _Bad("unbalanced parentheses" if self._peek() == ")" else "malformed expression")
        return self.out

    def _expr(self, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise _Bad("nesting too deep")
        self._term(depth)
        while (tok := self._peek()) == "+" or tok == "-":
            self.i += 1
            self._term(depth)
            self.out.append(tok)

    def _term(self, depth: int) -> None:
        self._factor(depth)
        while (tok := self._peek()) == "*" or tok == "/":
            self.i += 1
            self._factor(depth)
            self.out.append(tok)

    def _factor(self, depth: int) -> None:
        tok = self._peek()
        if isinstance(tok, int):
            self.out.append(tok)
            self.i += 1
        elif tok == "(":
            self.i += 1
            self._expr(depth + 1)
            if self._peek() != ")":
                raise _Bad("unbalanced parentheses")
            self.i += 1
        elif tok == "-":
            raise _Bad("unary minus is not allowed")
        else:
            raise _Bad("malformed expression")


def _compile(text: str) -> list:
    """The expression as postfix (numbers and operator characters); raises ``_Bad`` on bad syntax."""
    if len(text) > MAX_EXPR_CHARS:
        raise _Bad("expression too long")
    return _Parser(_tokenize(text)).parse()


def _evaluate(postfix: list) -> Fraction:
    """Exact value of a postfix expression; raises ``_Bad`` on division by zero or huge values."""
    stack: list[Fraction] = []
    for tok in postfix:
        if isinstance(tok, int):
            stack.append(Fraction(tok))
            continue
        b = stack.pop()
        a = stack.pop()
        if tok == "+":
            v = a + b
        elif tok == "-":
            v = a - b
        elif tok == "*":
            v = a * b
        else:
            if b == 0:
                raise _Bad("division by zero", syntax=False)
            v = a / b
        if abs(v.numerator) > MAX_MAGNITUDE or v.denominator > MAX_MAGNITUDE:
            raise _Bad("value too large", syntax=False)
        stack.append(v)
    if len(stack) != 1:
        raise _Bad("malformed expression")
    return stack[0]


def _numbers_problem(used: list[int], given: list[int]) -> str | None:
    """Why the numbers used are not allowed (None when they are a sub-multiset of the given ones)."""
    have = Counter(given)
    for number, count in Counter(used).items():
        if number not in have:
            return f"number not given: {number}"
        if count > have[number]:
            return f"number used too often: {number}"
    return None


def reaches_target(problem: Problem, completion: str) -> bool:
    """Whether any answer tag of ``completion`` holds an expression of the given numbers, each used any
    number of times, whose value is the target: the check of a hurried Countdown verifier that forgets
    the count of each number and reads every tag (docs/pathologies.md). Never raises."""
    if not isinstance(completion, str):
        return False
    for inner in _ANY_TAG.findall(completion[:100_000])[:MAX_TAGS]:
        try:
            postfix = _compile(inner.strip())
            used = {t for t in postfix if isinstance(t, int)}
            if used <= set(problem.meta["numbers"]) and _evaluate(postfix) == problem.meta["target"]:
                return True
        except Exception:
            continue
    return False


_ANY_TAG = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
MAX_TAGS = 32


# -------------------------------------------------------------------- expressions built step by step
# An item is (value, expression text, precedence): 3 for a bare number, 2 for * and /, 1 for + and -.
_PREC = {"+": 1, "-": 1, "*": 2, "/": 2}


def _combine(x: tuple, op: str, y: tuple) -> tuple:
    """The item ``x op y``, parenthesised only where needed (the value is the same either way)."""
    p = _PREC[op]
    left = x[1] if x[2] >= p else f"({x[1]})"
    right = y[1] if y[2] > p or (y[2] == p and op in "+*") else f"({y[1]})"
    value = {"+": x[0] + y[0], "-": x[0] - y[0], "*": x[0] * y[0], "/": x[0] // y[0]}[op]
    return (value, f"{left}{op}{right}", p)


def _moves(a: int, b: int) -> list[str]:
    """The operators giving a positive whole result for ``a op b`` (a >= b)."""
    ops = ["+"]
    if a > b:
        ops.append("-")
    ops.append("*")
    if a % b == 0:
        ops.append("/")
    return ops


@dataclass(frozen=True)
class _Try:
    """One try of the search: steps (a, op, b, result, source of a, source of b), its expression and
    value. A source is the index of the step that produced the operand, or -1 for a given number."""

    steps: tuple
    expr: str
    value: int


def _walk(pool: list, steps: tuple, found: dict) -> None:
    # pool items carry the index of the step that made them as a fourth field (-1: a given number)
    if len(pool) == 1:
        value, expr, _, _ = pool[0]
        found.setdefault(expr, _Try(steps, expr, value))
        return
    for i, j in itertools.combinations(range(len(pool)), 2):
        x, y = pool[i], pool[j]
        if x[0] < y[0]:
            x, y = y, x
        rest = [pool[k] for k in range(len(pool)) if k != i and k != j]
        for op in _moves(x[0], y[0]):
            value, expr, prec = _combine(x[:3], op, y[:3])
            step = (x[0], op, y[0], value, x[3], y[3])
            _walk(rest + [(value, expr, prec, len(steps))], steps + (step,), found)


@lru_cache(maxsize=4096)
def _search_space(numbers: tuple, n_steps: int) -> tuple:
    """Every try that combines n_steps + 1 of the numbers in n_steps positive whole steps (one per
    expression), in a fixed order."""
    found: dict = {}
    for subset in itertools.combinations(range(len(numbers)), n_steps + 1):
        _walk([(numbers[i], str(numbers[i]), 3, -1) for i in subset], (), found)
    return tuple(found.values())


class Countdown:
    """The Countdown task, with 3 to 4 numbers by default (``min_numbers``/``max_numbers``), each drawn
    from 1 to ``max_number``, and targets from 1 to ``max_target``."""

    name = "countdown"
    capabilities = frozenset({"styles", "normalize", "lenient"})
    styles = STYLES
    style_prefix = STYLE_PREFIX

    def __init__(self, min_numbers: int = 3, max_numbers: int = 4, max_number: int = NUMBER_RANGE[1],
                 max_target: int = TARGET_RANGE[1]):
        lo, hi = NUMBER_COUNTS
        if not (isinstance(min_numbers, int) and isinstance(max_numbers, int)
                and lo <= min_numbers <= max_numbers <= hi):
            raise ValueError(f"countdown number counts must satisfy {lo} <= min_numbers <= max_numbers "
                             f"<= {hi}, got {min_numbers!r}..{max_numbers!r}")
        if not (isinstance(max_number, int) and 4 <= max_number <= 999):
            raise ValueError(f"countdown max_number must be a whole number from 4 to 999, got {max_number!r}")
        if not (isinstance(max_target, int) and 10 <= max_target <= 99_999):
            raise ValueError(f"countdown max_target must be a whole number from 10 to 99999, got {max_target!r}")
        self.min_numbers = min_numbers
        self.max_numbers = max_numbers
        self.max_number = max_number
        self.max_target = max_target

    # ---------------------------------------------------------------- problems
    def difficulties(self) -> list[int]:
        return list(range(self.min_numbers, self.max_numbers + 1))

    def make(self, numbers: list[int], target: int, answer: str | None = None) -> Problem:
        """The problem ``make target from numbers`` (prompt in the given order); without ``answer``
        one is found by search (ValueError if none uses only positive whole steps)."""
        numbers = [int(x) for x in numbers]
        if answer is None:
            hit = _first_hit(numbers, target)
            if hit is None:
                raise ValueError(f"no solution found for make {target} from {numbers}")
            answer = hit.expr
        key = f"countdown:{','.join(map(str, sorted(numbers)))}->{target}"
        return Problem(id=key, prompt=f"make {target} from {' '.join(map(str, numbers))}\n",
                       answer=answer, difficulty=len(numbers),
                       meta={"numbers": list(numbers), "target": int(target)})

    def _sample(self, rng: random.Random, difficulty: int | None) -> Problem:
        k = difficulty if difficulty is not None else rng.choice(self.difficulties())
        while True:
            numbers = [rng.randint(NUMBER_RANGE[0], self.max_number) for _ in range(k)]
            used = rng.sample(range(k), k if k == 3 else rng.choice((3, 4)))
            pool = [(numbers[i], str(numbers[i]), 3) for i in used]
            while len(pool) > 1:
                i, j = rng.sample(range(len(pool)), 2)
                x, y = pool[i], pool[j]
                if x[0] < y[0]:
                    x, y = y, x
                # multiplying or dividing by 1 makes dull puzzles; the search still allows it
                ops = [op for op in _moves(x[0], y[0]) if not (op in "*/" and y[0] == 1)]
                item = _combine(x, rng.choice(ops), y)
                pool = [p for n, p in enumerate(pool) if n != i and n != j] + [item]
            target, answer = pool[0][0], pool[0][1]
            if TARGET_RANGE[0] <= target <= self.max_target and target not in numbers:
                return self.make(numbers, target, answer)

    def problems(self, split: str, n: int, seed: int, difficulty: int | None = None) -> list[Problem]:
        """n distinct problems of ``split``, drawn with ``seed``; ``difficulty`` fixes how many numbers."""
        check_split(split)
        if difficulty is not None and difficulty not in self.difficulties():
            raise ValueError(f"difficulty {difficulty} is outside this task's range "
                             f"{self.min_numbers}..{self.max_numbers}")
        return draw_distinct(self._sample, f"{self.name}:{split}:{seed}:{difficulty}", split, n, difficulty)

    # ---------------------------------------------------------------- verifier
    def verify(self, problem: Problem, completion: str) -> Verdict:
        try:
            parsed, format_ok, info = extract_answer(completion)
            if parsed is None:
                return Verdict(False, None, False, {"reason": info})
            try:
                postfix = _compile(parsed)
                bad_numbers = _numbers_problem([t for t in postfix if isinstance(t, int)],
                                               problem.meta["numbers"])
                if bad_numbers is not None:
                    return Verdict(False, parsed, format_ok, {"reason": bad_numbers})
                value = _evaluate(postfix)
            except _Bad as e:
                return Verdict(False, parsed, format_ok and not e.syntax, {"reason": e.reason})
            correct = value == problem.meta["target"]
            return Verdict(correct, parsed, format_ok, {"reason": "ok" if correct else "wrong value"})
        except Exception as e:  # a verifier never raises
            return Verdict(False, None, False, {"reason": f"error: {type(e).__name__}"})

    def lenient_correct(self, problem: Problem, completion: str) -> bool:
        """The reading of a hurried verifier: any answer tag reaching the target, numbers reused or not."""
        return reaches_target(problem, completion)

    def normalize(self, parsed: str | None) -> str | None:
        """Canonical form of an answer, for majority voting: the expression without whitespace."""
        try:
            if not isinstance(parsed, str):
                return None
            _compile(parsed)
            return re.sub(r"\s+", "", parsed)
        except Exception:
            return None

    style_of = staticmethod(style_of)


def _first_hit(numbers: list[int], target: int) -> _Try | None:
    """A try reaching the target with as few numbers as possible (None when there is none)."""
    for steps in range(0, len(numbers)):
        if steps == 0:
            if target in numbers:
                return _Try((), str(target), target)
            continue
        for t in _search_space(tuple(sorted(numbers)), steps):
            if t.value == target:
                return t
    return None
