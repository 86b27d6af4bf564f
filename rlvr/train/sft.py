"""SFT: completion-only next-token training on (prompt, completion) pairs (cold start, distillation).

Each step, read top to bottom:
  1. take the step's ``batch_size`` examples from a seeded shuffle of the data (a fresh shuffle each
     epoch; the examples of a step are a function of (seed, step) only);
  2. pack them into blocks of at most ``block_len`` tokens (first-fit decreasing), each example with
     its own position ids and a block-diagonal causal mask, so it sees only itself (``sft_data.py``);
  3. in microbatches of ``microbatch_size`` blocks: cross-entropy on the completion tokens (EOS
     included; prompts are masked), summed and divided by the step's completion tokens, so the loss
     and its gradient are the same packed or not and whatever the microbatch size;
  4. gradient clip, AdamW at the scheduled learning rate (linear warm-up, then constant or cosine to
     10% of the peak);
  5. log; evaluate on the validation split through the task's verifier (the same ``evaluate`` as GRPO:
     sampled and greedy accuracy, length, styles, readability); checkpoint.

Checkpoints, resume and NaN/Inf steps are the run harness's, as in GRPO (``train/harness.py``): a run
stopped and resumed gives the same metrics and weights as one never interrupted. The loss reads the
model's log-probs through the policy forward (``train/forward.py``), which never holds float32 logits
for a whole block over the vocabulary. The data file is read
and checked (fields, lengths against ``block_len`` and the model) before anything is written.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from ..config import ConfigError, require, require_choice, require_number, require_wandb, validate
from ..eval.scoring import validation_figures
from ..models import MISSING_MODEL_FIX, is_model, load_tokenizer, model_config_file, pick_device, resolve_model
from ..rollout import SamplingConfig
from ..tasks import TaskConfig, get_task
from .forward import chosen_logprobs, hidden_states
from .harness import Run, lr_factor
from .policy import LoadConfig, LoraConfig, load_model, precision, trainable
from .sft_data import IGNORE, collate, encode, load_pairs, pack


@dataclass
class SFTConfig:
    out: str = "runs/sft"
    """Run directory."""
    model: str = ""
    """Model to fine-tune: a Hugging Face model folder, a run directory (its final/ model), @NAME of a
    shipped model, or empty for the shipped base (``rlvr.models``)."""
    data: str = ""
    """Training pairs: a .jsonl or .parquet file, a folder written by datasets' save_to_disk, or a dataset name."""
    data_split: str = "train"
    """Split read from a datasets dataset."""
    prompt_field: str = "prompt"
    """Field holding the prompt (fed as the rollout engine feeds it; not trained on)."""
    completion_field: str = "completion"
    """Field holding the completion (trained on, followed by EOS)."""
    max_examples: int = 0
    """Use only the first N examples (0: all)."""
    load: LoadConfig = field(default_factory=LoadConfig)
    """Device, dtype and gradient checkpointing of the model (``train/policy.py``)."""
    lora: LoraConfig = field(default_factory=LoraConfig)
    """LoRA adapters (rank 0: off, every weight trains)."""
    seed: int = 0
    """Seed of the data order and of anything random."""
    threads: int = 1
    """Torch threads for this process."""
    steps: int = 100
    """Optimizer steps."""
    batch_size: int = 32
    """Examples per step (the data is reshuffled at every epoch)."""
    pack: bool = True
    """Pack short examples into blocks of block_len tokens (false: one example per row, padded)."""
    block_len: int = 1024
    """Tokens per packed block; no example may be longer (nor the block longer than the model's positions)."""
    microbatch_size: int = 8
    """Blocks (rows) per forward/backward; gradients accumulate over microbatches."""
    lr: float = 1e-4
    """Peak learning rate of AdamW."""
    lr_schedule: str = "cosine"
    """After warm-up: constant or cosine (to 10% of the peak)."""
    warmup_steps: int = 5
    """Linear warm-up steps."""
    weight_decay: float = 0.0
    """AdamW weight decay."""
    grad_clip: float = 1.0
    """Gradient norm clip."""
    task: TaskConfig = field(default_factory=TaskConfig)
    """The task whose verifier scores the evaluations."""
    sampling: SamplingConfig = field(default_factory=lambda: SamplingConfig(max_new_tokens=400))
    """Sampling settings of the evaluations."""
    eval_every: int = 20
    """Steps between validation evaluations (0: never); the last step is evaluated too."""
    eval_problems: int = 200
    """Validation problems per evaluation."""
    eval_greedy: bool = True
    """Also evaluate greedy decoding (eval/accuracy_greedy)."""
    checkpoint_every: int = 20
    """Steps between checkpoints (0: only at the end); evaluated steps are checkpointed too."""
    keep_checkpoints: int = 2
    """Newest checkpoints kept in checkpoints/ (the best by validation accuracy is kept as well)."""
    max_bad_steps: int = 3
    """Consecutive steps with a NaN or Inf loss or gradient (each one skipped) that stop the run."""
    wandb_project: str = ""
    """Weights & Biases project to mirror the metrics to (empty: none; needs ``pip install 'rlvr[wandb]'``)."""

    def check(self) -> None:
        """Ranges and choices of every field (``config.validate``); the data is read by ``check_run``."""
        require(bool(self.out), "out", "is empty", "name the run directory, e.g. out=runs/sft")
        require(is_model(self.model), "model", f"{self.model} is not a model folder, a run with a model, or a hub id "
                "in the local cache", MISSING_MODEL_FIX)
        require(bool(self.data), "data", "is empty", "give the training pairs, e.g. data=runs/sample/data.jsonl")
        require(bool(self.prompt_field), "prompt_field", "is empty", "e.g. prompt_field=prompt")
        require(bool(self.completion_field), "completion_field", "is empty", "e.g. completion_field=completion")
        require_number(self.max_examples, "max_examples", 0, fix="0 uses every example")
        require_number(self.threads, "threads", 1, fix="e.g. threads=1")
        require_wandb(self.wandb_project)
        require_number(self.steps, "steps", 1, fix="e.g. steps=100")
        require_number(self.batch_size, "batch_size", 1, fix="e.g. batch_size=32")
        require_number(self.block_len, "block_len", 2, fix="e.g. block_len=1024")
        require_number(self.microbatch_size, "microbatch_size", 1, fix="e.g. microbatch_size=8")
        require_number(self.lr, "lr", 0, low_open=True, fix="a learning rate such as lr=1e-4")
        require_choice(self.lr_schedule, ("constant", "cosine"), "lr_schedule")
        require_number(self.warmup_steps, "warmup_steps", 0, fix="e.g. warmup_steps=5")
        require_number(self.weight_decay, "weight_decay", 0, fix="e.g. weight_decay=0.0")
        require_number(self.grad_clip, "grad_clip", 0, low_open=True, fix="e.g. grad_clip=1.0")
        require_number(self.eval_every, "eval_every", 0, fix="0 never evaluates")
        if self.eval_every:
            require_number(self.eval_problems, "eval_problems", 1, fix="e.g. eval_problems=200, or eval_every=0")
        require_number(self.checkpoint_every, "checkpoint_every", 0, fix="0 checkpoints only at the end")
        require_number(self.keep_checkpoints, "keep_checkpoints", 1, fix="e.g. keep_checkpoints=2")
        require_number(self.max_bad_steps, "max_bad_steps", 1, fix="e.g. max_bad_steps=3")


