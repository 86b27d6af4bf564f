"""Multi-digit arithmetic: addition and subtraction of d-digit numbers (d = difficulty, 2 to 7), and
multiplication of a d-digit number (d = 2 to 5) by a one-digit number, or of a two-digit number by a
two-digit one.

The prompt is the bare sum and a newline, e.g. ``19745+19023=``. The answer is read from the answer tag
only. Worked solutions for the pretraining corpus come in three styles (see ``trace``):

direct    ``<answer>38768</answer>``
stepwise  ``work`` then one line per column, right to left. The first line reads its column straight
          from the prompt; each later line restates what is left of the operands (those of the line
          above, or of the prompt for the second line, minus the digits just used), then the column: its digits, the carry in, the sum, the carry
          out and the running partial answer ``r...``, so that the final answer is a copy of the last
          ``r`` rather than a re-assembly of digits (leading zeros of a difference are copied too:
          ``00722`` is the right number)::

              19745+19023=
              work 5+3+0=8 c0 r8
              1974+1902 4+2+0=6 c0 r68
              197+190 7+0+0=7 c0 r768
              19+19 9+9+0=18 c1 r8768
              1+1 1+1+1=3 r38768
              <answer>38768</answer>

check     ``work+check``, then the same column work with each line checked in place by the inverse
          operation, computed afresh from the line's result and the digits of the restated operands
          (the prompt's on the first line) and compared with a number on the same line: a sum's column
          takes the second digit and the carry back off and must give the first digit, a difference's
          column adds them back and must give the (borrow-prefixed) first digit, a product's column is
          multiplied the other way round. ``ok`` goes on; ``no`` is followed by ``wait`` and the line
          written afresh::

              work+check 5+3+0=8 c0 r8 check 8-3-0=5 ok
              1974+1902 4+2+0=6 c0 r68 check 6-2-0=4 ok
              197+190 7+0+0=7 c0 r768 check 7-0-0=7 ok
              19+19 9+9+0=18 c1 r8768 check 18-9-0=9 ok
              1+1 1+1+1=4 r48768 check 4-1-1=2 no
              wait 1+1 1+1+1=3 r38768 check 3-1-1=1 ok
              <answer>38768</answer>

          Every number a check reads is on its own line or the one above, as in the column work:
          checks that re-derived the whole result and compared it with a number many lines up (the
          first attempt's, or the prompt's) failed on those long copies in this model.

In check traces a line sometimes holds a slip of the kind a small model makes when it samples at
temperature 1: a column result off by one or two, or a digit read from the neighbouring column; or
the check itself slips and says ``no`` on a right line (a false alarm, redone all the same). The
slipped characters are marked untrained (``Segment.train = False``): the model learns to notice and
repair slips in context without learning to make them.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass

from .base import Problem, Verdict, check_split, extract_answer, split_of

STYLES = ("direct", "stepwise", "check")
STYLE_PREFIX = {"direct": "<answer>", "stepwise": "work ", "check": "work+check "}
OPS = ("+", "-", "*")
ADD_SUB_DIGITS = (2, 7)
MUL_DIGITS = (2, 5)
MAX_ANSWER_DIGITS = 40


@dataclass
class Segment:
    """A piece of a trace; ``train`` False marks characters left out of the pretraining loss."""

    text: str
    train: bool = True


def style_of(completion: str) -> str:
    """Which style a completion is written in: direct, stepwise, check, or other."""
    if completion.startswith(STYLE_PREFIX["check"]):
        return "check"
    if completion.startswith(STYLE_PREFIX["stepwise"]):
        return "stepwise"
    if completion.startswith(STYLE_PREFIX["direct"]):
        return "direct"
    return "other"


class Arithmetic:
    """The arithmetic task. ``ops`` restricts the operations (e.g. ``"+-"`` for the demo)."""

    name = "arithmetic"
    styles = STYLES
    style_prefix = STYLE_PREFIX

    def __init__(self, ops: str = "+-", min_digits: int = 2, max_digits: int = 7):
        bad = set(ops) - set(OPS)
        if not ops or bad:
            raise ValueError(f"arithmetic ops must be a non-empty subset of '+-*', got {ops!r}")
        if not ADD_SUB_DIGITS[0] <= min_digits <= max_digits <= ADD_SUB_DIGITS[1]:
            raise ValueError(f"arithmetic digits must satisfy 2 <= min_digits <= max_digits <= 7, "
                             f"got {min_digits}..{max_digits}")
        self.ops = ops
        self.min_digits = min_digits
        self.max_digits = max_digits

    # ---------------------------------------------------------------- problems
    def difficulties(self, op: str) -> list[int]:
        lo, hi = (self.min_digits, self.max_digits)
        if op == "*":
            lo, hi = max(lo, MUL_DIGITS[0]), min(hi, MUL_DIGITS[1])
        return list(range(lo, hi + 1))

    def make(self, a: int, op: str, b: int) -> Problem:
        """The problem ``a op b`` (subtraction keeps a >= b, so answers are never negative)."""
        value = {"+": a + b, "-": a - b, "*": a * b}[op]
        digits = len(str(a))
        key = f"arith:{a}{op}{b}"
        return Problem(id=key, prompt=f"{a}{op}{b}=\n", answer=str(value), difficulty=digits,
                       meta={"a": a, "b": b, "op": op})

    def _sample(self, rng: random.Random, difficulty: int | None) -> Problem:
        op = rng.choice([o for o in self.ops if difficulty is None or difficulty in self.difficulties(o)])
        d = difficulty if difficulty is not None else rng.choice(self.difficulties(op))
        lo, hi = 10 ** (d - 1), 10 ** d - 1
        a = rng.randint(lo, hi)
        if op == "*":
            b = rng.randint(10, 99) if d == 2 and rng.random() < 0.5 else rng.randint(2, 9)
        else:
            b = rng.randint(lo, hi)
            if op == "-" and b > a:
                a, b = b, a
        return self.make(a, op, b)

    def problems(self, split: str, n: int, seed: int, difficulty: int | None = None) -> list[Problem]:
        """n distinct problems of ``split``, drawn with ``seed``; ``difficulty`` fixes the digit count."""
        check_split(split)
        if difficulty is not None and not any(difficulty in self.difficulties(o) for o in self.ops):
            raise ValueError(f"difficulty {difficulty} is outside this task's range")
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
            if not re.fullmatch(r"-?[0-9]{1,%d}" % MAX_ANSWER_DIGITS, parsed):
                return Verdict(False, parsed, False, {"reason": "not an integer"})
            correct = int(parsed) == int(problem.answer)
            return Verdict(correct, parsed, format_ok, {"reason": "ok" if correct else "wrong value"})
        except Exception as e:  # a verifier never raises
            return Verdict(False, None, False, {"reason": f"error: {type(e).__name__}"})

    def normalize(self, parsed: str | None) -> str | None:
        """Canonical form of an answer, for majority voting."""
        if parsed is None or not re.fullmatch(r"-?[0-9]{1,%d}" % MAX_ANSWER_DIGITS, parsed):
            return None
        return str(int(parsed))

    style_of = staticmethod(style_of)

    # ---------------------------------------------------------------- traces
    def trace(self, problem: Problem, style: str, rng: random.Random,
              p_slip: float = 0.4, p_check_slip: float = 0.15, p_line_slip: float = 0.0) -> list[Segment]:
        """A worked solution of ``problem`` in ``style``; every trace ends in the right answer."""
        a, b, op = problem.meta["a"], problem.meta["b"], problem.meta["op"]
        answer = f"<answer>{problem.answer}</answer>"
        if style == "direct":
            return [Segment(answer)]
        if style == "stepwise":
            segs, r = _work(a, op, b, None)
            return [Segment(STYLE_PREFIX["stepwise"]), *segs, Segment(f"<answer>{r}</answer>")]
        if style != "check":
            raise ValueError(f"unknown style {style!r}")
        if p_line_slip > 0:      # each line of the first (or only) partial slips on its own
            slip = [_random_slip(a, op, b, rng, col=i) for i in range(len(str(a))) if rng.random() < p_line_slip] or None
        else:
            slip = _random_slip(a, op, b, rng) if rng.random() < p_slip else None
        if slip is None and rng.random() < p_check_slip:
            slip = _random_slip(a, op, b, rng, kind="check")
        segs, r = _work(a, op, b, slip, check=True)
        return [Segment(STYLE_PREFIX["check"]), *segs, Segment(f"<answer>{r}</answer>")]


# -------------------------------------------------------------------- column work
# A slip is (column index from the right, kind, value): kind "sum" writes the column's result off by
# value, "copy" writes the column's second digit as the digit value (read from a neighbouring column),
# "check" writes a line's check off by value (a false alarm).

def _digits(n: int, width: int) -> list[int]:
    s = str(n).rjust(width, "0")
    return [int(ch) for ch in reversed(s)]


@dataclass
class _Line:
    """One column line as written: its segments (up to the running answer), the values its check
    recomputes, and what it passes on."""

    segs: list[Segment]
    check: str        # the check's sum, e.g. "17-9-0"
    expect: int       # the value the check must give: a number on the line itself
    carry: int        # carry or borrow out (ignored on the last column)
    r: str            # running answer after the line


def _by_column(slip) -> dict:
    """Slips by column: ``slip`` is None, one slip, or a list of slips."""
    if slip is None:
        return {}
    return {sl[0]: sl for sl in ([slip] if isinstance(slip, tuple) else slip)}


def _emit(lines: list, slip, check: bool) -> list[Segment]:
    """The column lines of one piece of work. With ``check`` every line ends in its check
    (`` check 17-9-0=8 ok``) and a slipped line, or a slipped check, is followed by `` no``, then
    ``wait`` and the line written afresh."""
    segs: list[Segment] = []
    slips = _by_column(slip)
    for i, (good, slipped) in enumerate(lines):
        if not check:
            segs += [*good.segs, Segment("\n")]
            continue
        if i in slips:
            kind, delta = slips[i][1], slips[i][2]
            bad = slipped if slipped is not None else good
            value = _value(bad.check) + (delta if kind == "check" else 0)
            segs += [*bad.segs, Segment(f" check {bad.check}=")]
            segs += [Segment(str(value), kind != "check"), Segment(" no\nwait ")]
        segs += [*good.segs, Segment(f" check {good.check}={good.expect} ok\n")]
    return segs


def _value(expr: str) -> int:
    """The value of a check's sum such as ``17-9-0`` or ``3+9+1`` or ``8*3+7`` (no eval)."""
    total, sign, term = 0, 1, 1
    for tok in re.findall(r"\d+|[-+*]", expr):
        if tok == "*":
            continue
        if tok in "+-":
            total += sign * term
            sign, term = (1 if tok == "+" else -1), 1
        else:
            term *= int(tok)
    return total + sign * term


