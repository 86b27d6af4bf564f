"""Pretraining of the world's tiny base model on the synthetic corpus.

Plain next-token prediction on packed ``<bos> prompt completion <eos>`` documents: blocks of
``seq_len`` tokens cut from one long stream (or, with ``whole_documents``, whole documents packed into
blocks, with ``short_blocks`` into blocks of several lengths by document length), AdamW, linear warm-up
then cosine decay. The only departure from ordinary LM pretraining: characters of deliberate slips in
check traces are left out of the loss (see rlvr/tasks/arithmetic.py), so the model learns to repair
slips without learning to make them.

The corpus is generated up front from the config's seed, so a resumed run sees the same data.
Output: a Hugging Face model folder (``save_pretrained`` weights and tokenizer) plus ``manifest.json``.
Checkpoints, resume and NaN/Inf steps work as in GRPO (see rlvr/train/grpo.py and rlvr/checkpoint.py).
"""
from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import checkpoint
from ..config import require, require_number, require_wandb, to_dict, to_yaml, validate
from ..utils import MetricsLog, TrainingDiverged, atomic_write_text, environment, prepare_run_dir, rewind_metrics, \
    rng_state, save_model_dir, seed_everything, set_rng_state, set_threads
from ..world.corpus import CorpusConfig, documents, tokenize_documents
from ..world.model import ModelConfig, build_model
from ..world.probe import probe_traces, trace_errors
from ..world.tokenizer import build_tokenizer


KEEP_CHECKPOINTS = 2   # newest checkpoints kept in checkpoints/
MAX_BAD_STEPS = 3      # consecutive steps with a NaN or Inf loss or gradient (each skipped) that stop a run


