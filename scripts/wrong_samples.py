"""The completions a model gets wrong on held-out problems, sampled as the demo measures them
(temperature 1, seed 12345, a 600-token budget): how many, and each one printed in full.

    python scripts/wrong_samples.py runs/demo/final [--n 200] [--min-digits 4] [--max-digits 6]
    python scripts/wrong_samples.py runs/b55/model --style stepwise --max-digits 5

``--style`` forces the completion to open with that style's first tokens, as ``rlvr eval-base`` does.
"""
from __future__ import annotations

import argparse

from transformers import AutoModelForCausalLM, AutoTokenizer

from rlvr.eval.scoring import sample_once
from rlvr.rollout import SamplingConfig
from rlvr.tasks import get_task
from rlvr.tasks.arithmetic import STYLE_PREFIX
from rlvr.utils import set_threads


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("--n", type=int, default=200, help="test problems (the first n of the demo's test set)")
    ap.add_argument("--min-digits", type=int, default=4)
    ap.add_argument("--max-digits", type=int, default=6)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--style", choices=sorted(STYLE_PREFIX), help="force the completion to open in this style")
    args = ap.parse_args()
    set_threads(args.threads)
    task = get_task("arithmetic", ops="+-", min_digits=args.min_digits, max_digits=args.max_digits)
    problems = task.problems("test", args.n, seed=0)
    model, tok = AutoModelForCausalLM.from_pretrained(args.model), AutoTokenizer.from_pretrained(args.model)
    texts, correct, _ = sample_once(model, tok, task, problems,
                                    SamplingConfig(temperature=1.0, max_new_tokens=600, seed=12345),
                                    prefix=STYLE_PREFIX[args.style] if args.style else "")
    for p, text, ok in zip(problems, texts, correct):
        if not ok:
            print(f"===== {p.difficulty} digits: {p.prompt.strip()} (answer {p.answer})\n{text}")
    print(f"{len(correct) - sum(correct)} wrong of {len(correct)} ({sum(correct) / len(correct):.1%} right)")


if __name__ == "__main__":
    main()
