"""How long an honest search of a Countdown problem is, against the searches the corpus shows.

For held-out 3-number problems: how many distinct tries (one or two whole steps, as the corpus's search
writes them) each problem has, the share of them that hit the target, and the expected number of tries a
search in random order makes up to its first hit. The corpus's stepwise and check traces show at most
``MAX_TRIES_BEFORE_HIT`` misses before the hit. Last, the share of the corpus's characters in Countdown
documents, with the shipped search and with ``corpus.countdown_search=honest``.

    python scripts/countdown_search.py [--problems 300] [--config configs/base.yaml] [--tokens 400000]
"""
from __future__ import annotations

import argparse
import statistics

from rlvr.config import load_config
from rlvr.tasks.countdown import NUMBER_RANGE, TARGET_RANGE, Countdown, _search_space
from rlvr.world.countdown_traces import MAX_TRIES_BEFORE_HIT


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--problems", type=int, default=300)
    ap.add_argument("--config", default="configs/base.yaml")
    ap.add_argument("--tokens", type=int, default=400_000, help="corpus size for the shares")
    args = ap.parse_args()
    sizes, shares, expected = [], [], []
    for p in Countdown(3, 3).problems("test", args.problems, 0, 3):
        numbers = tuple(sorted(p.meta["numbers"]))
        tries = list(_search_space(numbers, 1)) + list(_search_space(numbers, 2))
        hits = sum(t.value == p.meta["target"] for t in tries)
        sizes.append(len(tries))
        shares.append(hits / len(tries))
        # the first hit among n tries in random order, h of them hits, comes at (n + 1) / (h + 1) on average
        expected.append((len(tries) + 1) / (hits + 1))
    print(f"{args.problems} test problems, numbers {NUMBER_RANGE}, targets {TARGET_RANGE}")
    print(f"tries per problem {statistics.mean(sizes):.1f}; share hitting the target {statistics.mean(shares):.1%}")
    print(f"tries up to the first hit in random order: mean {statistics.mean(expected):.1f}, "
          f"median {statistics.median(expected):.1f}; the corpus shows at most {MAX_TRIES_BEFORE_HIT + 1}")
    from rlvr.world.pretrain import PretrainConfig, build_corpus
    from rlvr.world.tokenizer import build_tokenizer

    tok = build_tokenizer()
    for search in ("short", "honest"):
        cfg = load_config(PretrainConfig, args.config, [f"tokens={args.tokens}", f"corpus.countdown_search={search}"])
        ids, _, _ = build_corpus(cfg, tok)
        docs = tok.decode(ids.tolist()).split("<bos>")[1:]
        share = sum(len(d) for d in docs if d.startswith("make ")) / sum(len(d) for d in docs)
        print(f"countdown_search={search}: Countdown documents hold {share:.1%} of the corpus's characters")


if __name__ == "__main__":
    main()
