"""The pretraining data of the world's base: the corpus generated and tokenized up front, packed into
blocks (cut from one stream, or whole documents, of one or several lengths), their order (curriculum
slices first when configured) and each step's blocks. Pure functions of the config and its seed."""
from __future__ import annotations

import numpy as np

from .corpus import documents, tokenize_documents


OPEN_BLOCKS = 8        # blocks kept open by whole-document packing
PACKING_SLACK = 0.05   # extra corpus generated for the padding of whole-document packing
CURRICULUM_DIGITS = (3, 7)   # digit caps of the curriculum's slices, first to last


def curriculum_cap(position: int, cfg) -> int | None:
    """The cap on arithmetic digits for corpus tokens starting at ``position`` (None: past the curriculum)."""
    span = cfg.curriculum * cfg.tokens
    if position >= span:
        return None
    lo, hi = CURRICULUM_DIGITS
    return lo + int(position / span * (hi - lo + 1))


def build_corpus(cfg, tokenizer, progress=None) -> tuple[np.ndarray, np.ndarray, int]:
    """Token stream and loss mask of at least ``cfg.tokens + seq_len + 1`` tokens (5% more than
    ``cfg.tokens`` with ``whole_documents``, for the padding), and how many of its first
    tokens belong to the curriculum (``cfg.curriculum``; they are trained in stream order)."""
    ids, masks, total, offset, ordered = [], [], 0, 0, 0
    # whole-document packing pads each block's tail: a little more corpus keeps every block distinct
    need = cfg.tokens + cfg.seq_len + 1 if not cfg.whole_documents else int(cfg.tokens * (1 + PACKING_SLACK))
    while total < need:
        cap = curriculum_cap(total, cfg)
        docs = list(documents(cfg.corpus, 4000 if cap is None else 50, offset=offset, max_digits=cap))
        i, m = tokenize_documents(tokenizer, docs)
        ends = np.flatnonzero(i == tokenizer.eos_token_id)
        longest = int(np.diff(np.concatenate([[-1], ends])).max())
        if longest > cfg.seq_len:
            raise ValueError(f"a corpus document has {longest} tokens, longer than seq_len={cfg.seq_len}")
        ids.append(i)
        masks.append(m)
        total += len(i)
        offset += 1
        if cap is not None:
            ordered = total
        if progress:
            progress(total)
    return np.concatenate(ids), np.concatenate(masks), ordered


