"""Pretraining of the world's tiny base model on the synthetic corpus.

Plain next-token prediction on packed ``<bos> prompt completion <eos>`` documents: blocks of
``seq_len`` tokens cut from one long stream (or, with ``whole_documents``, whole documents packed into
blocks, with ``short_blocks`` into blocks of several lengths by document length), AdamW, linear warm-up
then cosine decay. The only departure from ordinary LM pretraining: characters of deliberate slips in
check traces are left out of the loss (see ``world/arithmetic_traces.py``), so the model learns to repair
slips without learning to make them.

The corpus is generated up front from the config's seed, so a resumed run sees the same data.
Output: a Hugging Face model folder (``save_pretrained`` weights and tokenizer) plus ``manifest.json``.
Checkpoints, resume and NaN/Inf steps are the run harness's, as in GRPO (``train/harness.py``); the
data pipeline is ``world/pretrain_data.py``.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import torch
import torch.nn.functional as F
from transformers import AutoModelForCausalLM

from ..config import require, require_number, require_wandb, to_dict, validate
from ..train.harness import Run
from ..utils import environment, save_model_dir
from .corpus import CorpusConfig
from .model import ModelConfig, build_model
from .pretrain_data import block_lengths, block_order, build_corpus, make_blocks, plan_steps  # noqa: F401
from .probe import probe_traces, trace_errors
from .tokenizer import build_tokenizer




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


def lr_at(step: int, cfg: PretrainConfig, total_steps: int) -> float:
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    t = (step - cfg.warmup_steps) / max(1, total_steps - cfg.warmup_steps)
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, t))))


def make_optimizer(model, cfg: PretrainConfig):
    """AdamW with weight decay on matrices only."""
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr, betas=(0.9, 0.95))


def doc_inputs(x, bos_id: int) -> dict:
    """Position ids and a 4D additive attention mask [B, 1, T, T] that keep each document of the blocks
    ``x`` [B, T] to itself: a document starts at a ``<bos>`` (the tokens before a block's first
    ``<bos>`` are the tail of a document cut at the block's start, one more document), its positions
    count from 0 there, and it attends causally to its own tokens only."""
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


def _train_step(model, forward, opt, blocks_t, masks_t, rows, lengths, cfg: PretrainConfig, tokenizer, ema: dict,
                ema_on: bool):
    """One optimizer step on blocks ``rows``: (loss, input tokens, gradient norm, cause of a skip or None)."""
    loss, n_inputs = step_loss(forward, blocks_t, masks_t, rows, lengths[rows], cfg, tokenizer)
    opt.zero_grad(set_to_none=True)
    gnorm = torch.tensor(float("nan"))
    bad = None if torch.isfinite(loss) else "non-finite loss"
    if bad is None:
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        bad = None if torch.isfinite(gnorm) else "non-finite gradient"
    if bad is None:
        opt.step()
        if ema_on:
            update_ema(ema, cfg.ema, list(model.parameters()))
    opt.zero_grad(set_to_none=True)
    return loss, n_inputs, gnorm, bad


def _save_models(out: Path, model, tokenizer, manifest: dict, ema: dict, ema_from: int) -> Path:
    """The final model (``out/model``) and each moving average as a model of its own (``out/model_emaD``)."""
    final = save_model_dir(out / "model", model, tokenizer, files={"manifest.json": json.dumps(manifest, indent=2)})
    for d, avg in ema.items():              # the model is done with: its weights become each average in turn
        with torch.no_grad():
            torch._foreach_copy_(list(model.parameters()), avg)
        save_model_dir(out / f"model_ema{d}", model, tokenizer,
                       files={"manifest.json": json.dumps(manifest | {"ema": {"decay": d, "from_step": ema_from}},
                                                          indent=2)})
    return final


@dataclass
class _Window:
    """The steps since the last metric record: when it began (probe time left out), the tokens seen then,
    and the summed loss of its good steps."""
    t: float
    tokens: int
    loss: float = 0.0
    steps: int = 0


def _restore(run: Run, cfg: PretrainConfig, model, opt, tokenizer):
    """The model and optimizer to train (a resumed run's from its last checkpoint), the moving averages
    (decay -> averaged copy of each parameter) and the training seconds so far, both saved with each
    checkpoint."""
    ema: dict[float, list] = {}
    if run.last is not None:
        model = AutoModelForCausalLM.from_pretrained(run.last)
        opt = make_optimizer(model, cfg)
    totals = {"train_seconds": 0.0}
    run.extra_state = lambda: {"train_seconds": totals["train_seconds"], "ema": ema}
    state = run.restore(model, tokenizer, opt)
    totals["train_seconds"] = state.get("train_seconds", 0.0)
    ema.update(state.get("ema", {}))
    return model, opt, ema, totals


def _record(run: Run, bar, cfg: PretrainConfig, model, opt, probe: list, gnorm, tokens_seen: int, total_steps: int,
            window: _Window) -> None:
    """The metric record of a good step, when one is due: the probe's errors every ``probe_every`` steps,
    the loss, learning rate, gradient norm and throughput of the window every ``log_every`` (then a new
    window begins)."""
    rec = {}
    if probe and run.due(cfg.probe_every, total_steps):
        t_probe = time.time()
        rec = trace_errors(model, probe)
        window.t += time.time() - t_probe                # the probe's time is not training throughput
        bar.show(run.step, "probe", f"step {run.step}/{total_steps} probe: {rec['probe/expected_errors']:.2f} "
                 f"expected errors per trace, operands {rec.get('probe/operands', 0):.4f}")
    if run.due(cfg.log_every, total_steps):
        now = time.time()
        rec.update({"loss/train": window.loss / window.steps, "train/lr": opt.param_groups[0]["lr"],
                    "train/grad_norm": float(gnorm), "train/tokens": tokens_seen,
                    "perf/tokens_per_s": (tokens_seen - window.tokens) / (now - window.t)})
        bar.show(run.step, f"loss {rec['loss/train']:.3f}", f"step {run.step}/{total_steps} loss "
                 f"{rec['loss/train']:.4f} {rec['perf/tokens_per_s']:.0f} tok/s")
        window.t, window.tokens, window.loss, window.steps = now, tokens_seen, 0.0, 0
    if rec:
        run.log(rec)


def pretrain(cfg: PretrainConfig, resume: bool = False, overwrite: bool = False, command: str | None = None) -> Path:
    """Pretrain the world's base as configured; returns the final model folder (``out/model``)."""
    validate(cfg)                                    # nothing is written before this passes
    run = Run(cfg, "pretrain", resume, overwrite)
    t_start = time.time()
    tokenizer = build_tokenizer()
    ids, mask, ordered = build_corpus(cfg, tokenizer)
    blocks, block_masks, k_ordered = make_blocks(ids, mask, ordered, cfg, tokenizer)
    total_steps = max(1, cfg.tokens // (cfg.seq_len * cfg.batch_size))
    t_corpus = time.time() - t_start
    model = build_model(cfg.model, tokenizer)
    opt = make_optimizer(model, cfg)
    lengths = block_lengths(blocks, cfg, tokenizer.pad_token_id)
    plan = plan_steps(block_order(len(blocks), k_ordered, cfg, lengths), lengths, cfg, total_steps)
    ema_from = int(cfg.ema_start * total_steps)
    model, opt, ema, totals = _restore(run, cfg, model, opt, tokenizer)
    n_params = sum(p.numel() for p in model.parameters())
    probe = probe_traces(tokenizer, cfg.probe_traces, borrow_first=cfg.corpus.borrow_first) if cfg.probe_every else []
    model.train()
    forward = torch.compile(model, dynamic=False) if cfg.compile else model     # shares model's weights
    blocks_t = torch.from_numpy(blocks.astype(np.int64))
    masks_t = torch.from_numpy(block_masks.astype(np.uint8))                # loss weight per token, 0: out
    tokens_seen = int(lengths[np.concatenate(plan[:run.step])].sum()) if run.step else 0
    with run.progress(total_steps) as bar:
        window = _Window(time.time(), tokens_seen)
        while run.step < total_steps:
            t0 = time.time()
            for g in opt.param_groups:
                g["lr"] = lr_at(run.step, cfg, total_steps)
            loss, n_inputs, gnorm, bad = _train_step(model, forward, opt, blocks_t, masks_t, plan[run.step], lengths,
                                                     cfg, tokenizer, ema, bool(cfg.ema) and run.step + 1 >= ema_from)
            run.step += 1
            tokens_seen += n_inputs
            totals["train_seconds"] += time.time() - t0
            if bad:
                run.log({"train/skipped": 1.0, "train/skip_cause": bad})
                run.guard(bad)
                continue
            run.guard(None)
            window.loss, window.steps = window.loss + loss.item(), window.steps + 1
            _record(run, bar, cfg, model, opt, probe, gnorm, tokens_seen, total_steps, window)
            if cfg.checkpoint_every and run.step % cfg.checkpoint_every == 0 and run.step < total_steps:
                run.save()
            if cfg.max_seconds and totals["train_seconds"] >= cfg.max_seconds:
                break
        run.save()
    manifest = {
        "command": command or "rlvr pretrain", "config": to_dict(cfg), "steps": run.step,
        "total_steps": total_steps, "tokens_trained": tokens_seen, "parameters": n_params,
        "corpus_tokens": int(len(ids)), "corpus_seconds": round(t_corpus, 1),
        "train_seconds": round(totals["train_seconds"], 1), "wall_seconds": round(time.time() - t_start, 1),
        "environment": environment(),
    }
    return _save_models(run.out, model, tokenizer, manifest, ema, ema_from)


def update_ema(ema: dict, decays: list[float], params: list) -> None:
    """One step of each exponential moving average of ``params`` (``avg <- d avg + (1-d) p``); an
    average not yet begun starts as a copy of the weights."""
    with torch.no_grad():
        for d in decays:
            if d not in ema:
                ema[d] = [p.detach().clone() for p in params]
            else:
                torch._foreach_lerp_(ema[d], params, 1 - d)
