"""What each pretraining step holds under whole-document packing, with and without ``short_blocks``:
trained targets per step (mean and standard deviation), and, with short blocks, how many full-length
blocks (the long documents) a step takes under a plain shuffle of all blocks and under ``block_order``'s
even interleaving of the lengths. ``--check-loss N`` also checks, on the first N steps and the shipped
base, that a step's loss over short blocks equals that of the same blocks run at full length.

    python scripts/step_mix.py [--config configs/base.yaml] [--short 256] [--check-loss 5] [KEY=VALUE ...]
"""
from __future__ import annotations

import argparse

import numpy as np

from rlvr.config import load_config
from rlvr.world.pretrain import (PretrainConfig, block_lengths, block_order, build_corpus, make_blocks, plan_steps,
                                 step_loss)
from rlvr.world.tokenizer import build_tokenizer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="configs/base.yaml")
    ap.add_argument("--short", type=int, default=256, help="the short block length")
    ap.add_argument("--check-loss", type=int, default=0, metavar="N", help="steps whose loss is checked (0: none)")
    ap.add_argument("overrides", nargs="*")
    args = ap.parse_args()
    tok = build_tokenizer()
    base = load_config(PretrainConfig, args.config, [*args.overrides, "whole_documents=true"])
    ids, mask, ordered = build_corpus(base, tok)                 # the short-block option does not change the corpus
    total_steps = base.tokens // (base.seq_len * base.batch_size)
    for over in ([], [f"short_blocks=[{args.short}]"]):
        cfg = load_config(PretrainConfig, args.config, [*args.overrides, "whole_documents=true", *over])
        blocks, bmask, k = make_blocks(ids, mask, ordered, cfg, tok)
        lengths = block_lengths(blocks, cfg, tok.pad_token_id)
        orders = {"interleaved" if over else "shuffled": block_order(len(blocks), k, cfg, lengths)}
        if over:
            orders["plain shuffle"] = block_order(len(blocks), k, cfg)
        for name, order in orders.items():
            plan = plan_steps(order, lengths, cfg, total_steps)
            trained = np.array([bmask[r][:, 1:].sum() for r in plan])
            line = (f"{' '.join(over) or 'one block length'}, {name}: {len(plan)} steps, trained targets per "
                    f"step {trained.mean():.0f} (sd {trained.std():.0f}), in all {trained.sum():,}")
            if over:
                full = np.bincount([int((lengths[r] == cfg.seq_len).sum()) for r in plan])
                shares = ", ".join(f"{n}: {c / len(plan):.0%}" for n, c in enumerate(full))
                line += f"; {cfg.seq_len}-token blocks per step {shares}"
            print(line)
        if over and args.check_loss:
            check_loss(blocks, bmask, lengths, plan_steps(orders["interleaved"], lengths, cfg, args.check_loss),
                       cfg, tok)


def check_loss(blocks, bmask, lengths, plan, cfg, tok) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    from rlvr.world import ASSETS

    model = AutoModelForCausalLM.from_pretrained(ASSETS / "base").eval()
    bt, mt = torch.from_numpy(blocks.astype(np.int64)), torch.from_numpy(bmask.astype(np.bool_))
    worst = 0.0
    with torch.no_grad():
        for rows in plan:
            short, _ = step_loss(model, bt, mt, rows, lengths[rows], cfg, tok)
            full, _ = step_loss(model, bt, mt, rows, np.full(len(rows), cfg.seq_len), cfg, tok)
            worst = max(worst, abs(float(short) - float(full)))
    print(f"loss over short blocks against full-length blocks, first {len(plan)} steps: largest difference {worst:.1e}")


if __name__ == "__main__":
    main()