# ------------------------------------------------------------------------------ pieces
def step_examples(n: int, batch_size: int, seed: int, step: int) -> list[int]:
    """Indices of the examples of ``step``: consecutive slices of one seeded permutation of the n
    examples per epoch (a batch that crosses an epoch's end continues into the next one's)."""
    start = step * batch_size
    out = []
    for k in range(start, start + batch_size):
        epoch, at = divmod(k, n)
        out.append(int(_permutation(n, seed, epoch)[at]))
    return out


@lru_cache(maxsize=8)
def _permutation(n: int, seed: int, epoch: int) -> np.ndarray:
    return np.random.default_rng([seed, epoch]).permutation(n)


def sft_loss(model, batch: dict, n_targets: int) -> torch.Tensor:
    """Summed next-token cross-entropy over the batch's completion tokens, divided by ``n_targets``
    (the step's completion tokens: the same normaliser for every microbatch)."""
    h = hidden_states(model, batch["input_ids"], batch["attention_mask"], batch["position_ids"])   # [R, L, H]
    trained = batch["labels"] != IGNORE                                                       # [R, L]
    logp, _ = chosen_logprobs(model, h[trained][None], batch["labels"][trained][None], entropy=False)   # [1, N]
    return -logp.sum() / max(1, n_targets)


def update(model, opt, examples, idx: list[int], cfg: SFTConfig, pad_id: int) -> tuple[dict, float, str | None]:
    """One optimizer step on examples ``idx``: pack, microbatched loss and backward, clip, AdamW.

    Returns (metrics, gradient norm, cause): ``cause`` is None for a good step, else why it was skipped
    (the gradients are dropped and the optimizer does not step)."""
    chosen = [examples[i] for i in idx]
    lengths = [len(e.ids) for e in chosen]
    blocks = pack(lengths, cfg.block_len) if cfg.pack else [[i] for i in range(len(chosen))]
    n_targets = sum(len(e.ids) - e.n_prompt for e in chosen)
    dtype, dev = next(model.parameters()).dtype, next(model.parameters()).device
    model.train()
    opt.zero_grad(set_to_none=True)
    total, padded = 0.0, 0
    for s in range(0, len(blocks), cfg.microbatch_size):
        batch = {k: v.to(dev) for k, v in collate(chosen, blocks[s:s + cfg.microbatch_size], pad_id, dtype).items()}
        padded += batch["input_ids"].numel()
        loss = sft_loss(model, batch, n_targets)
        if not torch.isfinite(loss):
            opt.zero_grad(set_to_none=True)
            return {}, float("nan"), "non-finite loss"
        loss.backward()
        total += float(loss.detach())
    gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
    if not torch.isfinite(gnorm):
        opt.zero_grad(set_to_none=True)
        return {"loss/train": total}, float(gnorm), "non-finite gradient"
    opt.step()
    return {"loss/train": total, "train/completion_tokens": n_targets, "train/rows": len(blocks),
            "train/pack_fill": sum(lengths) / max(1, padded)}, float(gnorm), None


