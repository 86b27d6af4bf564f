"""The figures that make the world's base model fit for the R1 story (see docs/world.md, "Its figures").

On held-out test problems, temperature 1, one sample each:
  free        the demo distribution (arithmetic + and -, 4-6 digits): accuracy, share of each style;
  stepwise    the same problems with the completion forced to open in the stepwise style;
  check       forced into the check style: accuracy, and how many wrong first attempts the check
              catches (says ``no``) and turns into a right final answer;
  countdown   3 numbers, free style.
"""
from __future__ import annotations

import re
import time
from collections import Counter, defaultdict
from dataclasses import dataclass

from ..eval.scoring import sample_once
from ..rollout import SamplingConfig
from ..tasks import get_task


@dataclass
class Scored:
    problem: object
    completion: str
    correct: bool
    style: str


def sample_and_score(model, tokenizer, task, problems, prefix: str = "", temperature: float = 1.0,
                     max_new_tokens: int = 500, seed: int = 0, batch_size: int = 128) -> list[Scored]:
    """One completion per problem, optionally forced to start with ``prefix``; verified by the task."""
    sampling = SamplingConfig(temperature=temperature, max_new_tokens=max_new_tokens, seed=seed,
                              batch_size=batch_size)
    # sort by prompt length so batches pad little; restore the order after
    order = sorted(range(len(problems)), key=lambda i: len(problems[i].prompt))
    texts, correct, _ = sample_once(model, tokenizer, task, [problems[i] for i in order], sampling, prefix)
    out: list[Scored | None] = [None] * len(problems)
    for j, i in enumerate(order):
        out[i] = Scored(problems[i], texts[j], correct[j], task.style_of(texts[j]))
    return out


def first_attempt(completion: str) -> str | None:
    """The result of a check trace's first attempt (the last running result before ``check``)."""
    head = completion.split("\ncheck", 1)[0]
    found = re.findall(r" r(\d+)\n", head + "\n")
    return found[-1] if found else None


def summarize(scored: list[Scored]) -> dict:
    n = len(scored)
    by_d = defaultdict(list)
    for s in scored:
        by_d[s.problem.difficulty].append(s.correct)
    styles = Counter(s.style for s in scored)
    return {
        "n": n,
        "accuracy": sum(s.correct for s in scored) / max(1, n),
        "style_share": {k: v / n for k, v in sorted(styles.items())},
        "careful_share": (styles["stepwise"] + styles["check"]) / max(1, n),
        "accuracy_by_style": {k: sum(x.correct for x in scored if x.style == k) / v for k, v in sorted(styles.items())},
        "mean_chars": sum(len(s.completion) for s in scored) / max(1, n),
        "by_difficulty": {str(d): sum(v) / len(v) for d, v in sorted(by_d.items())},
    }


# a subtraction line may write its borrow out first, read from the column's digits (``8-9-0 b1 18-9-0=9``)
WORK_LINE = re.compile(r"(?:work\+check |(?:wait )?\d+[-+]\d+ )(?:\d-\d-\d b(\d) )?(1?)(\d)([-+])(\d)[-+](\d)=(\d+)"
                       r"(?: [cb](\d))?")
CHECK_LINE = re.compile(r"check (?:\d+[-+]\d+ )?(1?)(\d)([-+])(\d)[-+](\d)=(\d+)(?: [cb](\d))?(?: vs (\d+))? (ok|no)")


def _carry_out(op: str, pre: str, value: int) -> int:
    return value // 10 if op == "+" else int(bool(pre))


