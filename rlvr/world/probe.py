"""Where a world model's column work goes wrong: per-token error by role, teacher-forced.

For held-out stepwise traces (addition and subtraction), the probability of *not* producing the right
token is the chance of an error at that token when sampling at temperature 1, so its sum over a trace
is the trace's expected number of errors. Grouped by the token's role on its line (restated operands,
column digits, column result, carry, running answer ``r``, final answer), it says which skill a
pretraining run has or lacks. ``rlvr pretrain`` logs it during training (``probe_every``) and
``scripts/trace_errors.py`` prints it for any model. ``first_read_error`` measures one token alone: the
first of forced stepwise work, read from the prompt.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass

import torch

from ..tasks.arithmetic import Arithmetic
from .arithmetic_traces import arithmetic_trace
from .segments import trace_text

ROLES = ("style", "operands", "column digits", "sum", "carry", "running answer r", "answer")
_HEAD = re.compile(r"(?P<style>(?:work\+check|work|check|wait) )?(?P<operands>\d+[-+*]\d+ )?")


def role(line: str, pos: int) -> str:
    """The role of the character at ``pos`` of a stepwise line: the style word that opens the work
    (not a column-work error: it is the choice of style), the restated operands, then the column's
    digits, its result (``sum``), carry or borrow and running answer, or the final answer line."""
    if line.startswith("<answer>"):
        return "answer"
    head = _HEAD.match(line)
    if head.group("style") and pos < head.end("style"):
        return "style"
    if head.group("operands") and pos < head.end("operands"):
        return "operands"
    seg = line[head.end():pos]
    if " r" in seg:
        return "running answer r"
    eq = seg.find("=")
    if eq >= 0:                                 # after the column's '=': its result, then a carry or borrow out
        return "carry" if " c" in seg[eq:] or " b" in seg[eq:] else "sum"
    # before it: the column's digits, but for a borrow decided first (``8-9-0 b1 18-9-0=``), its digit
    return "carry" if seg.endswith((" b", " c")) or seg[-3:-1] in (" b", " c") else "column digits"


@dataclass
class ProbeTrace:
    ids: list[int]
    """Token ids of prompt and trace."""
    roles: list[str | None]
    """Role of each token (None for the prompt's tokens, which are not scored)."""
    lines: list[int]
    """Line of the trace each token is on (0: the first line after the prompt)."""


def probe_traces(tokenizer, n: int = 16, digits: int = 5, seed: int = 0,
                 borrow_first: bool = False) -> list[ProbeTrace]:
    """n held-out (test split) stepwise traces of ``digits``-digit additions and subtractions, in the
    corpus's layout (``borrow_first``: see ``CorpusConfig``)."""
    task = Arithmetic(ops="+-")
    out = []
    for p in task.problems("test", n, seed, difficulty=digits):
        text = p.prompt + trace_text(arithmetic_trace(p, "stepwise", random.Random(0), borrow_first=borrow_first))
        enc = tokenizer(text, return_offsets_mapping=True)
        ids, offsets = enc["input_ids"], enc["offset_mapping"]
        start = len(tokenizer(p.prompt)["input_ids"])
        roles: list[str | None] = [None] * len(ids)
        lines = [0] * len(ids)
        for j in range(start, len(ids)):
            a = offsets[j][0]
            line_start = text.rfind("\n", 0, a) + 1
            line_end = text.find("\n", a)
            roles[j] = role(text[line_start:line_end if line_end >= 0 else len(text)], a - line_start)
            lines[j] = text.count("\n", len(p.prompt), line_start)
        out.append(ProbeTrace(ids, roles, lines))
    return out


def trace_errors(model, traces: list[ProbeTrace], by_line: bool = False,
                 per_trace: bool = False) -> dict[str, float]:
    """Mean P(wrong token) by role (``probe/<role>``) and the expected errors per trace once the style
    word is written (``probe/expected_errors``: the forced-stepwise case). ``by_line`` splits each role
    into the first line and the later ones (``probe/<role> (first line)``). ``per_trace``: each role's
    summed P(wrong) per trace (its share of the expected errors) instead of its mean per token. The
    model is put in eval mode and restored."""
    was_training = model.training
    model.eval()
    sums: dict[str, list[float]] = {}
    total = 0.0
    with torch.inference_mode():
        for t in traces:
            logp = model(input_ids=torch.tensor([t.ids])).logits[0].float().log_softmax(-1)   # [T, V]
            target = torch.tensor(t.ids[1:])
            miss = 1.0 - logp[:-1].gather(1, target[:, None])[:, 0].exp()                   # miss[j-1] is token j's
            for j, r in enumerate(t.roles):
                if r is None:
                    continue
                m = float(miss[j - 1])
                if by_line:
                    r = f"{r} ({'first line' if t.lines[j] == 0 else 'later lines'})"
                acc = sums.setdefault(r, [0, 0.0])
                acc[0] += 1
                acc[1] += m
                total += m if not r.startswith("style") else 0.0
    model.train(was_training)
    out = {f"probe/{r}": s / (max(1, len(traces)) if per_trace else n) for r, (n, s) in sums.items()}
    out["probe/expected_errors"] = total / max(1, len(traces))
    return out


def first_read_error(model, tokenizer, digits: int, n: int = 100, seed: int = 0,
                     borrow_first: bool = False) -> float:
    """Mean P(wrong) of the first token of forced stepwise work (after ``work ``: the last digit of the
    first operand, read from the prompt; for a subtraction whose column borrows, the borrow prefix
    ``1``) on n held-out (test split) additions and subtractions of ``digits`` digits, teacher-forced."""
    task = Arithmetic(ops="+-")
    was_training = model.training
    model.eval()
    wrong = 0.0
    with torch.inference_mode():
        for p in task.problems("test", n, seed, difficulty=digits):
            # "work 5+3+0=8 ..."
            work = trace_text(arithmetic_trace(p, "stepwise", random.Random(0), borrow_first=borrow_first))
            head = tokenizer(p.prompt + "work ")["input_ids"]
            target = tokenizer(p.prompt + work[:len("work ") + 1])["input_ids"][len(head)]
            probs = model(input_ids=torch.tensor([head])).logits[0, -1].float().softmax(-1)
            wrong += 1.0 - float(probs[target])
    model.train(was_training)
    return wrong / n
