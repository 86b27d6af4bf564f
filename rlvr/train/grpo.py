"""GRPO: reinforcement learning against a verifier, straight from a base model (R1-Zero).

Each step, read top to bottom:
  1. draw ``prompts_per_step`` training problems (by difficulty, when the curriculum is on);
  2. sample ``group_size`` completions for each with the rollout engine (the policy at temperature T);
  3. score every completion with the task's verifier and the weighted reward functions (and DAPO's
     overlong penalty); with dynamic sampling, draw again until the groups with reward spread fill the
     batch (``train/batch.py``);
  4. advantages per group: A_i = (r_i - mean(r)) / (std(r) + eps) (or another estimator of the registry;
     ``train/advantage_inputs.py`` adds what it needs: a greedy baseline, a critic's values, KL in reward);
  5. ``num_iterations`` passes over the rollouts in microbatches: the PPO-clipped surrogate per token
     with the ratio to the sampling policy, plus beta * KL(policy || reference) (k3 estimator),
     aggregated over tokens; gradient accumulation, clipping, AdamW;
  6. log, sample, evaluate on the validation split, checkpoint.

Crash-proof: the config is validated before anything is written; checkpoints are atomic folders with a
manifest written last (``rlvr.checkpoint``), the newest ``keep_checkpoints`` and the best by validation
accuracy are kept; resume restores weights, optimizer, RNG states, step and the metrics file's position,
so a run killed at any moment and resumed gives the same metrics and weights as one never interrupted
(bit for bit on a CPU). Problems and sampling seeds are functions of (seed, step): the sampler has no
other state. A step whose loss or gradient is NaN or Inf is skipped and logged with its cause
(``train/skipped``, ``train/skip_cause``); after ``max_bad_steps`` in a row the run stops with
``TrainingDiverged``, the last good checkpoint untouched. Verification runs in worker processes with a
hard time limit per completion (``verify_workers``, ``verify_timeout_s``).

Departures from the DeepSeek-R1 / DeepSeekMath equations:
  - aggregation defaults to ``token-mean`` over all completion tokens of the batch (DAPO), not the
    per-sequence mean of the paper (``seq-mean-token-mean``, one config value away);
  - beta defaults to 0 (no reference model), as DAPO and Dr. GRPO argue for verifiable rewards; the
    k3 term is added to the loss when beta > 0, as in the paper;
  - the old policy's log-probs are the rollout engine's own (same weights, inference mode), so with
    ``num_iterations = 1`` the ratio is 1 up to float error and the clip never binds;
  - the completion's EOS token is trained like any other token.
"""
from __future__ import annotations

import inspect
import json
import math
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from .. import checkpoint
from ..algorithms.advantages import AdvantageConfig, compute_advantages, zero_variance_groups
from ..algorithms.competence import Curriculum
from ..algorithms.losses import LossConfig, entropy_bonus, microbatch_weight, policy_loss
from ..config import ConfigError, require, require_choice, require_number, require_wandb, suggest, to_dict, to_yaml, \
    validate
from ..eval.behaviour import behaviour
from ..eval.scoring import by_difficulty, sample_once
from ..rewards import REWARDS
from ..rollout import SamplingConfig
from ..tasks import get_task, task_names
from ..utils import MetricsLog, TrainingDiverged, atomic_write_text, environment, prepare_run_dir, rewind_metrics, \
    rng_state, save_model_dir, seed_everything, set_rng_state, set_threads
from .advantage_inputs import AdvantageInputs, CriticConfig
from .batch import CompetenceConfig, loss_row_keep, sample_step


@dataclass
class TaskConfig:
    name: str = "arithmetic"
    """Task registry name."""
    kwargs: dict = field(default_factory=lambda: {"ops": "+-", "min_digits": 4, "max_digits": 6})
    """Arguments of the task (for arithmetic: ops, min_digits, max_digits)."""

    def check(self) -> None:
        """The task exists and takes these arguments (it is built once to check them)."""
        require_choice(self.name, task_names(), "name")
        from ..tasks import _registry

        params = inspect.signature(_registry()[self.name].__init__).parameters
        for k in self.kwargs:
            require(k in params and k != "self", f"kwargs.{k}", f"the {self.name} task takes no argument {k!r}",
                    suggest(str(k), [p for p in params if p != "self"], "arguments"))
        try:
            get_task(self.name, **self.kwargs)
        except (ValueError, TypeError) as e:
            raise ConfigError("kwargs", str(e), f"fix task.kwargs for the {self.name} task") from None