def inline_pairs(completion: str) -> list[dict]:
    """The (work line, check line) pairs of an inline check trace (``corpus.check_layout=inline``,
    ``inline_restated`` or ``inline_inverse``): for each, whether the work line's result is right for the
    digits it wrote, whether the check's result is right for the digits it wrote, whether the check agrees
    with the work (``equal``: the same result; for an inverse check, its result is the work's first
    operand, or the number it set beside its result with ``vs``), whether the check said ``ok``, and for
    an inverse check with ``vs``, whether that number is the operand (``copied``; None otherwise)."""
    lines, out = completion.split("\n"), []
    for work, check in zip(lines, lines[1:]):
        w, c = WORK_LINE.match(work), CHECK_LINE.match(check)
        if not (w and c):
            continue
        early, pre, dx, op, dy, carry, got, cout = w.groups()
        cout = early if cout is None else cout
        x = int(pre + dx) if pre else int(dx)
        right = x + int(dy) + int(carry) if op == "+" else x - int(dy) - int(carry)
        cpre, c1, cop, c2, c3, cgot, ccout, want, verdict = c.groups()
        cx = int(cpre + c1) if cpre else int(c1)
        check_right = cx + int(c2) + int(c3) if cop == "+" else cx - int(c2) - int(c3)
        # a line's carry (borrow) out is right when it follows from its sum (its borrow prefix)
        work_ok = int(got) == right and (cout is None or int(cout) == _carry_out(op, pre, right))
        copied = None
        if cop != op:                                    # an inverse check: it must give back the operand,
            check_ok, equal = int(cgot) == check_right, int(cgot) == x
            if want is not None:                         # which it may copy beside its result (``vs``)
                copied, equal = int(want) == x, int(cgot) == int(want)
        else:
            check_ok = int(cgot) == check_right and (ccout is None or int(ccout) == _carry_out(op, cpre, check_right))
            equal = (cgot, ccout) == (got, cout)
        out.append({"work_right": work_ok, "check_right": check_ok, "equal": equal, "ok": verdict == "ok",
                    "copied": copied})
    return out


def check_repairs(scored: list[Scored]) -> dict:
    """Of the check traces whose first attempt was wrong, how many said ``no`` and ended right. For inline
    checks (each line checked below it) a first attempt is wrong when any work line is; it is caught when
    the check says ``no`` under every wrong work line."""
    wrong_first = caught = fixed = 0
    for s in scored:
        pairs = inline_pairs(s.completion)
        if pairs:
            bad = [q for q in pairs if not q["work_right"]]
            if bad:
                wrong_first += 1
                if all(not q["ok"] for q in bad):
                    caught += 1
                    fixed += s.correct
            continue
        fa = first_attempt(s.completion)
        if fa is None or int(fa) == int(s.problem.answer):
            continue
        wrong_first += 1
        if " no\nwait " in s.completion:
            caught += 1
            fixed += s.correct
    return {"wrong_first_attempts": wrong_first, "caught": caught, "caught_and_fixed": fixed,
            "fix_rate": fixed / wrong_first if wrong_first else None}


