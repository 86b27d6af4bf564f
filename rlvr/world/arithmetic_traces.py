"""Worked solutions of the arithmetic task (``rlvr/tasks/arithmetic.py``) for the world's pretraining
corpus: ``arithmetic_trace`` writes one in each of the task's three styles, every one ending in the
right answer:

direct    ``<answer>38768</answer>``
stepwise  ``work`` then one line per column, right to left. The first line reads its column straight
          from the prompt; each later line restates what is left of the operands (those of the line
          above, or of the prompt for the second line, minus the digits just used), then the column:
          its digits, the carry in, the sum, the carry out and the running partial answer ``r...``, so
          that the final answer is a copy of the last ``r`` rather than a re-assembly of digits
          (leading zeros of a difference are copied too: ``00722`` is the right number)::

              19745+19023=
              work 5+3+0=8 c0 r8
              1974+1902 4+2+0=6 c0 r68
              197+190 7+0+0=7 c0 r768
              19+19 9+9+0=18 c1 r8768
              1+1 1+1+1=3 r38768
              <answer>38768</answer>

check     ``work+check``, the same work, then ``check`` and a second, independent computation of the
          same problem (addition re-adds each column with its digits in the other order), a comparison
          line ``X vs Y ok`` / ``no`` (the check's result against the first attempt's), and after ``no``
          the word ``wait`` and a fresh attempt whose result is the answer. With ``carry_first`` each
          line of the check ends with the first attempt's result (``... r70 =121870``), so that the
          comparison reads both of its numbers from the line just above it. The other ``CHECK_LAYOUTS``
          check each column line right below it (``_inline_check``, ``_inverse_check``).

In check traces the first attempt (or the check) sometimes holds a slip of the kind a small model makes
when it samples at temperature 1: a column sum off by one, a carry or borrow dropped or added, a digit
copied from the neighbouring column. Later lines follow consistently from the slip, so the check sees a
real disagreement. The slipped characters are marked untrained (``Segment.train = False``): the model
learns to notice and repair slips in context without learning to make them.
"""
from __future__ import annotations

import random

from ..tasks.arithmetic import STYLE_PREFIX
from ..tasks.base import Problem
from .segments import Segment

CHECK_LAYOUTS = ("section", "inline", "inline_restated", "inline_inverse")
"""Layouts of a check trace (``arithmetic_trace``'s ``check_layout``)."""


def arithmetic_trace(problem: Problem, style: str, rng: random.Random, *,
                     p_slip: float = 0.4, p_check_slip: float = 0.15, carry_first: bool = False,
                     check_layout: str = "section", p_line_slip: float = 0.1, verdict_weight: int = 1,
                     rewrite_wait: bool = True, borrow_first: bool = False) -> list[Segment]:
    """A worked solution of the arithmetic ``problem`` in ``style``; every trace ends in the right answer.

    ``borrow_first``: a subtraction line (but the last) decides its borrow out from the column's digits
    before it writes the borrow prefix (``8-9-0 b1 18-9-0=9 r92`` instead of ``18-9-0=9 b1 r92``,
    where the prefix ``1`` comes before the digits it depends on).

    ``carry_first``: every line of a check carries the first attempt's result at its end
    (``... r70 =121870``), so the comparison line copies both of its numbers from the line above
    rather than one of them from the end of the first attempt, several lines up."""
    a, b, op = problem.meta["a"], problem.meta["b"], problem.meta["op"]
    answer = f"<answer>{problem.answer}</answer>"
    if style == "direct":
        return [Segment(answer)]
    if style == "stepwise":
        segs, r = _work(a, op, b, None, borrow_first)
        return [Segment(STYLE_PREFIX["stepwise"]), *segs, Segment(f"<answer>{r}</answer>")]
    if style != "check":
        raise ValueError(f"unknown style {style!r}")
    if check_layout == "inline_inverse" and op in "+-":
        segs, r = _inverse_check(a, op, b, rng, p_line_slip, verdict_weight, rewrite_wait, borrow_first)
        return [Segment(STYLE_PREFIX["check"]), *segs, Segment(f"<answer>{r}</answer>")]
    if check_layout in ("inline", "inline_restated") and op in "+-":
        segs, r = _inline_check(a, op, b, rng, p_line_slip, restate=check_layout == "inline_restated")
        return [Segment(STYLE_PREFIX["check"]), *segs, Segment(f"<answer>{r}</answer>")]
    slip = _random_slip(a, op, b, rng) if rng.random() < p_slip else None
    first, first_r = _work(a, op, b, slip, borrow_first)
    check_slip = None
    if slip is None and rng.random() < p_check_slip:
        check_slip = _random_slip(a, op, b, rng)
    check_lines, got, want = _check(a, op, b, first_r, check_slip, borrow_first)
    if carry_first:
        check_lines = [Segment(f"{s.text[:-1]} ={first_r}\n", s.train) if s.text.endswith("\n") else s
                       for s in check_lines]
    out = [Segment(STYLE_PREFIX["check"]), *first, *check_lines]
    if got == want:
        out.append(Segment(f"{got} vs {want} ok\n"))
        final = first_r
    else:
        redo, final = _work(a, op, b, None, borrow_first)
        out += [Segment(f"{got} vs {want} no\n"), Segment("wait "), *redo]
    out.append(Segment(f"<answer>{final}</answer>"))
    return out