@dataclass
class GRPOConfig:
    out: str = "runs/grpo"
    """Run directory."""
    model: str = ""
    """Policy to start from: a Hugging Face model folder (empty: the shipped base)."""
    seed: int = 0
    """Seed of problem draws, sampling and initialisation of anything random."""
    threads: int = 1
    """Torch threads for this process."""
    task: TaskConfig = field(default_factory=TaskConfig)
    """The task trained on."""
    steps: int = 40
    """Optimizer steps (one batch of rollouts each, times num_iterations)."""
    prompts_per_step: int = 16
    """Problems per step."""
    group_size: int = 8
    """Completions per problem (K)."""
    sampling: SamplingConfig = field(default_factory=lambda: SamplingConfig(max_new_tokens=400))
    """Rollout sampling settings (temperature, top_p, top_k, max_new_tokens, ...)."""
    lr: float = 1e-4
    """Peak learning rate of AdamW. Adam moves every weight by about lr per step whatever the gradient's
    size: 1e-3 wrecked the shipped base within two steps, 1e-4 climbs steadily."""
    lr_schedule: str = "constant"
    """After warm-up: constant or cosine (to 10% of the peak)."""
    warmup_steps: int = 2
    """Linear warm-up steps."""
    weight_decay: float = 0.0
    """AdamW weight decay."""
    grad_clip: float = 1.0
    """Gradient norm clip."""
    num_iterations: int = 1
    """Optimizer updates per batch of rollouts (mu in the GRPO paper)."""
    microbatch_size: int = 32
    """Sequences per forward/backward; gradients accumulate over microbatches."""
    advantage: AdvantageConfig = field(default_factory=AdvantageConfig)
    """Advantage estimator."""
    loss: LossConfig = field(default_factory=LossConfig)
    """Policy loss, clip ranges, KL and aggregation."""
    competence: CompetenceConfig = field(default_factory=CompetenceConfig)
    """Edge of competence: dynamic sampling, curriculum, overlong masking and penalty."""
    critic: CriticConfig = field(default_factory=CriticConfig)
    """The critic of ppo_gae (unused by the other estimators)."""
    rewards: dict = field(default_factory=lambda: {"accuracy": 1.0})
    """Reward functions and their weights (accuracy, format, partial, consistency)."""
    eval_every: int = 10
    """Steps between validation evaluations (0: never)."""
    eval_problems: int = 200
    """Validation problems per evaluation."""
    sample_every: int = 5
    """Steps between writes of rollouts to samples/step-N.jsonl (0: never)."""
    samples_kept: int = 16
    """Rollouts written per sample file."""
    checkpoint_every: int = 10
    """Steps between checkpoints (0: only at the end); evaluated steps are checkpointed too."""
    keep_checkpoints: int = 2
    """Newest checkpoints kept in checkpoints/ (the best by validation accuracy is kept as well)."""
    max_bad_steps: int = 3
    """Consecutive steps with a NaN or Inf loss or gradient (each one skipped) that stop the run."""
    verify_workers: int = 1
    """Worker processes that run the verifier (0: in this process, without a time limit)."""
    verify_timeout_s: float = 30.0
    """Hard limit of one verification in a worker; past it the completion is wrong and the worker replaced."""
    wandb_project: str = ""
    """Weights & Biases project to mirror the metrics to (empty: none; needs ``pip install 'rlvr[wandb]'``)."""

    def check(self) -> None:
        """Ranges, choices and paths of every field (``config.validate``); nothing is loaded or written."""
        require(bool(self.out), "out", "is empty", "name the run directory, e.g. out=runs/grpo")
        if self.model:
            require((Path(self.model) / "config.json").is_file(), "model",
                    f"{self.model} is not a Hugging Face model folder (no config.json there)",
                    "point model= at a folder written by save_pretrained, or leave it empty for the shipped base")
        require_number(self.threads, "threads", 1, fix="e.g. threads=1")
        require_wandb(self.wandb_project)
        require_number(self.steps, "steps", 1, fix="e.g. steps=40")
        require_number(self.prompts_per_step, "prompts_per_step", 1, fix="e.g. prompts_per_step=16")
        require_number(self.group_size, "group_size", 2,
                       fix="GRPO compares completions within a group: set group_size (K) to 2 or more, e.g. 8")
        require_number(self.lr, "lr", 0, low_open=True, fix="a learning rate such as lr=1e-4")
        require_choice(self.lr_schedule, ("constant", "cosine"), "lr_schedule")
        require_number(self.warmup_steps, "warmup_steps", 0, fix="e.g. warmup_steps=2")
        require_number(self.weight_decay, "weight_decay", 0, fix="e.g. weight_decay=0.0")
        require_number(self.grad_clip, "grad_clip", 0, low_open=True, fix="e.g. grad_clip=1.0")
        require_number(self.num_iterations, "num_iterations", 1, fix="e.g. num_iterations=1")
        require_number(self.microbatch_size, "microbatch_size", 1, fix="e.g. microbatch_size=32")
        require(bool(self.rewards), "rewards", "no reward function", "e.g. rewards={accuracy: 1.0}")
        for name, weight in self.rewards.items():
            require_choice(name, REWARDS, f"rewards.{name}")
            require_number(weight, f"rewards.{name}", fix="a weight such as 1.0")
        require_number(self.eval_every, "eval_every", 0, fix="0 never evaluates")
        if self.eval_every:
            require_number(self.eval_problems, "eval_problems", 1, fix="e.g. eval_problems=200, or eval_every=0")
        require_number(self.sample_every, "sample_every", 0, fix="0 writes no samples")
        require_number(self.samples_kept, "samples_kept", 0, fix="e.g. samples_kept=16")
        require_number(self.checkpoint_every, "checkpoint_every", 0, fix="0 checkpoints only at the end")
        require_number(self.keep_checkpoints, "keep_checkpoints", 1, fix="e.g. keep_checkpoints=2")
        require_number(self.max_bad_steps, "max_bad_steps", 1, fix="e.g. max_bad_steps=3")
        require_number(self.verify_workers, "verify_workers", 0, fix="0 verifies in this process")
        require_number(self.verify_timeout_s, "verify_timeout_s", 0, low_open=True, fix="e.g. verify_timeout_s=30")
        cur = self.competence.curriculum
        require_choice(cur.mode, ("band", "spread"), "competence.curriculum.mode")
        require_number(cur.explore, "competence.curriculum.explore", 0, 1, fix="a share, e.g. 0.1")