def world_figures(model, tokenizer, n: int = 500, seed: int = 0, batch_size: int = 128,
                  progress=print, countdown_kwargs: dict | None = None, max_new_tokens: int = 500,
                  split: str = "test") -> dict:
    """Every figure of the shipped-base acceptance table, as a dict. ``countdown_kwargs``: the Countdown
    task's number and target ranges the model was pretrained on (its manifest's
    ``config.corpus.countdown_kwargs``; empty: the task's defaults). ``max_new_tokens``: each sample's
    token budget (recorded as ``max_new_tokens``). ``split``: ``test`` for the reported figures,
    ``validation`` to choose between models."""
    t0 = time.time()
    demo = get_task("arithmetic", ops="+-", min_digits=4, max_digits=6)
    probs = demo.problems(split, n, seed)
    res: dict = {"n_problems": n, "seed": seed, "max_new_tokens": max_new_tokens}
    if split != "test":
        res["split"] = split
    budget = {"max_new_tokens": max_new_tokens}
    free = sample_and_score(model, tokenizer, demo, probs, seed=seed, batch_size=batch_size, **budget)
    res["free"] = summarize(free)
    progress(f"free: accuracy {res['free']['accuracy']:.3f}, careful {res['free']['careful_share']:.3f}")
    step = sample_and_score(model, tokenizer, demo, probs, prefix=demo.style_prefix["stepwise"], seed=seed + 1, batch_size=batch_size, **budget)
    res["forced_stepwise"] = summarize(step)
    progress(f"forced stepwise: {res['forced_stepwise']['by_difficulty']}")
    chk = sample_and_score(model, tokenizer, demo, probs, prefix=demo.style_prefix["check"], seed=seed + 2,
                           batch_size=batch_size, **budget)
    res["forced_check"] = summarize(chk) | check_repairs(chk)
    progress(f"forced check: {res['forced_check']['by_difficulty']}, fix rate {res['forced_check']['fix_rate']}")
    hard = get_task("arithmetic", ops="+-", min_digits=7, max_digits=7).problems(split, n // 2, seed)
    h_step = sample_and_score(model, tokenizer, demo, hard, prefix=demo.style_prefix["stepwise"], seed=seed + 3, batch_size=batch_size, **budget)
    h_chk = sample_and_score(model, tokenizer, demo, hard, prefix=demo.style_prefix["check"], seed=seed + 4,
                             batch_size=batch_size, **budget)
    res["hard7"] = {"stepwise": summarize(h_step)["accuracy"], "check": summarize(h_chk)["accuracy"],
                    **check_repairs(h_chk)}
    progress(f"7 digits: stepwise {res['hard7']['stepwise']:.3f} check {res['hard7']['check']:.3f}")
    cd = get_task("countdown", **{**(countdown_kwargs or {}), "min_numbers": 3, "max_numbers": 3})
    cd_probs = cd.problems(split, n, seed)
    cd_s = sample_and_score(model, tokenizer, cd, cd_probs, seed=seed + 5, batch_size=batch_size, **budget)
    res["countdown3"] = summarize(cd_s) | {"task_kwargs": dict(countdown_kwargs or {})}
    progress(f"countdown 3: {res['countdown3']['accuracy']:.3f} styles {res['countdown3']['style_share']}")
    res["seconds"] = round(time.time() - t0, 1)
    return res


def print_table(res: dict) -> None:
    """The acceptance table, with each figure's goal."""
    from rich.console import Console
    from rich.table import Table

    f, st, ch, h7, cd = (res["free"], res["forced_stepwise"], res["forced_check"], res["hard7"],
                         res["countdown3"])
    bd = st["by_difficulty"]
    rows = [
        ("free accuracy, 4-6 digits", f"{f['accuracy']:.1%}", "15% - 45%"),
        ("free careful share (stepwise + check)", f"{f['careful_share']:.1%}", "<= 30%"),
        ("forced stepwise, 4 digits", f"{bd.get('4', 0):.1%}", ">= 95%"),
        ("forced stepwise, 5 digits", f"{bd.get('5', 0):.1%}", ">= 95%"),
        ("forced stepwise, 6 digits", f"{bd.get('6', 0):.1%}", ""),
        ("forced check, 6 digits", f"{ch['by_difficulty'].get('6', 0):.1%}", ">= stepwise + 3 pts"),
        ("forced stepwise / check, 7 digits", f"{h7['stepwise']:.1%} / {h7['check']:.1%}", ""),
        ("wrong first attempts caught and fixed (4-6)",
         f"{ch['caught_and_fixed']}/{ch['wrong_first_attempts']}", ">= half"),
        ("countdown, 3 numbers" + "".join(f", {k} {v}" for k, v in sorted(cd.get("task_kwargs", {}).items())),
         f"{cd['accuracy']:.1%}", "10% - 60%"),
    ]
    table = Table(title=f"world figures ({res['n_problems']} {res.get('split', 'test')} problems, temperature 1)")
    for c in ("figure", "measured", "goal"):
        table.add_column(c)
    for r in rows:
        table.add_row(*r)
    Console().print(table)