@dataclass
class PretrainConfig:
    out: str = "runs/pretrain"
    """Run directory: metrics, checkpoints, and the final model in ``model/``."""
    seed: int = 0
    """Seed of the model initialisation and of batch order."""
    threads: int = 1
    """Torch threads for this process."""
    tokens: int = 7_500_000
    """Training tokens (the corpus is generated to this size)."""
    seq_len: int = 768
    """Tokens per packed block; must exceed the longest document."""
    batch_size: int = 8
    """Blocks per optimizer step."""
    whole_documents: bool = False
    """Pack whole documents into blocks (first fit over a few open blocks, the rest of a block padded
    and out of the loss) instead of cutting blocks from one stream. Cut blocks begin inside a document
    whose start is in another block: with ``doc_attention`` that tail is trained with neither its prompt
    nor its earlier lines in view (14% of the tokens at seq_len 768, mostly from the long check traces)."""
    short_blocks: list[int] = field(default_factory=list)
    """With ``whole_documents``: shorter block lengths (tokens, each below ``seq_len``). Each document is
    packed into blocks of the shortest length that holds it, and a step takes blocks of mixed lengths
    (each length shuffled on its own, the lengths interleaved evenly) until it holds
    ``batch_size * seq_len`` tokens. Attention costs each token time
    in proportion to its block's length and most documents are short, so this trains faster
    (``benchmarks/pretrain_speed.py``); empty: every block is ``seq_len`` long."""
    compile: bool = False
    """Train through ``torch.compile`` of the model (one compiled graph per block length; needs a C++
    compiler). The saved weights are the same model's; only the speed differs
    (``benchmarks/pretrain_speed.py``)."""
    doc_attention: bool = False
    """Each document in a block attends only to itself and counts its positions from its own ``<bos>``,
    as a prompt does at inference (false: plain causal attention over the whole block, earlier
    documents included)."""
    curriculum: float = 0.0
    """Share of the training tokens, at the start, over which arithmetic problems grow: the cap on their
    digits rises from 3 to 7 in equal slices of this share, and its blocks are trained in that order
    (the rest of the corpus is shuffled). 0: no curriculum, every block shuffled."""
    lr: float = 3e-3
    """Peak learning rate."""
    min_lr_ratio: float = 0.1
    """Final learning rate as a share of the peak (cosine decay)."""
    warmup_steps: int = 100
    """Linear warm-up steps."""
    weight_decay: float = 0.1
    """AdamW weight decay (matrices only)."""
    grad_clip: float = 1.0
    """Gradient norm clip."""
    log_every: int = 10
    """Steps between metric records."""
    checkpoint_every: int = 500
    """Steps between checkpoints (0: only the final model)."""
    probe_every: int = 100
    """Steps between records of the column-work probe (rlvr/world/probe.py: teacher-forced error by role
    on held-out 5-digit stepwise traces, ``probe/*`` metrics); 0: never."""
    probe_traces: int = 16
    """Held-out traces the probe scores."""
    ema: list[float] = field(default_factory=list)
    """Decays of exponential moving averages of the weights (e.g. ``[0.998]``), each kept from
    ``ema_start`` on and saved beside the final weights as ``model_ema<decay>/`` (same tokenizer and
    manifest), so one run yields the last weights and their averages to compare; empty: none."""
    ema_start: float = 0.5
    """Share of the steps after which the averages start (from a copy of the weights at that step)."""
    max_seconds: float = 0.0
    """Stop early after this many seconds of training (0: no limit); the model is saved either way."""
    wandb_project: str = ""
    """Weights & Biases project to mirror the metrics to (empty: none; needs ``pip install 'rlvr[wandb]'``)."""
    model: ModelConfig = field(default_factory=ModelConfig)
    """The architecture."""
    corpus: CorpusConfig = field(default_factory=CorpusConfig)
    """The corpus mixture."""

    def check(self) -> None:
        """Ranges of every field and the budgets that depend on each other (``config.validate``)."""
        require(bool(self.out), "out", "is empty", "name the run directory, e.g. out=runs/pretrain")
        require_number(self.threads, "threads", 1, fix="e.g. threads=1")
        require_wandb(self.wandb_project)
        require_number(self.seq_len, "seq_len", 2, fix="e.g. seq_len=768")
        require(self.seq_len <= self.model.max_positions, "seq_len",
                f"{self.seq_len} exceeds model.max_positions={self.model.max_positions}",
                f"set seq_len<={self.model.max_positions} or raise model.max_positions")
        require_number(self.batch_size, "batch_size", 1, fix="e.g. batch_size=8")
        require_number(self.tokens, "tokens", self.seq_len * self.batch_size,
                       fix=f"one step takes seq_len*batch_size={self.seq_len * self.batch_size} tokens; give at least that")
        require_number(self.curriculum, "curriculum", 0, 1, fix="a share of the tokens, e.g. 0.3 (0: none)")
        require_number(self.lr, "lr", 0, low_open=True, fix="a learning rate such as lr=3e-3")
        require_number(self.min_lr_ratio, "min_lr_ratio", 0, 1, fix="a share of the peak, e.g. 0.1")
        require_number(self.warmup_steps, "warmup_steps", 0, fix="e.g. warmup_steps=100")
        require_number(self.weight_decay, "weight_decay", 0, fix="e.g. weight_decay=0.1")
        require_number(self.grad_clip, "grad_clip", 0, low_open=True, fix="e.g. grad_clip=1.0")
        require_number(self.log_every, "log_every", 1, fix="e.g. log_every=10")
        require_number(self.checkpoint_every, "checkpoint_every", 0, fix="0 saves only the final model")
        require_number(self.probe_every, "probe_every", 0, fix="0 turns the probe off")
        require_number(self.probe_traces, "probe_traces", 1, fix="e.g. probe_traces=16")
        require_number(self.max_seconds, "max_seconds", 0, fix="0 means no limit")
        for d in self.ema:
            require(isinstance(d, (int, float)) and 0 < d < 1, "ema", f"{d!r} is not a decay in (0, 1)",
                    "e.g. ema=[0.998] (a window of about 1/(1-decay) steps)")
        require_number(self.ema_start, "ema_start", 0, 1, fix="a share of the steps, e.g. 0.5")
        require(not self.short_blocks or self.whole_documents, "short_blocks", "needs whole_documents=true",
                "set whole_documents=true, or short_blocks=[] to cut every block from the stream")
        for n in self.short_blocks:
            require(isinstance(n, int) and 2 <= n < self.seq_len, "short_blocks",
                    f"{n!r} is not a length between 2 and seq_len-1={self.seq_len - 1}", "e.g. short_blocks=[128,256]")


OPEN_BLOCKS = 8        # blocks kept open by whole-document packing
PACKING_SLACK = 0.05   # extra corpus generated for the padding of whole-document packing
CURRICULUM_DIGITS = (3, 7)   # digit caps of the curriculum's slices, first to last