def _head(xt: str, yt: str, op: str, i: int, restate: bool) -> list[Segment]:
    width = len(xt)
    return [Segment(f"{xt[:width - i]}{op}{yt[:width - i]} ")] if restate else []


def _end(digits: str, r: str, carry: int | None, mark: str) -> tuple[str, str]:
    """A line's carry or borrow out (none on the last column) and running answer, and the new answer."""
    return (f" r{digits + r}" if carry is None else f" {mark}{carry} r{digits + r}"), digits + r


def _columns_add(x: int, y: int, slip, restate_first: bool = True, width: int = 0, check: bool = False) -> tuple[list[Segment], str]:
    width = max(width, len(str(x)), len(str(y)))
    xs, ys = _digits(x, width), _digits(y, width)
    xt, yt = str(x).rjust(width, "0"), str(y).rjust(width, "0")
    carry, r, lines = 0, "", []
    for i in range(width):
        last = i == width - 1
        head = _head(xt, yt, "+", i, i > 0 or restate_first)

        def line(dy, delta, dy_train=True):
            s = xs[i] + dy + carry
            s = s + delta if s + delta >= 0 else s - delta
            co = s // 10
            end, nr = _end(str(s) if last else str(s % 10), r, None if last else co, "c")
            sum_segs = [Segment(f"{xs[i]}+"), Segment(str(dy), dy_train), Segment(f"+{carry}=")]
            segs = [*head, *sum_segs, Segment(str(s), delta == 0), Segment(end)]
            return _Line(segs, f"{s}-{ys[i]}-{carry}", xs[i], co, nr)

        good = line(ys[i], 0)
        slipped, sl = None, _by_column(slip).get(i)
        if sl is not None and sl[1] in ("sum", "copy"):
            slipped = line(sl[2], 0, False) if sl[1] == "copy" else line(ys[i], sl[2])
        lines.append((good, slipped))
        carry, r = good.carry, good.r
    return _emit(lines, slip, check), r


