"""How well a world model reads the prompt: the chance that the first token of forced stepwise work is wrong.

    python scripts/first_read.py [MODEL] [--n 100] [--threads 1]

The first token after ``work `` is the last digit of the first operand, read from the prompt (for a
subtraction whose column borrows, the borrow prefix ``1``). For n held-out test problems (addition and
subtraction) at each difficulty from 2 to 7 digits, prints the mean probability of a wrong token there,
teacher-forced: the chance of an error at that token when sampling at temperature 1.
"""
from __future__ import annotations

import argparse
import random

from transformers import AutoModelForCausalLM, AutoTokenizer

from rlvr.tasks.arithmetic import Arithmetic, trace_text
from rlvr.utils import set_threads
from rlvr.world import shipped_base_path


def main() -> None:
    import torch

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", nargs="?", default=str(shipped_base_path()))
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    set_threads(args.threads)
    model = AutoModelForCausalLM.from_pretrained(args.model).eval()
    tok = AutoTokenizer.from_pretrained(args.model)
    task = Arithmetic(ops="+-")
    for digits in range(2, 8):
        wrong = 0.0
        for p in task.problems("test", args.n, 0, difficulty=digits):
            work = trace_text(task.trace(p, "stepwise", random.Random(0)))       # "work 5+3+0=8 ..."
            head = tok(p.prompt + "work ")["input_ids"]
            target = tok(p.prompt + work)["input_ids"][len(head)]
            with torch.inference_mode():
                probs = model(input_ids=torch.tensor([head])).logits[0, -1].float().softmax(-1)
            wrong += 1.0 - float(probs[target])
        print(f"{digits} digits: P(wrong first token) {wrong / args.n:.3f}")


if __name__ == "__main__":
    main()
