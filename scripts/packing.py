"""What block packing does to a pretraining corpus: the share of tokens trained as a cut document's tail
(the tokens of a stream-cut block before its first ``<bos>``: with ``doc_attention`` they are trained
without their prompt in view), the share of those from check traces, and the padding that whole-document packing adds instead.

    python scripts/packing.py [--config configs/base.yaml] [--tokens 1000000] [KEY=VALUE ...]
"""
from __future__ import annotations

import argparse
import numpy as np

from rlvr.config import load_config
from rlvr.world.pretrain import PretrainConfig, build_corpus, make_blocks
from rlvr.world.tokenizer import build_tokenizer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="configs/base.yaml")
    ap.add_argument("--tokens", type=int, default=1_000_000)
    ap.add_argument("overrides", nargs="*")
    args = ap.parse_args()
    tok = build_tokenizer()
    for whole in (False, True):
        cfg = load_config(PretrainConfig, args.config, [*args.overrides, f"tokens={args.tokens}",
                                                        f"whole_documents={str(whole).lower()}"])
        ids, mask, ordered = build_corpus(cfg, tok)
        blocks, _, _ = make_blocks(ids, mask, ordered, cfg, tok)
        if whole:
            print(f"whole documents, seq_len {cfg.seq_len}: padding {np.mean(blocks == tok.pad_token_id):.2%} of the tokens")
            continue
        bos = np.flatnonzero(ids == tok.bos_token_id)
        tail = check = 0
        for row in range(len(blocks)):
            at = row * cfg.seq_len                                   # the block's first token in the stream
            nxt = bos[np.searchsorted(bos, at)] if np.searchsorted(bos, at) < len(bos) else len(ids)
            n = min(nxt - at, cfg.seq_len)                           # tokens before the block's first <bos>
            if n > 0:
                start = bos[np.searchsorted(bos, at) - 1]           # the cut document's own <bos>
                tail += n
                check += n * ("work+check" in tok.decode(ids[start:start + 40].tolist()))
        total = len(blocks) * cfg.seq_len
        print(f"cut from the stream, seq_len {cfg.seq_len}: {tail / total:.1%} of the tokens are cut tails, "
              f"{check / max(1, tail):.0%} of them from check traces")

if __name__ == "__main__":
    main()