def curriculum_cap(position: int, cfg: PretrainConfig) -> int | None:
    """The cap on arithmetic digits for corpus tokens starting at ``position`` (None: past the curriculum)."""
    span = cfg.curriculum * cfg.tokens
    if position >= span:
        return None
    lo, hi = CURRICULUM_DIGITS
    return lo + int(position / span * (hi - lo + 1))


def build_corpus(cfg: PretrainConfig, tokenizer, progress=None) -> tuple[np.ndarray, np.ndarray, int]:
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


def make_blocks(ids: np.ndarray, mask: np.ndarray, ordered: int, cfg: PretrainConfig, tokenizer) -> tuple[np.ndarray, np.ndarray, int]:
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


def block_sizes(cfg: PretrainConfig) -> list[int]:
    """Input lengths blocks may have, shortest first: ``short_blocks`` and ``seq_len``."""
    return sorted(cfg.short_blocks) + [cfg.seq_len]


def pack_lengths(ids: np.ndarray, mask: np.ndarray, cfg: PretrainConfig, tokenizer) -> tuple[np.ndarray, np.ndarray]:
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


def block_lengths(blocks: np.ndarray, cfg: PretrainConfig, pad_id: int) -> np.ndarray:
    """Input tokens of each block of ``make_blocks``: the shortest of ``short_blocks`` and ``seq_len``
    whose block (one token longer) holds the row's tokens up to its last that is not padding."""
    lengths = np.array(block_sizes(cfg))
    used = blocks.shape[1] - np.argmax((blocks != pad_id)[:, ::-1], axis=1)   # up to the last real token
    return lengths[np.searchsorted(lengths + 1, used)]


def plan_steps(order: np.ndarray, lengths: np.ndarray, cfg: PretrainConfig, total_steps: int) -> list[np.ndarray]:
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


def block_order(n_blocks: int, k: int, cfg: PretrainConfig, lengths: np.ndarray | None = None) -> np.ndarray:
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


def lr_at(step: int, cfg: PretrainConfig, total_steps: int) -> float:
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    t = (step - cfg.warmup_steps) / max(1, total_steps - cfg.warmup_steps)
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, t))))


def make_optimizer(model, cfg: PretrainConfig):
    """AdamW with weight decay on matrices only."""
    import torch

    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr, betas=(0.9, 0.95))


def doc_inputs(x, bos_id: int) -> dict:
    """Position ids and a 4D additive attention mask [B, 1, T, T] that keep each document of the blocks
    ``x`` [B, T] to itself: a document starts at a ``<bos>`` (the tokens before a block's first
    ``<bos>`` are the tail of a document cut at the block's start, one more document), its positions
    count from 0 there, and it attends causally to its own tokens only."""
    import torch

    T = x.shape[1]
    ar = torch.arange(T)
    start = torch.where(x == bos_id, ar, 0).cummax(dim=1).values              # [B, T] where each document starts
    seg = (x == bos_id).cumsum(dim=1)                                         # [B, T] document of each token
    allowed = (seg[:, :, None] == seg[:, None, :]) & torch.ones(T, T, dtype=torch.bool).tril()
    mask = torch.zeros(allowed.shape, dtype=torch.float32).masked_fill(~allowed, torch.finfo(torch.float32).min)
    return {"position_ids": ar - start, "attention_mask": mask[:, None]}


def step_loss(model, blocks, masks, rows: np.ndarray, lengths: np.ndarray, cfg: PretrainConfig, tokenizer):
    """Mean next-token loss over the trained targets of one step's blocks ``rows`` (each trimmed to its
    input length in ``lengths``; blocks of one length go through the model together), each target's loss
    counted as many times as its weight in ``masks`` (1 but for ``corpus.verdict_weight``), and the
    step's input tokens."""
    import torch
    import torch.nn.functional as F

    total, count = 0.0, 0
    for n in np.unique(lengths):
        these = torch.from_numpy(rows[lengths == n])
        block, bmask = blocks[these][:, :n + 1], masks[these][:, :n + 1]
        x, y = block[:, :-1], block[:, 1:].clone()                             # [B, n]
        w = bmask[:, 1:]
        y[w == 0] = -100
        logits = model(input_ids=x, **(doc_inputs(x, tokenizer.bos_token_id) if cfg.doc_attention else {})).logits
        ce = F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1), ignore_index=-100, reduction="none")
        # a weighted token (corpus.verdict_weight) counts that many times; the mean stays over trained tokens
        total = total + (ce * w.reshape(-1).to(ce.dtype)).sum()
        count += int((y != -100).sum())
    return total / max(count, 1), int(lengths.sum())