# ------------------------------------------------------------------------------ pieces
def completion_logprobs(model, prompt_ids: list[list[int]], completion_ids: list[list[int]], pad_id: int):
    """Per-token log-probs and entropies of the completions under ``model``.

    Returns logp [B, Tc], entropy [B, Tc], mask [B, Tc] (1 on completion tokens), aligned so that column
    t is the t-th completion token of each row. Rows are right-padded, so positions start at 0 as in
    sampling (where prompts were left-padded with matching position ids).
    """
    B = len(prompt_ids)
    lens = [len(p) + len(c) for p, c in zip(prompt_ids, completion_ids)]
    L = max(lens)
    Tc = max(1, max(len(c) for c in completion_ids))
    ids = torch.full((B, L), pad_id, dtype=torch.long)                         # [B, L]
    attn = torch.zeros((B, L), dtype=torch.long)                               # [B, L]
    for i, (p, c) in enumerate(zip(prompt_ids, completion_ids)):
        ids[i, :lens[i]] = torch.tensor(p + c, dtype=torch.long)
        attn[i, :lens[i]] = 1
    logits = model(input_ids=ids, attention_mask=attn).logits.float()          # [B, L, V]
    starts = torch.tensor([len(p) - 1 for p in prompt_ids])                    # logit predicting token 0
    idx = (starts[:, None] + torch.arange(Tc)[None, :]).clamp(max=L - 1)       # [B, Tc]
    sel = logits.gather(1, idx[:, :, None].expand(-1, -1, logits.size(-1)))    # [B, Tc, V]
    logp_all = sel.log_softmax(-1)
    targets = torch.full((B, Tc), pad_id, dtype=torch.long)
    mask = torch.zeros((B, Tc))
    for i, c in enumerate(completion_ids):
        targets[i, :len(c)] = torch.tensor(c, dtype=torch.long)
        mask[i, :len(c)] = 1
    logp = logp_all.gather(-1, targets[:, :, None]).squeeze(-1)                # [B, Tc]
    entropy = -(logp_all.exp() * logp_all).sum(-1)                             # [B, Tc]
    return logp, entropy, mask


