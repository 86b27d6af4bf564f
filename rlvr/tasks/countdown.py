"""Countdown (the TinyZero task): reach a target with 3 or 4 given numbers (difficulty = how many), each
used at most once, with ``+ - * /`` and parentheses.

The prompt is ``make 60 from 25 5 3`` and a newline. The answer tag holds an arithmetic expression, read
by a small parser of this module (never ``eval``) and computed exactly with fractions: it is right when it
uses only given numbers, none more often than given, and its value is the target. Intermediate values may
be fractions (``3/4*8`` makes 6); unary minus is not part of the language. Worked solutions for the
pretraining corpus come in three styles (see ``trace``):

direct    ``<answer>(25-5)*3</answer>``
stepwise  ``work`` then a systematic search, one line per try: the numbers combined step by step, each
          step evaluated (only positive whole results), ending in ``no`` when the try misses the target
          and ``yes`` when it hits; the answer is the hitting try written as one expression::

              work
              try 25+5=30 30*3=90 no
              try 25*3=75 75-5=70 no
              try 25-5=20 20*3=60 yes
              <answer>(25-5)*3</answer>

check     ``work+check``, the same search, and after ``yes`` a line that evaluates the expression as a
          whole, ``check (25-5)*3=60 ok``, before the answer.

In check traces one try sometimes holds a slip: a step result off by 1, 2 or 10, with the later steps
of the try following consistently from it, so that the try wrongly reaches the target and says ``yes``.
Its check line then finds the true value (``check 25+5*3=40 no``), the trace says ``wait`` and the search
goes on to the real hit, its own check, and the answer. The slipped digits are marked untrained
(``Segment.train = False``): the model learns to catch slips without learning to make them.
"""
from __future__ import annotations

import itertools
import random
import re
from collections import Counter
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

from .arithmetic import Segment, trace_text  # noqa: F401  (trace_text re-exported for callers)
from .base import Problem, Verdict, check_split, extract_answer, split_of

STYLES = ("direct", "stepwise", "check")
STYLE_PREFIX = {"direct": "<answer>", "stepwise": "work\n", "check": "work+check\n"}
NUMBER_COUNTS = (3, 4)
NUMBER_RANGE = (1, 30)
TARGET_RANGE = (1, 200)
MAX_EXPR_CHARS = 200
MAX_DEPTH = 20
MAX_NUMBER_DIGITS = 6
MAX_MAGNITUDE = 10 ** 12
MAX_TRIES_BEFORE_HIT = 5  # stepwise / clean check: 1 to 6 tries
SLIP_DELTAS = (-10, -2, -1, 1, 2, 10)


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


def _try_segments(t: _Try, verdict: str, slip: tuple | None = None, pool: list | None = None) -> list[Segment]:
    """``try 25+5=30 30*3=90 no``; with a slip (step index, delta) the slipped step's result is off by
    delta (untrained characters) and the later steps follow from it. With ``pool`` (the given numbers,
    in the prompt's order) the try restates the numbers it may still use, at its start and after each
    step but the last: ``try [25 5 3] 25+5=30 [3 30] 30*3=90 no``, so that every step reads its
    operands from the bracket just before it rather than from the prompt."""
    segs: list[Segment] = []
    left = list(pool) if pool is not None else None
    text = "try" + (f" [{' '.join(map(str, left))}]" if left is not None else "")
    vals: list[int] = []
    for k, (a, op, b, result, sa, sb) in enumerate(t.steps):
        a = vals[sa] if sa >= 0 else a
        b = vals[sb] if sb >= 0 else b
        if slip is not None:
            result = _apply(a, op, b)
        if slip is not None and k == slip[0]:
            result += slip[1]
            segs += [Segment(f"{text} {a}{op}{b}="), Segment(str(result), False)]
            text = ""
        else:
            text += f" {a}{op}{b}={result}"
        vals.append(result)
        if left is not None and k < len(t.steps) - 1:
            left.remove(a)
            left.remove(b)
            left.append(result)
            text += f" [{' '.join(map(str, left))}]"
    segs.append(Segment(f"{text} {verdict}\n"))
    return segs


def _apply(a: int, op: str, b: int) -> int | None:
    """``a op b`` when it is a positive whole number (None otherwise)."""
    if op == "+":
        return a + b
    if op == "-":
        return a - b if a > b else None
    if op == "*":
        return a * b
    return a // b if b > 0 and a % b == 0 else None