def _columns_sub(x: int, y: int, slip, restate_first: bool = True, check: bool = False) -> tuple[list[Segment], str]:
    width = len(str(x))
    xs, ys = _digits(x, width), _digits(y, width)
    xt, yt = str(x), str(y).rjust(width, "0")
    borrow, r, lines = 0, "", []
    for i in range(width):
        last = i == width - 1
        head = _head(xt, yt, "-", i, i > 0 or restate_first)

        def line(dy, delta, dy_train=True):
            d = xs[i] - dy - borrow
            bout = 1 if d < 0 else 0
            d = (d + 10 * bout + delta) % 10
            pre = "1" if bout else ""
            end, nr = _end(str(d), r, None if last else bout, "b")
            segs = [*head, Segment(f"{pre}{xs[i]}-"), Segment(str(dy), dy_train), Segment(f"-{borrow}="),
                    Segment(str(d), delta == 0), Segment(end)]
            return _Line(segs, f"{d}+{ys[i]}+{borrow}", int(f"{pre}{xs[i]}"), bout, nr)

        good = line(ys[i], 0)
        slipped, sl = None, _by_column(slip).get(i)
        if sl is not None and sl[1] in ("sum", "copy"):
            slipped = line(sl[2], 0, False) if sl[1] == "copy" else line(ys[i], sl[2])
        lines.append((good, slipped))
        borrow, r = good.carry, good.r
    return _emit(lines, slip, check), r