def update_rows(adv: torch.Tensor, lengths: list[int], needs_all: bool, keep: torch.Tensor | None = None) -> list[int]:
    """The rollouts an update pass must run through the model, shortest first.

    With no KL term and no entropy bonus, a rollout whose advantage is 0 (every member of a group with
    no reward spread; ``adv`` may be [B] or per token [B, T]) adds exactly nothing to the loss or its
    gradient, so it is skipped; so is a rollout left out of the loss (``keep`` 0, DAPO overlong
    filtering). The loss is still normalised over the whole batch (``microbatch_weight`` uses every
    rollout's mask), so the update is the same as a pass over all rollouts. Sorting by length makes
    microbatches pad little. Loss metrics (clip fraction, entropy) are then averages over those rows."""
    nonzero = adv.reshape(len(lengths), -1).abs().sum(-1) != 0                 # [B]
    rows = [i for i in range(len(lengths)) if (needs_all or bool(nonzero[i]))
            and (keep is None or float(keep[i]) != 0.0)]
    return sorted(rows, key=lambda i: (lengths[i], i))


def pad_rows(rows: list[list[float]], width: int) -> torch.Tensor:
    out = torch.zeros((len(rows), width))
    for i, r in enumerate(rows):
        out[i, :len(r)] = torch.tensor(r)
    return out


def lr_factor(step: int, cfg: GRPOConfig) -> float:
    if step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    if cfg.lr_schedule == "cosine":
        t = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, t)))
    return 1.0


def evaluate(model, tokenizer, task, problems, sampling: SamplingConfig, greedy: bool = True) -> dict:
    """Validation figures: accuracy at the sampling temperature (and greedy), length, styles, by difficulty."""
    out = {}
    modes = [("", sampling.temperature)] + ([("_greedy", 0.0)] if greedy else [])
    for suffix, temp in modes:
        s = SamplingConfig(**{**sampling.__dict__, "temperature": temp})
        texts, correct, lengths = sample_once(model, tokenizer, task, problems, s)
        out[f"eval/accuracy{suffix}"] = sum(correct) / len(problems)
        out[f"eval/mean_tokens{suffix}"] = sum(lengths) / len(problems)
        if not suffix:
            out.update({f"eval/{k}": v for k, v in behaviour(task, texts, correct).items()})
            for d, v in by_difficulty(problems, correct, lengths).items():
                out[f"eval/accuracy_d{d}"] = v["accuracy"]
                out[f"eval/mean_tokens_d{d}"] = v["mean_tokens"]
    return out


def check_run(cfg: GRPOConfig) -> None:
    """Everything that can be known wrong before a run starts, besides ``validate``: enough problems
    for a step and for evaluation, and prompts plus the token budget within the model's positions."""
    from transformers import AutoTokenizer

    from ..world import shipped_base_path

    validate(cfg)
    task = get_task(cfg.task.name, **cfg.task.kwargs)
    try:
        problems = task.problems("train", cfg.prompts_per_step, seed=cfg.seed)
    except ValueError as e:
        raise ConfigError("prompts_per_step", str(e), "ask for fewer prompts per step") from None
    if cfg.eval_every:
        try:
            problems += task.problems("validation", cfg.eval_problems, seed=cfg.seed)
        except ValueError as e:
            raise ConfigError("eval_problems", str(e), "ask for fewer, or set eval_every=0") from None
    path = Path(cfg.model or shipped_base_path())
    positions = json.loads((path / "config.json").read_text()).get("max_position_embeddings")
    if positions:
        tok = AutoTokenizer.from_pretrained(path)
        longest = max(len(tok(p.prompt)["input_ids"]) for p in problems)
        budget = cfg.sampling.max_new_tokens
        require(longest + budget <= positions, "sampling.max_new_tokens",
                f"prompts of up to {longest} tokens plus {budget} new tokens exceed the model's {positions} positions",
                f"set sampling.max_new_tokens={positions - longest} or less")