def _slip_options(t: _Try, target: int) -> list[tuple[int, int]]:
    """Slips (step index, delta) after which the try, redone consistently, lands on the target."""
    out = []
    for k in range(len(t.steps)):
        for delta in SLIP_DELTAS:
            vals: list[int] = []
            ok = True
            for j, (a, op, b, result, sa, sb) in enumerate(t.steps):
                a = vals[sa] if sa >= 0 else a
                b = vals[sb] if sb >= 0 else b
                r = _apply(a, op, b)
                if r is not None and j == k:
                    r += delta
                if r is None or r <= 0:
                    ok = False
                    break
                vals.append(r)
            if ok and vals[-1] == target:
                out.append((k, delta))
    return out


class Countdown:
    """The Countdown task, with 3 to 4 numbers by default (``min_numbers``/``max_numbers``), each drawn
    from 1 to ``max_number``, and targets from 1 to ``max_target``."""

    name = "countdown"
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
        rng = random.Random(f"{self.name}:{split}:{seed}:{difficulty}")
        out, seen = [], set()
        tries = 0
        while len(out) < n:
            tries += 1
            if tries > 200 * n + 10_000:
                raise ValueError(f"could not draw {n} distinct {split} problems at difficulty {difficulty}")
            p = self._sample(rng, difficulty)
            if p.id in seen or split_of(p.id) != split:
                continue
            seen.add(p.id)
            out.append(p)
        return out

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

    # ---------------------------------------------------------------- traces
    def trace(self, problem: Problem, style: str, rng: random.Random, p_slip: float = 0.4,
              max_misses: int | None = None, pool: bool = False) -> list[Segment]:
        """A worked solution of ``problem`` in ``style``; every trace ends in a right answer. The search
        shows 0 to ``MAX_TRIES_BEFORE_HIT`` misses before its hit, drawn at random; with ``max_misses``
        it shows the misses that come before the first hit in a random order of all tries (at most
        ``max_misses`` of them), as a search that cannot know where the hit is. With ``pool`` each try
        restates the numbers it may still use (see ``_try_segments``)."""
        if style == "direct":
            return [Segment(f"<answer>{problem.answer}</answer>")]
        if style not in ("stepwise", "check"):
            raise ValueError(f"unknown style {style!r}")
        numbers, target = problem.meta["numbers"], problem.meta["target"]
        n_steps = max(1, len(re.findall(r"\d+", problem.answer)) - 1)
        tries = None
        for steps in [n_steps] + [s for s in range(len(numbers) - 1, 0, -1) if s != n_steps]:
            tries = list(_search_space(tuple(sorted(numbers)), steps))
            if any(t.value == target for t in tries):
                break
        else:
            raise ValueError(f"no whole-step solution for {problem.id}")
        rng.shuffle(tries)
        hit = next(t for t in tries if t.value == target)
        misses = [t for t in tries if t.value != target]

        def n_misses() -> int:
            if max_misses is None:
                return rng.randint(0, min(MAX_TRIES_BEFORE_HIT, len(misses)))
            return min(tries.index(hit), max_misses)          # every try before the first hit misses

        given = list(numbers) if pool else None
        answer = Segment(f"<answer>{hit.expr}</answer>")
        if style == "stepwise":
            k = n_misses()
            return [Segment(STYLE_PREFIX["stepwise"]),
                    *(s for t in misses[:k] for s in _try_segments(t, "no", pool=given)),
                    *_try_segments(hit, "yes", pool=given), answer]
        slipped, slip = None, None
        if rng.random() < p_slip:
            for t in misses:
                options = _slip_options(t, target)
                if options:
                    slipped, slip = t, rng.choice(options)
                    break
        out = [Segment(STYLE_PREFIX["check"])]
        if slipped is None:
            k = n_misses()
            out += [s for t in misses[:k] for s in _try_segments(t, "no", pool=given)]
        else:
            others = [t for t in misses if t is not slipped]
            if max_misses is None:
                k1 = rng.randint(0, min(2, len(others)))
                k2 = rng.randint(0, min(2, len(others) - k1))
            else:                                     # the slipped try falls among the misses shown
                total = min(n_misses(), len(others))
                k1 = rng.randint(0, total)
                k2 = total - k1
            out += [s for t in others[:k1] for s in _try_segments(t, "no", pool=given)]
            out += _try_segments(slipped, "yes", slip, pool=given)
            out += [Segment(f"check {slipped.expr}={slipped.value} no\n"), Segment("wait\n")]
            out += [s for t in others[k1:k1 + k2] for s in _try_segments(t, "no", pool=given)]
        out += _try_segments(hit, "yes", pool=given)
        out += [Segment(f"check {hit.expr}={target} ok\n"), answer]
        return out


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