def _columns_mul1(x: int, m: int, slip, restate_first: bool = True, check: bool = False) -> tuple[list[Segment], str]:
    xs = _digits(x, len(str(x)))
    xt = str(x)
    carry, r, lines = 0, "", []
    for i, dx in enumerate(xs):
        last = i == len(xs) - 1
        head = [Segment(f"{xt[:len(xt) - i]}*{m} ")] if i or restate_first else []

        def line(delta):
            p = dx * m + carry
            p = p + delta if p + delta >= 0 else p - delta
            c = p // 10
            end, nr = _end(str(p) if last else str(p % 10), r, None if last else c, "c")
            segs = [*head, Segment(f"{dx}*{m}+{carry}="), Segment(str(p), delta == 0), Segment(end)]
            return _Line(segs, f"{m}*{dx}+{carry}", p, c, nr)

        good = line(0)
        sl = _by_column(slip).get(i)
        slipped = line(sl[2]) if sl is not None and sl[1] == "sum" else None
        lines.append((good, slipped))
        carry, r = good.carry, good.r
    return _emit(lines, slip, check), r


def _work(a: int, op: str, b: int, slip=None, check: bool = False) -> tuple[list[Segment], str]:
    """Column work for ``a op b`` (with ``check``: each line checked, and a slip caught and redone);
    returns the segments and the final running result (unstripped)."""
    if op == "+":
        return _columns_add(a, b, slip, restate_first=False, check=check)
    if op == "-":
        return _columns_sub(a, b, slip, restate_first=False, check=check)
    if b < 10:
        return _columns_mul1(a, b, slip, restate_first=False, check=check)
    # two-digit multiplier: two partial products, then their sum (slips land in the first partial)
    units, tens = b % 10, b // 10
    s1, r1 = _columns_mul1(a, units, slip, restate_first=False, check=check)
    s2, r2 = _columns_mul1(a, tens, None, check=check)
    p1, p2 = int(r1), int(r2) * 10
    width = len(str(max(p1, p2)))
    x, y = str(p1).rjust(width, "0"), str(p2).rjust(width, "0")
    s3, r3 = _columns_add(int(x), int(y), None, check=check)
    return [*s1, *s2, *s3], r3


def _random_slip(a: int, op: str, b: int, rng: random.Random, kind: str | None = None, col: int | None = None):
    """A slip of the kind the model makes (a column result off by one, a digit read from the
    neighbouring column), biased to the left unless ``col`` is given; ``kind="check"`` slips a line's
    check instead."""
    if op == "*" and b >= 10:
        b = b % 10
    width = len(str(a))
    if col is None:
        col = rng.choices(range(width), weights=[1 + i for i in range(width)])[0]
    if kind is None:
        kind = "sum" if op == "*" else rng.choice(["sum", "sum", "copy"])
    if kind == "copy":
        ys = _digits(b, width)
        neighbours = [ys[j] for j in (col - 1, col + 1) if 0 <= j < width and ys[j] != ys[col]]
        if neighbours:
            return (col, "copy", rng.choice(neighbours))
        kind = "sum"
    return (col, kind, rng.choice([-1, 1]))


def trace_text(segments: list[Segment]) -> str:
    return "".join(s.text for s in segments)