def policy_update(model, ref, opt, ro, adv: torch.Tensor, cfg: GRPOConfig, pad_id: int,
                  keep: torch.Tensor | None = None):
    """``num_iterations`` passes of microbatched policy-loss updates over the rollouts; ``keep`` [B]
    leaves rollouts out of the loss (0: DAPO overlong filtering).

    Returns (metrics, gradient norm, cause): ``cause`` is None for a good step, or why the step was
    skipped ("non-finite loss", "non-finite gradient"): the gradients are zeroed and ``opt.step()`` is not
    called for that pass or any after it, so the weights and optimizer state stay as the last finite
    pass left them (with ``num_iterations = 1``, as they were before the step)."""
    Tc = max(len(c) for c in ro.completion_ids)
    keep = torch.ones(len(ro)) if keep is None else keep                          # [B]
    old_all = pad_rows(ro.logprobs, Tc)                                        # [B, Tc]
    mask_all = pad_rows([[1.0] * len(c) for c in ro.completion_ids], Tc) * keep[:, None]   # [B, Tc]
    kl_in_loss = ref is not None and not cfg.loss.kl_in_reward
    model.train()
    stats: dict = {}
    gnorm = torch.tensor(0.0)
    rows = update_rows(adv, [len(p) + len(c) for p, c in zip(ro.prompt_ids, ro.completion_ids)],
                       needs_all=kl_in_loss or bool(cfg.loss.entropy_coef), keep=keep)
    for _ in range(cfg.num_iterations):
        opt.zero_grad(set_to_none=True)
        for s in range(0, len(rows), cfg.microbatch_size):
            sl = rows[s:s + cfg.microbatch_size]
            pids, cids = [ro.prompt_ids[i] for i in sl], [ro.completion_ids[i] for i in sl]
            logp, ent, mask = completion_logprobs(model, pids, cids, pad_id)   # [b, t]
            mask = mask * keep[sl, None]
            t = logp.size(1)
            ref_logp = None
            if kl_in_loss:
                with torch.no_grad():
                    ref_logp, _, _ = completion_logprobs(ref, pids, cids, pad_id)
            loss, m = policy_loss(logp, old_all[sl, :t], ref_logp, adv[sl], mask, cfg.loss)
            if cfg.loss.entropy_coef:
                loss = loss - entropy_bonus(ent, mask, cfg.loss)
            w = microbatch_weight(cfg.loss.aggregation, mask, mask_all)
            m["loss/entropy"] = float((ent.detach() * mask).sum() / mask.sum().clamp(min=1))
            m["loss/total"] = float(loss.detach())
            for k, v in m.items():
                stats[k] = stats.get(k, 0.0) + v * w / cfg.num_iterations
            if not torch.isfinite(loss):
                opt.zero_grad(set_to_none=True)
                return stats, float("nan"), "non-finite loss"
            (loss * w).backward()
        gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        if not torch.isfinite(gnorm):
            opt.zero_grad(set_to_none=True)
            return stats, float(gnorm), "non-finite gradient"
        opt.step()
    return stats, float(gnorm), None


def weights_finite(model) -> bool:
    return all(bool(torch.isfinite(p).all()) for p in model.parameters())