# -------------------------------------------------------------------- column work
# A slip is (column index from the right, kind, value) applied while writing the work.

def _digits(n: int, width: int) -> list[int]:
    s = str(n).rjust(width, "0")
    return [int(ch) for ch in reversed(s)]


def _line_end(digits: str, r: str, carry: int | None, slipped: bool, mark: str = "c") -> tuple[list[Segment], str]:
    """The end of a column line: the carry (``c``) or borrow (``b``) out, untrained when it is a slip, and
    the running answer with ``digits`` put in front; the last column (``carry`` None) has no carry out."""
    r = digits + r
    if carry is None:
        return [Segment(f" r{r}\n")], r
    if slipped:
        return [Segment(f" {mark}"), Segment(str(carry), False), Segment(f" r{r}\n")], r
    return [Segment(f" {mark}{carry} r{r}\n")], r


def _columns_add(x: int, y: int, slip, swap: bool = False, restate_first: bool = True) -> tuple[list[Segment], str]:
    width = max(len(str(x)), len(str(y)))
    xs, ys = _digits(x, width), _digits(y, width)
    xt, yt = str(x).rjust(width, "0"), str(y).rjust(width, "0")
    carry, r, segs = 0, "", []
    for i in range(width):
        dx, dy = xs[i], ys[i]
        if i or restate_first:
            segs.append(Segment(f"{xt[:width - i]}+{yt[:width - i]} "))
        bad_copy = slip is not None and slip[0] == i and slip[1] == "copy"
        if bad_copy:
            dy = slip[2]
        s = dx + dy + carry
        bad_sum = slip is not None and slip[0] == i and slip[1] == "sum"
        if bad_sum:
            s = s + (slip[2] if s + slip[2] >= 0 else -slip[2])
        last = i == width - 1
        if bad_copy and swap:
            segs += [Segment(str(dy), False), Segment(f"+{dx}+{carry}=")]
        elif bad_copy:
            segs += [Segment(f"{dx}+"), Segment(str(dy), False), Segment(f"+{carry}=")]
        else:
            segs.append(Segment(f"{dy}+{dx}+{carry}=" if swap else f"{dx}+{dy}+{carry}="))
        segs.append(Segment(str(s), not bad_sum))
        bad_carry = not last and slip is not None and slip[0] == i and slip[1] == "carry"
        carry = None if last else (1 - s // 10 if bad_carry else s // 10)
        end, r = _line_end(str(s) if last else str(s % 10), r, carry, bad_carry)
        segs += end
    return segs, r


def _columns_sub(x: int, y: int, slip, restate_first: bool = True,
                 borrow_first: bool = False) -> tuple[list[Segment], str]:
    width = len(str(x))
    xs, ys = _digits(x, width), _digits(y, width)
    xt, yt = str(x), str(y).rjust(width, "0")
    borrow, r, segs = 0, "", []
    for i in range(width):
        dx, dy = xs[i], ys[i]
        if i or restate_first:
            segs.append(Segment(f"{xt[:width - i]}-{yt[:width - i]} "))
        bad_copy = slip is not None and slip[0] == i and slip[1] == "copy"
        if bad_copy:
            dy = slip[2]
        d = dx - dy - borrow
        bout = 1 if d < 0 else 0
        d += 10 * bout
        last = i == width - 1
        bad_sum = slip is not None and slip[0] == i and slip[1] == "sum"
        if bad_sum:
            d = (d + slip[2]) % 10
        bad_borrow = not last and slip is not None and slip[0] == i and slip[1] == "carry"
        written_b = 1 - bout if bad_borrow else bout      # a slipped borrow is carried on, as written
        pre = "1" if bout else ""
        if borrow_first and not last:                    # the digits, the borrow they imply, then the line
            segs += [Segment(f"{dx}-"), Segment(str(dy), not bad_copy), Segment(f"-{borrow} b"),
                     Segment(str(written_b), not bad_borrow), Segment(" ")]
        if bad_copy:
            segs += [Segment(f"{pre}{dx}-"), Segment(str(dy), False), Segment(f"-{borrow}=")]
        else:
            segs.append(Segment(f"{pre}{dx}-{dy}-{borrow}="))
        segs.append(Segment(str(d), not bad_sum))
        borrow = written_b
        end, r = _line_end(str(d), r, None if (last or borrow_first) else borrow, bad_borrow, "b")
        segs += end
    return segs, r


def _columns_mul1(x: int, m: int, slip, restate_first: bool = True) -> tuple[list[Segment], str]:
    xs = _digits(x, len(str(x)))
    xt = str(x)
    carry, r, segs = 0, "", []
    for i, dx in enumerate(xs):
        if i or restate_first:
            segs.append(Segment(f"{xt[:len(xt) - i]}*{m} "))
        p = dx * m + carry
        bad_sum = slip is not None and slip[0] == i and slip[1] == "sum"
        if bad_sum:
            p = p + (slip[2] if p + slip[2] >= 0 else -slip[2])
        last = i == len(xs) - 1
        segs += [Segment(f"{dx}*{m}+{carry}="), Segment(str(p), not bad_sum)]
        bad_carry = not last and slip is not None and slip[0] == i and slip[1] == "carry"
        c = p // 10
        carry = None if last else (c + (1 if c == 0 or slip[2] > 0 else -1) if bad_carry else c)
        end, r = _line_end(str(p) if last else str(p % 10), r, carry, bad_carry)
        segs += end
    return segs, r


def _work(a: int, op: str, b: int, slip, borrow_first: bool = False) -> tuple[list[Segment], str]:
    """Column work for ``a op b``; returns the segments and the final running result (unstripped)."""
    if op == "+":
        return _columns_add(a, b, slip, restate_first=False)
    if op == "-":
        return _columns_sub(a, b, slip, restate_first=False, borrow_first=borrow_first)
    if b < 10:
        return _columns_mul1(a, b, slip, restate_first=False)
    # two-digit multiplier: two partial products, then their sum (slips land in the first partial)
    units, tens = b % 10, b // 10
    s1, r1 = _columns_mul1(a, units, slip, restate_first=False)
    s2, r2 = _columns_mul1(a, tens, None)
    p1, p2 = int(r1), int(r2) * 10
    width = len(str(max(p1, p2)))
    x, y = str(p1).rjust(width, "0"), str(p2).rjust(width, "0")
    s3, r3 = _columns_add(int(x), int(y), None)
    return [*s1, *s2, *s3], r3


def _check(a: int, op: str, b: int, first_r: str, slip, borrow_first: bool = False) -> tuple[list[Segment], str, str]:
    """Check lines and the two values compared: (lines, value the check got, value it must match).

    The check is a second, independent computation of the same problem; addition re-adds every column
    with its digits in the other order."""
    if op == "+":
        segs, got = _columns_add(a, b, slip, swap=True, restate_first=False)
    else:
        segs, got = _work(a, op, b, slip, borrow_first)
    return [Segment("check "), *segs], got, first_r


def _inline_check(a: int, op: str, b: int, rng: random.Random, p_line_slip: float,
                  restate: bool = False) -> tuple[list[Segment], str]:
    """Column work with each line checked right below it, by the same column taken in another order
    (``dy+dx+c`` for a sum, ``dx-c-dy`` for a difference), so that the verdict compares two results
    written a line apart. Each work line slips with probability ``p_line_slip`` (its slipped characters
    untrained); the check under a slipped line says ``no`` and writes the right carry and running
    answer, from which the work goes on::

        4632+7554 2+4+1=8 c0 r80
        check 4+2+1=7 c0 no r70
        463+755 3+5+0=8 c0 r870
        check 5+3+0=8 c0 ok

    ``restate``: each check line first restates the operands its column reads (``check 4632+7554
    4+2+1=7 c0 ok``, the first one those of the prompt), so that it reads its digits from its own line as
    a work line does, and every work line restates the operands of the line just above it, as in stepwise
    traces, rather than of the line two above.
    """
    width = max(len(str(a)), len(str(b)))
    xs, ys = _digits(a, width), _digits(b, width)
    xt, yt = (str(a) if op == "-" else str(a).rjust(width, "0")), str(b).rjust(width, "0")
    mark = "c" if op == "+" else "b"
    carry, r, segs = 0, "", []
    for i in range(width):
        dx, dy = xs[i], ys[i]
        last = i == width - 1
        if i:
            segs.append(Segment(f"{xt[:width - i]}{op}{yt[:width - i]} "))
        v, cout, digit = _column(op, dx, dy, carry, last)
        pre = "1" if cout else ""
        head, check_head = ((f"{dx}+{dy}+{carry}=", f"check {dy}+{dx}+{carry}=") if op == "+" else
                            (f"{pre}{dx}-{dy}-{carry}=", f"check {pre}{dx}-{carry}-{dy}="))
        kind, w_v, w_cout = _inline_slip(op, v, cout, last, rng, p_line_slip)
        w_digit = str(w_v) if (last and op == "+") else str(w_v % 10)
        segs += [Segment(head), Segment(str(w_v), kind != "sum")]
        if not last:
            segs += [Segment(f" {mark}"), Segment(str(w_cout), kind != "carry")]
        segs.append(Segment(f" r{w_digit + r}\n"))
        r = digit + r
        if restate:
            check_head = f"check {xt[:width - i]}{op}{yt[:width - i]} " + check_head[len("check "):]
        segs.append(Segment(check_head + str(v) + ("" if last else f" {mark}{cout}")))
        segs.append(Segment(" ok\n" if kind is None else f" no r{r}\n"))
        carry = cout
    return segs, r


def _column(op: str, dx: int, dy: int, carry: int, last: bool) -> tuple[int, int, str]:
    """The right column of ``+`` or ``-``: its value (a difference with its borrow prefix added), the
    carry or borrow out, and the digits it puts in front of the running answer."""
    if op == "+":
        v = dx + dy + carry
        return v, v // 10, (str(v) if last else str(v % 10))
    d = dx - dy - carry
    cout = 1 if d < 0 else 0
    return d + 10 * cout, cout, str(d + 10 * cout)


def _inline_slip(op: str, v: int, cout: int, last: bool, rng: random.Random,
                 p_line_slip: float) -> tuple[str | None, int, int]:
    """The slip of an inline-checked work line (None, ``sum`` or ``carry``; with probability
    ``p_line_slip``), and the value and carry out it writes."""
    kind = None
    if rng.random() < p_line_slip:
        kind = rng.choice(["sum", "sum", "carry"] if not last else ["sum"])
    w_v, w_cout = v, cout
    if kind == "sum":
        w_v = v + rng.choice([-1, 1]) if v > 0 else v + 1
        if op == "-":
            w_v %= 10
    elif kind == "carry":
        w_cout = 1 - cout
    return kind, w_v, w_cout


def _inverse_check(a: int, op: str, b: int, rng: random.Random, p_line_slip: float,
                   verdict_weight: int = 1, rewrite_wait: bool = True,
                   borrow_first: bool = False) -> tuple[list[Segment], str]:
    """Column work with each line checked right below it by the inverse operation: a column sum is
    taken back (``s-dy-c`` must give the first operand's digit ``dx``), a column difference added back
    (``v+dy+c`` must give ``dx``, with its borrow prefix). The check computes with the other operation's
    column skill, so the model's slip in one is unlikely to repeat in the other. The check's result is
    then set beside the digits it must give back, copied from the head of the work line above (``vs``),
    so that the verdict compares two neighbouring numbers. A work line slips (its sum off by one,
    untrained) with probability ``p_line_slip``; the check under it says ``no``, and after ``wait`` the
    line is written again, right, and checked again::

        9063+3687 3+7+0=11 c1 r15
        check 9063+3687 11-7-0=4 vs 3 no
        wait 9063+3687 3+7+0=10 c1 r05
        check 9063+3687 10-7-0=3 vs 3 ok

    Each check line restates the operands of the work line above it, so that the next work line (and a
    rewritten one) copies its operands from the line just above it, as in stepwise traces. The verdict
    (``ok`` / ``no``) counts ``verdict_weight`` times in the pretraining loss; ``rewrite_wait`` False
    writes the line again without ``wait``.
    """
    width = max(len(str(a)), len(str(b)))
    xs, ys = _digits(a, width), _digits(b, width)
    xt, yt = (str(a), str(b).rjust(width, "0")) if op == "-" else (str(a).rjust(width, "0"), str(b).rjust(width, "0"))
    mark, back_op = ("c", "-") if op == "+" else ("b", "+")
    again = "wait " if rewrite_wait else ""
    carry, r, segs = 0, "", []
    for i in range(width):
        dx, dy = xs[i], ys[i]
        last = i == width - 1
        operands = f"{xt[:width - i]}{op}{yt[:width - i]} "
        v, cout, digit = _column(op, dx, dy, carry, last)
        x = dx if op == "+" else dx + 10 * cout
        head = f"{x}{op}{dy}{op}{carry}="
        early = op == "-" and borrow_first and not last   # the borrow decided from the digits, then the line
        if early:
            head = f"{dx}-{dy}-{carry} b{cout} {head}"
        w_v = _inverse_slip(op, v, dy + carry, rng, p_line_slip)
        for written in ([w_v, v] if w_v != v else [v]):
            w_digit = str(written) if (last and op == "+") else str(written % 10)
            line = [] if not segs else [Segment(operands if written == w_v else again + operands)]
            # the very first line reads the prompt; a line written again after a failed check may start with wait
            line += [Segment(head), Segment(str(written), written == v)]
            if not last and not early:
                line.append(Segment(f" {mark}{written // 10 if op == '+' else cout}"))
            line.append(Segment(f" r{w_digit + r}\n"))
            back = written - dy - carry if op == "+" else written + dy + carry
            line += [Segment(f"check {operands}{written}{back_op}{dy}{back_op}{carry}="), Segment(str(back)),
                     Segment(f" vs {x} "), Segment("ok" if back == x else "no", weight=verdict_weight),
                     Segment("\n")]
            segs += line
        r = digit + r
        carry = cout
    return segs, r


def _inverse_slip(op: str, v: int, low: int, rng: random.Random, p_line_slip: float) -> int:
    """The value an inverse-checked work line writes: ``v``, or with probability ``p_line_slip`` ``v`` off
    by one, in the direction that keeps the inverse's result non-negative (a sum at least ``low``, a
    difference a digit)."""
    if rng.random() >= p_line_slip:
        return v
    step = rng.choice([-1, 1])
    if v + step < (low if op == "+" else 0) or v + step > (19 if op == "+" else 9):
        step = -step
    return v + step


def _random_slip(a: int, op: str, b: int, rng: random.Random):
    """A slip of the kind the model makes: biased towards columns with a carry and to the left."""
    if op == "*" and b >= 10:
        b = b % 10
    width = len(str(a))
    if op == "*":
        kinds = ["sum", "sum", "carry"]
    else:
        kinds = ["sum", "carry", "copy"]
    weights = [1 + i for i in range(width)]
    col = rng.choices(range(width), weights=weights)[0]
    kind = rng.choice(kinds)
    if kind == "carry" and col == width - 1:
        kind = "sum"
    if kind == "copy":
        ys = _digits(b, width)
        neighbours = [ys[j] for j in (col - 1, col + 1) if 0 <= j < width and ys[j] != ys[col]]
        if not neighbours:
            kind = "sum"
        else:
            return (col, "copy", rng.choice(neighbours))
    return (col, kind, rng.choice([-1, 1]))
