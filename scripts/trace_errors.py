"""Where a world model's column work goes wrong: per-token error by role, teacher-forced.

    python scripts/trace_errors.py [MODEL] [--n 60] [--digits 5]

For n held-out stepwise traces (addition and subtraction), the mean probability of *not* producing the
right token, by the token's role on its line (operand lines and column lines alternate; see
rlvr/tasks/arithmetic.py). That is the chance of an error at that token when sampling
at temperature 1, so the sum over a trace is its expected number of errors.
"""
from __future__ import annotations

import argparse
import random
from collections import defaultdict

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from rlvr.tasks.arithmetic import Arithmetic, trace_text
from rlvr.utils import set_threads
from rlvr.world import shipped_base_path


def role(line: str, pos: int) -> str:
    """The role of the character at ``pos`` of a line of column work: an operand line
    (``1974.+1902.=``) or a column line (``> 4+2+0=06 r....68``, the first opening with the style word)."""
    if line.startswith("<answer>"):
        return "answer"
    if line.endswith("=") and " " not in line:
        return "restated operands"
    head = line.split(" ", 1)[0]
    if head not in ("work", "work+check", ">") or pos <= len(head):
        return "opening"
    col, p = line[len(head) + 1:], pos - len(head) - 1
    if "-" in col[:3] and p == 0:
        return "borrow out"
    if p < col.find("="):
        return "column digits"
    if p <= col.find(" r"):
        return "column result"
    return "running answer r"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", nargs="?", default=str(shipped_base_path()))
    ap.add_argument("--n", type=int, default=60)
    ap.add_argument("--digits", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    set_threads(args.threads)
    model = AutoModelForCausalLM.from_pretrained(args.model).eval()
    tok = AutoTokenizer.from_pretrained(args.model)
    task = Arithmetic(ops="+-")
    err = defaultdict(lambda: [0, 0.0])
    total = 0.0
    for p in task.problems("test", args.n, 0, difficulty=args.digits):
        text = p.prompt + trace_text(task.trace(p, "stepwise", random.Random(0)))
        enc = tok(text, return_offsets_mapping=True)
        ids, offsets = enc["input_ids"], enc["offset_mapping"]
        with torch.no_grad():
            logp = model(input_ids=torch.tensor([ids])).logits[0].log_softmax(-1)   # [T, V]
        start = len(tok(p.prompt)["input_ids"])
        for j in range(start, len(ids)):
            a = offsets[j][0]
            line_start = text.rfind("\n", 0, a) + 1
            line_end = text.find("\n", a)
            line = text[line_start:line_end if line_end >= 0 else len(text)]
            miss = 1.0 - logp[j - 1, ids[j]].exp().item()
            e = err[role(line, a - line_start)]
            e[0] += 1
            e[1] += miss
            total += miss
    for name, (n, s) in sorted(err.items()):
        print(f"{name:18s} tokens {n:5d}   mean P(wrong) {s / n:.4f}")
    print(f"expected errors per trace: {total / args.n:.2f}")


if __name__ == "__main__":
    main()