def pack_documents(ids: np.ndarray, mask: np.ndarray, block: int, eos_id: int, pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Whole documents of the stream ``ids`` (each ending in ``eos_id``) packed into blocks of ``block``
    tokens: each document goes to the first of the open blocks with room for it; when none has, the
    fullest is closed and a new one opened. Blocks keep roughly the stream's order; their unused tail
    is ``pad_id``, out of the loss (``mask`` False). Returns blocks [N, block] and their loss mask."""
    ends = np.flatnonzero(ids == eos_id) + 1
    starts = np.concatenate([[0], ends[:-1]])
    if len(ends) == 0 or (ends - starts).max() > block:
        raise ValueError(f"a document is longer than the packing block of {block} tokens")
    out_ids, out_mask = [], []
    open_spans: list[list] = []                            # document spans of each open block
    used: list[int] = []                                   # tokens used in each open block

    def close(i):
        spans = open_spans.pop(i)
        used.pop(i)
        row, m = np.full(block, pad_id, dtype=ids.dtype), np.zeros(block, dtype=mask.dtype)
        at = 0
        for a, b in spans:
            row[at:at + b - a], m[at:at + b - a] = ids[a:b], mask[a:b]
            at += b - a
        out_ids.append(row)
        out_mask.append(m)

    for a, b in zip(starts, ends):
        n = b - a
        fit = next((i for i, u in enumerate(used) if u + n <= block), None)
        if fit is None:
            if len(used) == OPEN_BLOCKS:
                close(int(np.argmax(used)))
            open_spans.append([])
            used.append(0)
            fit = len(used) - 1
        open_spans[fit].append((a, b))
        used[fit] += n
    while used:
        close(0)
    return np.stack(out_ids), np.stack(out_mask)


def make_blocks(ids: np.ndarray, mask: np.ndarray, ordered: int, cfg, tokenizer) -> tuple[np.ndarray, np.ndarray, int]:
    """Training blocks of ``seq_len + 1`` tokens (inputs and their shifted targets), their loss mask,
    and how many of the first blocks hold the curriculum: cut from the stream (consecutive blocks share
    a token) or, with ``whole_documents``, packed from whole documents (the curriculum packed apart).
    With ``short_blocks`` each document is packed into blocks of the shortest length that holds it; a
    short block's row ends in padding (``block_lengths`` reads its length back)."""
    T = cfg.seq_len + 1
    if not cfg.whole_documents:
        n_blocks = (len(ids) - 1) // cfg.seq_len
        idx = (np.arange(n_blocks) * cfg.seq_len)[:, None] + np.arange(T)[None, :]
        k = min(n_blocks, -(-ordered // cfg.seq_len)) if ordered else 0
        return ids[idx], mask[idx], k
    parts = [pack_lengths(ids[:ordered], mask[:ordered], cfg, tokenizer)] if ordered else []
    parts.append(pack_lengths(ids[ordered:], mask[ordered:], cfg, tokenizer))
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]), len(parts[0][0]) if ordered else 0


def block_sizes(cfg) -> list[int]:
    """Input lengths blocks may have, shortest first: ``short_blocks`` and ``seq_len``."""
    return sorted(cfg.short_blocks) + [cfg.seq_len]


def pack_lengths(ids: np.ndarray, mask: np.ndarray, cfg, tokenizer) -> tuple[np.ndarray, np.ndarray]:
    """Whole documents of a stream packed into blocks of ``seq_len + 1`` tokens, or with ``short_blocks``
    each into blocks of the shortest length (plus one) that holds it, every row padded to ``seq_len + 1``."""
    eos, pad, T = tokenizer.eos_token_id, tokenizer.pad_token_id, cfg.seq_len + 1
    lengths = block_sizes(cfg)
    ends = np.flatnonzero(ids == eos) + 1
    starts = np.concatenate([[0], ends[:-1]])
    bucket = np.searchsorted(np.array(lengths) + 1, ends - starts)      # the shortest block that holds each
    rows, masks = [], []
    for b, n in enumerate(lengths):
        docs = np.flatnonzero(bucket == b)
        if len(docs) == 0:
            continue
        idx = np.concatenate([np.arange(starts[d], ends[d]) for d in docs])
        r, m = pack_documents(ids[idx], mask[idx], n + 1, eos, pad)
        rows.append(np.pad(r, ((0, 0), (0, T - n - 1)), constant_values=pad))
        masks.append(np.pad(m, ((0, 0), (0, T - n - 1)), constant_values=0))
    return np.concatenate(rows), np.concatenate(masks)


def block_lengths(blocks: np.ndarray, cfg, pad_id: int) -> np.ndarray:
    """Input tokens of each block of ``make_blocks``: the shortest of ``short_blocks`` and ``seq_len``
    whose block (one token longer) holds the row's tokens up to its last that is not padding."""
    lengths = np.array(block_sizes(cfg))
    used = blocks.shape[1] - np.argmax((blocks != pad_id)[:, ::-1], axis=1)   # up to the last real token
    return lengths[np.searchsorted(lengths + 1, used)]


def plan_steps(order: np.ndarray, lengths: np.ndarray, cfg, total_steps: int) -> list[np.ndarray]:
    """The blocks of each step: ``order`` (repeated if it runs out) cut where the steps' inputs reach
    ``batch_size * seq_len`` tokens, a block belonging to the step in which it starts. Blocks of one
    length give ``batch_size`` blocks a step, as before ``short_blocks``."""
    budget = cfg.batch_size * cfg.seq_len
    need = total_steps * budget
    reps = -(-need // int(lengths.sum()))
    seq = np.tile(order, reps)
    start = np.cumsum(lengths[seq]) - lengths[seq]                    # each block's first input token
    step_of = start // budget
    seq, step_of = seq[step_of < total_steps], step_of[step_of < total_steps]
    return np.split(seq, np.flatnonzero(np.diff(step_of)) + 1)


def block_order(n_blocks: int, k: int, cfg, lengths: np.ndarray | None = None) -> np.ndarray:
    """Blocks in training order: the curriculum's ``k`` blocks first, in stream order; the rest shuffled.
    With blocks of several ``lengths`` the rest is shuffled within each length and the lengths are
    interleaved evenly (each length's i-th of n blocks at (i + u) / n, u uniform in [0, 1)), so that every
    stretch of the order, and so every step, holds each length in its share of the corpus: on the shipped
    corpus with ``short_blocks=[256]`` nearly every step holds one or two 768-token blocks, where a plain
    shuffle gave it none to four (``scripts/step_mix.py``; runs 36 and 37 of ``docs/base_model.md``)."""
    rng = np.random.default_rng(cfg.seed)
    rest = rng.permutation(n_blocks - k) + k
    kinds = lengths[rest] if lengths is not None else np.zeros(0)
    if len(np.unique(kinds)) > 1:
        slots = np.empty(n_blocks - k)
        for n in np.unique(kinds):
            these = np.flatnonzero(kinds == n)                            # positions in rest, shuffled order
            slots[these] = (np.arange(len(these)) + rng.random(len(these))) / len(these)
        rest = rest[np.argsort(slots, kind="stable")]
    return np.concatenate([np.arange(k), rest])


