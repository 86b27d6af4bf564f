"""Where a world model's pretraining loss goes: tokens and loss by part of the corpus, teacher-forced.

    python scripts/loss_by_part.py [MODEL] [--n 400] [--seed 5]

For n documents of the shipped base's corpus (``CorpusConfig`` defaults, another seed than training),
the share of the tokens and of the summed next-token loss that falls on each part: the prompts, the
bare answers (split at 3 digits, the most a model of the world's size computes in one step) and the
careful traces, for arithmetic and countdown.
"""
from __future__ import annotations

import argparse
from collections import defaultdict

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from rlvr.tasks import get_task
from rlvr.tasks.arithmetic import style_of
from rlvr.utils import set_threads
from rlvr.world import shipped_base_path
from rlvr.world.corpus import CorpusConfig, documents
from rlvr.world.segments import trace_text


def part(prompt: str, completion: str) -> tuple[str, str]:
    """(task, part of the completion): direct answers split by the problem's digits."""
    if prompt.startswith("make"):
        return "countdown", get_task("countdown").style_of(completion)
    style = style_of(completion)
    if style == "direct":
        digits = len(prompt.split("+")[0].split("-")[0].split("*")[0])
        return "arithmetic", "direct<=3" if digits <= 3 else "direct>=4"
    return "arithmetic", style


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", nargs="?", default=str(shipped_base_path()))
    ap.add_argument("--n", type=int, default=400)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    set_threads(args.threads)
    model = AutoModelForCausalLM.from_pretrained(args.model).eval()
    tok = AutoTokenizer.from_pretrained(args.model)
    agg: dict = defaultdict(lambda: [0, 0.0])          # (task, part) -> [tokens, summed loss]
    for doc in documents(CorpusConfig(seed=args.seed), args.n):
        prompt, completion = doc[0].text, trace_text(doc[1:])
        task, kind = part(prompt, completion)
        ids = tok(prompt + completion)["input_ids"] + [tok.eos_token_id]
        n_prompt = len(tok(prompt)["input_ids"])
        with torch.inference_mode():
            logp = model(input_ids=torch.tensor([ids])).logits[0].log_softmax(-1)
        nll = -logp[:-1].gather(1, torch.tensor(ids[1:])[:, None])[:, 0]   # nll[j] is token j+1's
        for key, lo, hi in (((task, "prompt"), 0, n_prompt - 1), ((task, kind), n_prompt - 1, len(ids) - 1)):
            agg[key][0] += hi - lo
            agg[key][1] += float(nll[lo:hi].sum())
    tokens = sum(v[0] for v in agg.values())
    loss = sum(v[1] for v in agg.values())
    for (task, kind), (n, s) in sorted(agg.items()):
        print(f"{task:10s} {kind:10s} tokens {n / tokens:6.1%}  loss {s / loss:6.1%}  mean nll {s / n:.3f}")


if __name__ == "__main__":
    main()
