"""Pretraining throughput of the block layouts side by side: blocks cut from the stream (the shipped
recipe), whole documents per block, and whole documents in blocks of several lengths (``short_blocks``);
``--layout NAME="compile=true ..."`` trains a layout through ``torch.compile``.
Each layout trains the same model from the same initialisation on the same corpus; the layouts take turns
(rounds of a few steps each) so that a noisy machine slows them alike. Reported per layout: padding,
input tokens per second, corpus tokens (not padding) per second, and the ratio to the first layout.

    python benchmarks/pretrain_speed.py [--config configs/base.yaml] [--threads 2] [--rounds 4] [--steps 5]
        [--layout NAME=OVERRIDES ...]
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from rlvr.config import load_config
from rlvr.world.pretrain import (PretrainConfig, block_lengths, block_order, build_corpus, make_blocks,
                                 make_optimizer, plan_steps, step_loss)
from rlvr.utils import set_threads
from rlvr.world.model import build_model
from rlvr.world.tokenizer import build_tokenizer

LAYOUTS = {
    "cut": "",
    "whole": "whole_documents=true",
    "whole+256": "whole_documents=true short_blocks=[256]",
    "whole+128,256,512": "whole_documents=true short_blocks=[128,256,512]",
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="configs/base.yaml")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tokens", type=int, default=400_000, help="corpus size for the benchmark")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--steps", type=int, default=5, help="steps per layout per round")
    ap.add_argument("--layout", action="append", default=[], help="NAME=OVERRIDES (space-separated key=value)")
    args = ap.parse_args()
    set_threads(args.threads)
    layouts = dict(kv.split("=", 1) for kv in args.layout) if args.layout else LAYOUTS
    tok = build_tokenizer()
    runs = {}
    for name, over in layouts.items():
        cfg = load_config(PretrainConfig, args.config, [*over.split(), f"tokens={args.tokens}", "probe_every=0"])
        ids, mask, ordered = build_corpus(cfg, tok)
        blocks, bmask, k = make_blocks(ids, mask, ordered, cfg, tok)
        lengths = block_lengths(blocks, cfg, tok.pad_token_id)
        steps = args.rounds * args.steps + 2
        plan = plan_steps(block_order(len(blocks), k, cfg, lengths), lengths, cfg, steps)
        torch.manual_seed(cfg.seed)
        model = build_model(cfg.model, tok)
        opt = make_optimizer(model, cfg)
        bt, mt = torch.from_numpy(blocks.astype(np.int64)), torch.from_numpy(bmask.astype(np.bool_))
        pad = float(1 - np.mean([(blocks[r, :lengths[r]] != tok.pad_token_id).mean() for r in range(len(blocks))]))
        fwd = torch.compile(model, dynamic=False) if cfg.compile else model
        runs[name] = dict(cfg=cfg, model=model, fwd=fwd, opt=opt, bt=bt, mt=mt, lengths=lengths, plan=plan, pad=pad,
                          step=0, seconds=0.0, inputs=0, real=0)

    def train(r, n):
        for _ in range(n):
            rows = r["plan"][r["step"]]
            t0 = time.perf_counter()
            loss, n_inputs = step_loss(r["fwd"], r["bt"], r["mt"], rows, r["lengths"][rows], r["cfg"], tok)
            r["opt"].zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(r["model"].parameters(), 1.0)
            r["opt"].step()
            dt = time.perf_counter() - t0
            if r["step"] >= 2:                                   # the first two steps warm up (and compile)
                r["seconds"] += dt
                r["inputs"] += n_inputs
                r["real"] += int(sum((r["bt"][i, :r["lengths"][i]] != tok.pad_token_id).sum() for i in rows))
            r["step"] += 1

    for r in runs.values():
        train(r, 2)
    for _ in range(args.rounds):
        for r in runs.values():
            train(r, args.steps)
    load = os.getloadavg()[0]
    base = None
    print(f"{args.rounds} rounds x {args.steps} steps per layout, {args.threads} threads, load average {load:.2f}")
    print(f"{'layout':<22} {'padding':>8} {'inputs/s':>9} {'corpus/s':>9} {'ratio':>6}")
    for name, r in runs.items():
        real = r["real"] / r["seconds"]
        base = base or real
        print(f"{name:<22} {r['pad']:>8.2%} {r['inputs'] / r['seconds']:>9.0f} {real:>9.0f} {real / base:>6.2f}")


if __name__ == "__main__":
    main()