def check_run(cfg: SFTConfig) -> tuple[list, object]:
    """Everything that can be known wrong before a run starts, besides ``validate``: the data (read and
    tokenized), example lengths against ``block_len`` and ``block_len`` against the model's positions,
    and enough validation problems. Returns the tokenized examples and the tokenizer."""
    validate(cfg)
    pairs = load_pairs(cfg.data, cfg.data_split, cfg.prompt_field, cfg.completion_field, cfg.max_examples)
    path = resolve_model(cfg.model).path
    tokenizer = load_tokenizer(path)
    if tokenizer.eos_token_id is None:
        raise ConfigError("model", f"the tokenizer of {path} has no EOS token",
                          "give a model whose tokenizer sets eos_token")
    examples = [encode(tokenizer, p, c) for p, c in pairs]
    empty = next((i for i, e in enumerate(examples) if e.n_prompt == 0), None)
    require(empty is None, "data", f"example {empty} has a prompt of no tokens", "give every example a prompt")
    longest = max(len(e.ids) for e in examples)
    require(longest <= cfg.block_len, "block_len",
            f"the longest example has {longest} tokens, more than block_len={cfg.block_len}",
            f"set block_len={longest} or more, or drop long examples")
    positions = json.loads(model_config_file(cfg.model).read_text()).get("max_position_embeddings")
    if positions:
        require(cfg.block_len <= positions, "block_len",
                f"block_len={cfg.block_len} exceeds the model's {positions} positions", f"set block_len={positions} or less")
    if cfg.eval_every:
        task = get_task(cfg.task.name, **cfg.task.kwargs)
        try:
            task.problems("validation", cfg.eval_problems, seed=cfg.seed)
        except ValueError as e:
            raise ConfigError("eval_problems", str(e), "ask for fewer, or set eval_every=0") from None
    return examples, tokenizer


# ------------------------------------------------------------------------------ the loop
def train_sft(cfg: SFTConfig, resume: bool = False, overwrite: bool = False, on_step=None) -> Path:
    """Run SFT as configured; returns the folder of the final model (``out/final``).

    ``resume`` continues the run in ``cfg.out`` from its newest valid checkpoint; ``overwrite`` replaces
    whatever ``cfg.out`` holds; without either an existing run is an error."""
    examples, tokenizer = check_run(cfg)             # nothing is written before this passes
    run = Run(cfg, "sft", resume, overwrite)
    task = get_task(cfg.task.name, **cfg.task.kwargs)
    model = load_model(resolve_model(cfg.model).path, cfg.load, cfg.lora, resume_from=run.last)
    pad_id = tokenizer.pad_token_id
    opt = torch.optim.AdamW(trainable(model), lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(0.9, 0.99))
    run.restore(model, tokenizer, opt)
    val = task.problems("validation", cfg.eval_problems, seed=cfg.seed) if cfg.eval_every else []
    with run.progress(cfg.steps) as bar, precision(cfg.load, pick_device(cfg.load.device)):
        while run.step < cfg.steps:
            t0 = time.time()
            # 1-4. the step's examples, packed, microbatched loss, clip, AdamW
            lr = cfg.lr * lr_factor(run.step, cfg)
            for g in opt.param_groups:
                g["lr"] = lr
            idx = step_examples(len(examples), cfg.batch_size, cfg.seed, run.step)
            stats, gnorm, bad = update(model, opt, examples, idx, cfg, pad_id)
            run.step += 1
            # 5. metrics, evaluation, checkpoints
            dt = time.time() - t0
            rec = {**stats, "loss/grad_norm": gnorm, "train/lr": lr,
                   "train/epoch": run.step * cfg.batch_size / len(examples), "train/skipped": float(bad is not None),
                   **({"train/skip_cause": bad} if bad else {}), "perf/step_s": dt,
                   "perf/tokens_per_s": sum(len(examples[i].ids) for i in idx) / max(dt, 1e-9)}
            evaluated = run.due(cfg.eval_every, cfg.steps)
            if evaluated:
                rec.update(validation_figures(model, tokenizer, task, val, cfg.sampling, greedy=cfg.eval_greedy))
            run.log(rec)
            run.guard(bad)
            if not bad and (run.due(cfg.checkpoint_every, cfg.steps) or evaluated or run.step == cfg.steps):
                run.save(rec)
            info = f"loss {rec.get('loss/train', math.nan):.3f}" + (
                f" val acc {rec['eval/accuracy']:.2f}" if evaluated else "")
            bar.show(run.step, info, f"sft step {run.step}/{cfg.steps} {info} {dt:.1f}s")
            if on_step is not None:
                on_step(run.step, rec)
    return run.finish(examples=len(examples))