# ------------------------------------------------------------------------------ the loop
def train_grpo(cfg: GRPOConfig, resume: bool = False, overwrite: bool = False, on_step=None) -> Path:
    """Run GRPO as configured; returns the folder of the final policy.

    ``resume`` continues the run in ``cfg.out`` from its newest valid checkpoint (from the start when it
    has none); ``overwrite`` replaces whatever ``cfg.out`` holds. Without either an existing run is an
    error. ``on_step(step, record)`` is called after each step is logged."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ..tasks.pool import VerifierPool
    from ..world import shipped_base_path

    check_run(cfg)                                   # nothing is written before this passes
    out = prepare_run_dir(cfg.out, resume, overwrite)
    set_threads(cfg.threads)
    seed_everything(cfg.seed)
    out.mkdir(parents=True, exist_ok=True)
    (out / "samples").mkdir(exist_ok=True)
    atomic_write_text(out / "config.yaml", to_yaml(cfg))
    task = get_task(cfg.task.name, **cfg.task.kwargs)
    ckpts = out / "checkpoints"
    last = checkpoint.latest(ckpts) if resume else None
    # leftovers of a crash: temporary folders, damaged checkpoints, any newer than the one resumed from
    checkpoint.prune(ckpts, keep=cfg.keep_checkpoints,
                     newest=int(last.name.split("-")[1]) if last is not None else -1)
    start = last or Path(cfg.model or shipped_base_path())
    model = AutoModelForCausalLM.from_pretrained(start)
    tokenizer = AutoTokenizer.from_pretrained(start)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    ref = None
    if cfg.loss.beta > 0:
        ref = AutoModelForCausalLM.from_pretrained(cfg.model or shipped_base_path()).eval()
        for p in ref.parameters():
            p.requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(0.9, 0.99))
    # [edge of competence / advantage inputs] curriculum state and the estimator's hook (critic, greedy)
    curriculum = (Curriculum(cfg.competence.curriculum, group_size=cfg.group_size)
                  if cfg.competence.curriculum.enabled else None)
    adv_inputs = AdvantageInputs(cfg.advantage, cfg.loss, cfg.critic, start, cfg.rewards)
    step, bad_streak = 0, 0
    if last is not None:
        state = torch.load(last / "state.pt", weights_only=False)
        opt.load_state_dict(state["optimizer"])
        set_rng_state(state["rng"])
        step, bad_streak = state["step"], state.get("bad_streak", 0)
        if curriculum is not None:  # [edge of competence]
            curriculum.load(state["curriculum"])
        adv_inputs.load(state.get("advantage_inputs"))
    rewind_metrics(out / "metrics.jsonl", state["metrics_bytes"] if last is not None else 0, step)
    log = MetricsLog(out / "metrics.jsonl", out / "tb", purge_step=step + 1,
                     wandb_project=cfg.wandb_project, config=to_dict(cfg))
    val = task.problems("validation", cfg.eval_problems, seed=cfg.seed) if cfg.eval_every else []
    verifier = VerifierPool(task, cfg.verify_workers, cfg.verify_timeout_s) if cfg.verify_workers else task

    def save(metrics: dict) -> None:
        if not weights_finite(model):
            raise TrainingDiverged(f"the weights hold NaN or Inf after step {step}; nothing was saved; "
                                   f"last good checkpoint: {checkpoint.latest(ckpts)}")
        state = {"optimizer": opt.state_dict(), "rng": rng_state(), "step": step, "bad_streak": bad_streak,
                 "sampler": {"seed": cfg.seed, "next_step": step}, "metrics_bytes": log.sync(),
                 "curriculum": curriculum and curriculum.state(), "advantage_inputs": adv_inputs.state()}
        checkpoint.save(ckpts, step, model, tokenizer, state, metrics)
        checkpoint.prune(ckpts, keep=cfg.keep_checkpoints)

    progress = Progress(TextColumn("grpo"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                        TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                        disable=not sys.stderr.isatty())
    try:
        with progress:
            bar = progress.add_task("grpo", total=cfg.steps, completed=step, info="")
            while step < cfg.steps:
                t0 = time.time()
                # 1-3. problems (curriculum), rollouts, rewards (overlong penalty), dynamic sampling
                batch = sample_step(model, tokenizer, task, cfg, step, curriculum, verifier)
                problems, ro, rewards, parts, correct = batch.problems, batch.ro, batch.rewards, batch.parts, batch.correct
                t_sample = time.time() - t0
                t1 = time.time()
                r = torch.tensor(rewards)                                          # [B]
                group = torch.tensor(ro.group)                                     # [B]
                # 4. advantages; the hook adds what the estimator needs (KL in reward, greedy, critic values)
                r, extra, adv_metrics = adv_inputs.prepare(model=model, ref=ref, tokenizer=tokenizer, task=task,
                                                           problems=problems, ro=ro, rewards=r, sampling=cfg.sampling,
                                                           pad_id=pad_id, logprobs_fn=completion_logprobs)
                adv = compute_advantages(r, group, replace(cfg.advantage, extra=extra))   # [B] or [B, T]
                adv_metrics.update(adv_inputs.after(ro, adv, extra, pad_id))
                flat, n_groups = zero_variance_groups(r, group)
                t_score = time.time() - t1
                # 5. update (skipped when the loss or the gradient is not finite)
                t2 = time.time()
                lr = cfg.lr * lr_factor(step, cfg)
                for g in opt.param_groups:
                    g["lr"] = lr
                keep = loss_row_keep(ro.finish_reason, cfg.competence.mask_truncated)     # [B]
                stats, gnorm, bad = policy_update(model, ref, opt, ro, adv, cfg, pad_id, keep)
                bad_streak = bad_streak + 1 if bad else 0
                t_update = time.time() - t2
                step += 1
                # 6. metrics, samples, evaluation, checkpoints
                n_tok = [len(c) for c in ro.completion_ids]
                rec = {"reward/mean": float(r.mean()), **{f"reward/{k}": sum(v) / len(v) for k, v in parts.items()},
                       "task/accuracy": sum(correct) / len(correct),
                       "rollout/mean_tokens": sum(n_tok) / len(n_tok), "rollout/max_tokens": max(n_tok),
                       "rollout/finish_length": ro.finish_reason.count("length") / len(ro),
                       "rollout/zero_variance_groups": flat / n_groups, **stats, **batch.metrics, **adv_metrics,
                       "rollout/entropy": -sum(map(sum, ro.logprobs)) / max(1, sum(n_tok)),  # sampled -log p
                       "loss/grad_norm": gnorm, "train/lr": lr, "train/skipped": float(bad is not None),
                       **({"train/skip_cause": bad} if bad else {}),
                       "perf/sample_s": t_sample, "perf/score_s": t_score, "perf/update_s": t_update,
                       "perf/step_s": time.time() - t0, "perf/sample_tokens_per_s": sum(n_tok) / max(t_sample, 1e-9)}
                rec.update({f"behaviour/{k}": v for k, v in behaviour(task, ro.text, correct).items()})
                if cfg.sample_every and step % cfg.sample_every == 0:
                    atomic_write_text(out / "samples" / f"step-{step}.jsonl", "".join(
                        json.dumps({"step": step, "prompt": problems[ro.group[i]].prompt,
                                    "completion": ro.text[i], "reward": rewards[i], "advantage": float(adv[i].sum()),
                                    "correct": correct[i], "group": ro.group[i],
                                    "finish_reason": ro.finish_reason[i]}) + "\n"
                        for i in range(min(cfg.samples_kept, len(ro)))))
                evaluated = bool(cfg.eval_every and (step % cfg.eval_every == 0 or step == cfg.steps))
                if evaluated:
                    rec.update(evaluate(model, tokenizer, verifier, val, cfg.sampling, greedy=True))
                log.log(step, rec)
                if bad:
                    print(f"step {step}: skipped ({bad}); {bad_streak} bad step(s) in a row", file=sys.stderr, flush=True)
                    if bad_streak >= cfg.max_bad_steps:
                        raise TrainingDiverged(
                            f"{bad_streak} consecutive steps with a NaN or Inf loss or gradient (last: {bad} at step "
                            f"{step}); the run stopped; last good checkpoint: {checkpoint.latest(ckpts)}")
                elif (cfg.checkpoint_every and step % cfg.checkpoint_every == 0) or evaluated or step == cfg.steps:
                    save(rec)
                info = (f"reward {rec['reward/mean']:.2f} acc {rec['task/accuracy']:.2f} "
                        f"len {rec['rollout/mean_tokens']:.0f}")
                progress.update(bar, completed=step, info=info)
                if not sys.stderr.isatty():
                    print(f"step {step}/{cfg.steps} {info} {rec['perf/step_s']:.1f}s", flush=True)
                if on_step is not None:
                    on_step(step, rec)
    finally:
        log.close()
        if verifier is not task:
            verifier.close()
    if not weights_finite(model):
        raise TrainingDiverged(f"the weights hold NaN or Inf at the end; last good checkpoint: {checkpoint.latest(ckpts)}")
    best = checkpoint.best(ckpts)
    run = {"steps": step, "config": str(out / "config.yaml"), "environment": environment(),
           "best_checkpoint": str(best) if best else None}
    return save_model_dir(out / "final", model, tokenizer, files={"run.json": json.dumps(run, indent=2)})