def pretrain(cfg: PretrainConfig, resume: bool = False, overwrite: bool = False, command: str | None = None) -> Path:
    import torch
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    validate(cfg)                                    # nothing is written before this passes
    out = prepare_run_dir(cfg.out, resume, overwrite)
    set_threads(cfg.threads)
    seed_everything(cfg.seed)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "config.yaml", to_yaml(cfg))
    t_start = time.time()

    tokenizer = build_tokenizer()
    ids, mask, ordered = build_corpus(cfg, tokenizer)
    blocks, block_masks, k_ordered = make_blocks(ids, mask, ordered, cfg, tokenizer)
    n_blocks = len(blocks)
    total_steps = max(1, cfg.tokens // (cfg.seq_len * cfg.batch_size))
    t_corpus = time.time() - t_start

    model = build_model(cfg.model, tokenizer)
    opt = make_optimizer(model, cfg)
    lengths = block_lengths(blocks, cfg, tokenizer.pad_token_id)
    order = block_order(n_blocks, k_ordered, cfg, lengths)
    plan = plan_steps(order, lengths, cfg, total_steps)
    step, train_seconds, bad_streak, metrics_bytes = 0, 0.0, 0, 0
    ema: dict[float, list] = {}                      # decay -> averaged copy of each parameter
    ema_from = int(cfg.ema_start * total_steps)
    ckpts = out / "checkpoints"
    last = checkpoint.latest(ckpts) if resume else None
    checkpoint.prune(ckpts, keep=KEEP_CHECKPOINTS, newest=int(last.name.split("-")[1]) if last else -1)
    if last is not None:
        from transformers import AutoModelForCausalLM

        model = AutoModelForCausalLM.from_pretrained(last)
        opt = make_optimizer(model, cfg)
        state = torch.load(last / "state.pt", weights_only=False)
        opt.load_state_dict(state["optimizer"])
        set_rng_state(state["rng"])
        step, train_seconds = state["step"], state["train_seconds"]
        bad_streak, metrics_bytes = state.get("bad_streak", 0), state.get("metrics_bytes")
        ema = state.get("ema", {})
    rewind_metrics(out / "metrics.jsonl", metrics_bytes, step)
    log = MetricsLog(out / "metrics.jsonl", out / "tb", purge_step=step + 1,
                     wandb_project=cfg.wandb_project, config=to_dict(cfg))
    n_params = sum(p.numel() for p in model.parameters())
    probe = probe_traces(tokenizer, cfg.probe_traces, borrow_first=cfg.corpus.borrow_first) if cfg.probe_every else []

    def save_checkpoint():
        if not all(bool(torch.isfinite(p).all()) for p in model.parameters()):
            raise TrainingDiverged(f"the weights hold NaN or Inf at step {step}; last good checkpoint: "
                                   f"{checkpoint.latest(ckpts)}")
        state = {"optimizer": opt.state_dict(), "rng": rng_state(), "step": step, "train_seconds": train_seconds,
                 "bad_streak": bad_streak, "metrics_bytes": log.sync(), "ema": ema}
        checkpoint.save(ckpts, step, model, tokenizer, state)
        checkpoint.prune(ckpts, keep=KEEP_CHECKPOINTS)

    model.train()
    forward = torch.compile(model, dynamic=False) if cfg.compile else model     # shares model's weights
    blocks_t = torch.from_numpy(blocks.astype(np.int64))
    masks_t = torch.from_numpy(block_masks.astype(np.uint8))                # loss weight per token, 0: out
    progress = Progress(TextColumn("pretrain"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                        TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                        disable=not sys.stderr.isatty())
    tokens_seen = int(lengths[np.concatenate(plan[:step])].sum()) if step else 0
    with progress:
        bar = progress.add_task("pretrain", total=total_steps, completed=step, info="")
        t_last, tokens_last, loss_acc, n_acc = time.time(), tokens_seen, 0.0, 0
        while step < total_steps:
            t0 = time.time()
            rows = plan[step]
            for g in opt.param_groups:
                g["lr"] = lr_at(step, cfg, total_steps)
            loss, n_inputs = step_loss(forward, blocks_t, masks_t, rows, lengths[rows], cfg, tokenizer)
            opt.zero_grad(set_to_none=True)
            bad = None if torch.isfinite(loss) else "non-finite loss"
            if bad is None:
                loss.backward()
                gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                bad = None if torch.isfinite(gnorm) else "non-finite gradient"
            if bad is None:
                opt.step()
                if cfg.ema and step + 1 >= ema_from:
                    update_ema(ema, cfg.ema, list(model.parameters()))
            opt.zero_grad(set_to_none=True)
            bad_streak = bad_streak + 1 if bad else 0
            step += 1
            tokens_seen += n_inputs
            train_seconds += time.time() - t0
            if bad:
                log.log(step, {"train/skipped": 1.0, "train/skip_cause": bad})
                print(f"step {step}: skipped ({bad}); {bad_streak} bad step(s) in a row", file=sys.stderr, flush=True)
                if bad_streak >= MAX_BAD_STEPS:
                    log.close()
                    raise TrainingDiverged(f"{bad_streak} consecutive steps with a NaN or Inf loss or gradient "
                                           f"(last: {bad} at step {step}); the run stopped; last good checkpoint: "
                                           f"{checkpoint.latest(ckpts)}")
                continue
            loss_acc, n_acc = loss_acc + loss.item(), n_acc + 1
            rec = {}
            if probe and (step % cfg.probe_every == 0 or step == total_steps):
                t_probe = time.time()
                rec = trace_errors(model, probe)
                t_last += time.time() - t_probe          # the probe's time is not training throughput
                if not sys.stderr.isatty():
                    print(f"step {step}/{total_steps} probe: {rec['probe/expected_errors']:.2f} expected errors per "
                          f"trace, operands {rec.get('probe/operands', 0):.4f}", flush=True)
            if step % cfg.log_every == 0 or step == total_steps:
                now = time.time()
                rec.update({"loss/train": loss_acc / n_acc, "train/lr": opt.param_groups[0]["lr"],
                            "train/grad_norm": float(gnorm), "train/tokens": tokens_seen,
                            "perf/tokens_per_s": (tokens_seen - tokens_last) / (now - t_last)})
                progress.update(bar, completed=step, info=f"loss {rec['loss/train']:.3f}")
                if not sys.stderr.isatty():
                    print(f"step {step}/{total_steps} loss {rec['loss/train']:.4f} "
                          f"{rec['perf/tokens_per_s']:.0f} tok/s", flush=True)
                t_last, tokens_last, loss_acc, n_acc = now, tokens_seen, 0.0, 0
            if rec:
                log.log(step, rec)
            if cfg.checkpoint_every and step % cfg.checkpoint_every == 0 and step < total_steps:
                save_checkpoint()
            if cfg.max_seconds and train_seconds >= cfg.max_seconds:
                break
    save_checkpoint()
    log.close()
    manifest = {
        "command": command or "rlvr pretrain", "config": to_dict(cfg), "steps": step,
        "total_steps": total_steps, "tokens_trained": tokens_seen, "parameters": n_params,
        "corpus_tokens": int(len(ids)), "corpus_seconds": round(t_corpus, 1),
        "train_seconds": round(train_seconds, 1), "wall_seconds": round(time.time() - t_start, 1),
        "environment": environment(),
    }
    final = save_model_dir(out / "model", model, tokenizer, files={"manifest.json": json.dumps(manifest, indent=2)})
    for d, avg in ema.items():              # each average saved as a model of its own (the model is done with)
        with torch.no_grad():
            torch._foreach_copy_(list(model.parameters()), avg)
        save_model_dir(out / f"model_ema{d}", model, tokenizer,
                       files={"manifest.json": json.dumps(manifest | {"ema": {"decay": d, "from_step": ema_from}},
                                                          indent=2)})
    return final


def update_ema(ema: dict, decays: list[float], params: list) -> None:
    """One step of each exponential moving average of ``params`` (``avg <- d avg + (1-d) p``); an
    average not yet begun starts as a copy of the weights."""
    import torch

    with torch.no_grad():
        for d in decays:
            if d not in ema:
                ema[d] = [p.detach().clone() for p in params]
            else:
                torch._foreach_lerp_(ema[d], params, 1 - d)
