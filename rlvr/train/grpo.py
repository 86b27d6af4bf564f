"""GRPO: reinforcement learning against a verifier, straight from a base model (R1-Zero).

Each step, read top to bottom:
  1. draw ``prompts_per_step`` training problems (by difficulty, when the curriculum is on);
  2. sample ``group_size`` completions for each with the rollout engine (the policy at temperature T);
  3. score every completion with the task's verifier and the weighted reward functions (and DAPO's
     overlong penalty); with dynamic sampling, draw again until the groups with reward spread fill the
     batch (``train/batch.py``);
  4. advantages per group: A_i = (r_i - mean(r)) / (std(r) + eps) (or another estimator of the registry;
     ``train/advantage_inputs.py`` adds what it needs: a greedy baseline, a critic's values, KL in reward);
  5. ``num_iterations`` passes over the rollouts in microbatches (``train/update.py``): the PPO-clipped
     surrogate per token with the ratio to the sampling policy, plus beta * KL(policy || reference) (k3
     estimator), aggregated over tokens; gradient accumulation, clipping, AdamW;
  6. log, sample, evaluate on the validation split, checkpoint.

Crash-proof (``train/harness.py``): the config is validated before anything is written; checkpoints
are atomic, the newest ``keep_checkpoints`` and the best by validation accuracy are kept; a run killed
at any moment and resumed gives the same metrics and weights as one never interrupted (bit for bit on a
CPU). Problems and sampling seeds are functions of (seed, step): the sampler has no other state. A step
whose loss or gradient is NaN or Inf is skipped and logged with its cause (``train/skipped``,
``train/skip_cause``); after ``max_bad_steps`` in a row the run stops with ``TrainingDiverged``.
Verification runs in worker processes with a hard time limit per completion (``verify_workers``,
``verify_timeout_s``).

Departures from the DeepSeek-R1 / DeepSeekMath equations:
  - aggregation defaults to ``token-mean`` over all completion tokens of the batch (DAPO), not the
    per-sequence mean of the paper (``seq-mean-token-mean``, one config value away);
  - beta defaults to 0 (no reference model), as DAPO and Dr. GRPO argue for verifiable rewards; the
    k3 term is added to the loss when beta > 0, as in the paper;
  - the old policy's log-probs are the rollout engine's own (same weights, inference mode, the same
    temperature), so with ``num_iterations = 1`` the ratio is 1 up to float error and the clip never
    binds;
  - the completion's EOS token is trained like any other token.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..algorithms.advantages import AdvantageConfig, compute_advantages, estimator_needs
from ..algorithms.competence import Curriculum
from ..algorithms.losses import LossConfig
from ..config import ConfigError, require, require_choice, require_number, require_wandb, validate
from ..eval.scoring import validation_figures
from ..models import MISSING_MODEL_FIX, is_model, load_tokenizer, model_config_file, pick_device, resolve_model
from ..prompts import encode_prompt, is_chat, prompt_texts
from ..reward_model import RewardModelConfig
from ..rewards import REWARDS, Scorer
from ..rollout import SamplingConfig
from ..rollout.vllm_engine import RolloutConfig
from ..tasks import TaskConfig, get_task
from ..tasks.pool import VerifierPool
from ..rollout.episodes import episodes_for
from ..tools import ToolBox, ToolsConfig
from .advantage_inputs import AdvantageInputs, CriticConfig
from .batch import CompetenceConfig, loss_row_keep, sample_step
from ..distributed import World, group_seeds, init_world
from .harness import Run, lr_factor
from .policy import LoadConfig, LoraConfig, load_model, named_weights, precision, \
    reference, trainable
from .records import step_record, write_samples
from .sharding import full_optimizer_state, load_optimizer_state, shard, sync_sampler
from .update import policy_update
from .watch import Watch, WatchConfig


@dataclass
class GRPOConfig:
    out: str = "runs/grpo"
    """Run directory."""
    model: str = ""
    """Policy to start from: a Hugging Face model folder or hub id, a run directory, @NAME of a shipped
    model, or empty for the shipped base (``rlvr.models``)."""
    load: LoadConfig = field(default_factory=LoadConfig)
    """Device, dtype and gradient checkpointing of the policy (``train/policy.py``)."""
    lora: LoraConfig = field(default_factory=LoraConfig)
    """LoRA adapters (rank 0: off, every weight trains)."""
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
    parallel: str = "ddp"
    """Under torchrun: ddp (every rank holds the whole policy, gradients summed) or fsdp (weights, gradients
    and AdamW's state sharded over ranks with FSDP2; a full replica samples)."""
    rollout: RolloutConfig = field(default_factory=RolloutConfig)
    """The rollout engine: hf (rlvr's own) or vllm (colocated, weights synced in memory after each step)."""
    tools: ToolsConfig = field(default_factory=ToolsConfig)
    """Tools the policy may call mid-trace, or a multi-turn environment (``docs/tools.md``)."""
    watch: WatchConfig = field(default_factory=WatchConfig)
    """Detectors of entropy collapse, verifier gaming, performative reflection and forgetting (``train/watch.py``)."""
    sampling_seeds: str = "auto"
    """batch: one generator per step; group: a seed per group, so the rollouts do not depend on how the
    groups are split over processes; auto: batch in one process, group under torchrun."""
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
    """Reward functions and their weights: built-ins (accuracy, format, partial, think_format_strict,
    think_format_soft, tag_count, reward_model) or dotted paths package.module:function (``rlvr.rewards``)."""
    reward_model: RewardModelConfig = field(default_factory=RewardModelConfig)
    """The sequence-classification model of the ``reward_model`` reward (``rlvr.reward_model``)."""
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
        require(is_model(self.model), "model", f"{self.model} is not a model folder, a run with a model, or a hub id "
                "in the local cache", MISSING_MODEL_FIX)
        require_number(self.threads, "threads", 1, fix="e.g. threads=1")
        require_wandb(self.wandb_project)
        require_number(self.steps, "steps", 1, fix="e.g. steps=40")
        require_number(self.prompts_per_step, "prompts_per_step", 1, fix="e.g. prompts_per_step=16")
        require_number(self.group_size, "group_size", 2,
                       fix="GRPO compares completions within a group: set group_size (K) to 2 or more, e.g. 8")
        require_choice(self.sampling_seeds, ("auto", "batch", "group"), "sampling_seeds")
        require_choice(self.parallel, ("ddp", "fsdp"), "parallel")
        require_number(self.lr, "lr", 0, low_open=True, fix="a learning rate such as lr=1e-4")
        require_choice(self.lr_schedule, ("constant", "cosine"), "lr_schedule")
        require_number(self.warmup_steps, "warmup_steps", 0, fix="e.g. warmup_steps=2")
        require_number(self.weight_decay, "weight_decay", 0, fix="e.g. weight_decay=0.0")
        require_number(self.grad_clip, "grad_clip", 0, low_open=True, fix="e.g. grad_clip=1.0")
        require_number(self.num_iterations, "num_iterations", 1, fix="e.g. num_iterations=1")
        require_number(self.microbatch_size, "microbatch_size", 1, fix="e.g. microbatch_size=32")
        require(bool(self.rewards), "rewards", "no reward function", "e.g. rewards={accuracy: 1.0}")
        for name, weight in self.rewards.items():
            REWARDS.check(name, f"rewards.{name}")
            require_number(weight, f"rewards.{name}", fix="a weight such as 1.0")
        require("reward_model" not in self.rewards or bool(self.reward_model.path), "rewards.reward_model",
                "needs a model, but reward_model.path is empty", "set reward_model.path=FOLDER of a "
                "sequence-classification model, or drop reward_model from rewards")
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
def check_run(cfg: GRPOConfig) -> Scorer:
    """Everything that can be known wrong before a run starts, besides ``validate``: enough problems
    for a step and for evaluation, and prompts plus the token budget within the model's positions.
    Returns the run's reward functions (``rewards.Scorer``; a reward model is loaded here, once)."""
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
    path = resolve_model(cfg.model).path
    positions = json.loads(model_config_file(cfg.model).read_text()).get("max_position_embeddings")
    tok = load_tokenizer(path)
    texts = prompt_texts(tok, problems)               # a chat prompt without a chat template fails here
    require(cfg.tools.format != "chat" or all(is_chat(p) for p in problems), "tools.format",
            "the chat format lists the tools in the chat template, and the task's prompts are plain text",
            "set task.kwargs.prompt_format=chat (the dataset task), or tools.format=tags")
    if positions:
        longest = max(len(encode_prompt(tok, t)) for t in texts)
        budget = cfg.sampling.max_new_tokens
        require(longest + budget <= positions, "sampling.max_new_tokens",
                f"prompts of up to {longest} tokens plus {budget} new tokens exceed the model's {positions} positions",
                f"set sampling.max_new_tokens={positions - longest} or less")
    return Scorer(cfg.rewards, cfg.reward_model)


def load_policy(cfg: GRPOConfig, run: Run, world: World = World()):
    """(policy, sampler, tokenizer, pad id, frozen reference or None, optimizer): the newest checkpoint's
    weights when resuming, else the starting model's, on the configured device and in its precision
    (``train/policy.py``); the reference (beta > 0) is always the starting model (under LoRA: the policy
    with its adapters off); the optimizer holds the trainable weights (the adapters under LoRA). The
    sampler is the policy itself, or under FSDP a full replica (``train/sharding.py``)."""
    start = resolve_model(cfg.model).path
    model = load_model(start, cfg.load, cfg.lora, resume_from=run.last)
    tokenizer = load_tokenizer(run.last or start)
    ref = reference(start, model, cfg.load, cfg.lora) if cfg.loss.beta > 0 else None
    sampler = model
    if world.size > 1 and cfg.parallel == "fsdp":
        bf16_gpu = cfg.load.dtype == "bfloat16" and pick_device(cfg.load.device).type == "cuda"
        model, sampler = shard(model, bf16_gpu)
        run.optimizer_state = lambda: full_optimizer_state(model, opt)
        run.load_optimizer = lambda state: load_optimizer_state(model, opt, state)
    opt = torch.optim.AdamW(trainable(model), lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(0.9, 0.99))
    return model, sampler, tokenizer, tokenizer.pad_token_id, ref, opt


def start_engine(cfg: GRPOConfig, model, tokenizer):
    """The vLLM engine (``rollout.backend: vllm``) holding the policy's weights as they are now (a resumed
    run's, LoRA's merged), or None for rlvr's own engine."""
    if cfg.rollout.backend != "vllm":
        return None
    from ..rollout.vllm_engine import VLLMEngine

    positions = json.loads(model_config_file(cfg.model).read_text()).get("max_position_embeddings") or 0
    engine = VLLMEngine(resolve_model(cfg.model).path, tokenizer, cfg.rollout, dtype=cfg.load.dtype,
                        max_model_len=positions, seed=cfg.seed)
    engine.load_weights(named_weights(model))
    return engine


# ------------------------------------------------------------------------------ the loop
@dataclass
class Parts:
    """What a GRPO step works with (built once per run by ``train_grpo``)."""
    model: object
    sampler: object           # what samples: the policy, its FSDP replica, or the vLLM engine
    replica: object           # the whole policy as a Hugging Face model: the policy itself, or under FSDP a copy
    engine: object            # the vLLM engine, or None
    tokenizer: object
    pad_id: int
    ref: object
    opt: object
    task: object
    curriculum: object
    adv_inputs: AdvantageInputs
    verifier: object
    scorer: object
    world: World
    episodes: object = None   # rollout.episodes.Episodes for multi-turn rollouts, or None


def check_world(cfg: GRPOConfig, world: World) -> None:
    """What a run split over ranks needs: per-group seeds, and no estimator input computed on one rank."""
    if world.size == 1:
        return
    require(cfg.sampling_seeds != "batch", "sampling_seeds", "batch seeds depend on how the batch is split over "
            "ranks", "use sampling_seeds=auto or group under torchrun")
    require(cfg.prompts_per_step >= world.size, "prompts_per_step", f"{cfg.prompts_per_step} prompts for "
            f"{world.size} ranks", f"give every rank a group: prompts_per_step={world.size} or more")
    require(not estimator_needs(cfg.advantage.estimator), "advantage.estimator", f"{cfg.advantage.estimator} needs "
            "inputs (a critic, greedy rollouts) not yet computed under torchrun", "use grpo, dr_grpo, rloo or reinforce_pp")
    require(not (cfg.loss.kl_in_reward and cfg.loss.beta > 0), "loss.kl_in_reward", "KL in the reward is not yet "
            "computed under torchrun", "use loss.kl_in_reward=false (the KL term in the loss)")
    require(cfg.parallel != "fsdp" or not cfg.lora.rank, "parallel", "FSDP with LoRA is not supported yet",
            "use parallel=ddp with LoRA (the adapters are small)")


def grpo_step(cfg: GRPOConfig, run: Run, c: Parts) -> tuple[dict, object, torch.Tensor, str | None]:
    """Steps 1-5 of one GRPO step (the module docstring); returns (metrics, batch, advantages, cause of a
    skipped update or None). Advances ``run.step``."""
    t0 = time.time()
    # 1-3. problems (curriculum), rollouts, rewards (overlong penalty), dynamic sampling
    batch = sample_step(c.sampler, c.tokenizer, c.task, cfg, run.step, c.curriculum, c.verifier, c.scorer, c.world,
                        c.episodes)
    t1 = time.time()
    # 4. advantages; the hook adds the inputs the estimator needs (KL in reward, greedy, critic)
    r, inputs, adv_metrics = c.adv_inputs.prepare(
        model=c.sampler, ref=c.ref, tokenizer=c.tokenizer, task=c.task, problems=batch.problems, ro=batch.ro,
        rewards=torch.tensor(batch.rewards), sampling=cfg.sampling, pad_id=c.pad_id)
    adv = compute_advantages(r, torch.tensor(batch.ro.group), cfg.advantage, inputs)  # [B] or [B, T]
    adv_metrics.update(c.adv_inputs.after(batch.ro, adv, inputs, c.pad_id))
    t2 = time.time()
    # 5. update (skipped when the loss or the gradient is not finite)
    lr = cfg.lr * lr_factor(run.step, cfg)
    for g in c.opt.param_groups:
        g["lr"] = lr
    keep = loss_row_keep(batch.ro.finish_reason, cfg.competence.mask_truncated)   # [B]
    if c.engine is not None:
        c.engine.sleep()                                                       # GPU: vLLM's memory to the update
    stats, gnorm, bad = policy_update(c.model, c.ref, c.opt, batch.ro, adv, cfg, c.pad_id, keep, c.world)
    if c.replica is not c.model:
        sync_sampler(c.model, c.replica)                                       # FSDP: the full replica follows
    if c.engine is not None:                                                   # the new weights, in memory
        c.engine.wake_up()
        c.engine.load_weights(named_weights(c.replica))
    run.step += 1
    times = {"t0": t0, "sample": t1 - t0, "score": t2 - t1, "update": time.time() - t2}
    return step_record(batch, r, stats, adv_metrics, gnorm, lr, bad, times, c.task), batch, adv, bad


def train_grpo(cfg: GRPOConfig, resume: bool = False, overwrite: bool = False, on_step=None) -> Path:
    """Run GRPO as configured; returns the folder of the final policy. ``resume`` continues the run in
    ``cfg.out`` from its newest valid checkpoint, ``overwrite`` replaces it (without either, an existing run
    is an error); ``on_step(step, record)`` is called after each step is logged. Under torchrun the run is
    data parallel (``rlvr/distributed.py``)."""
    scorer = check_run(cfg)                          # nothing is written before this passes
    world = init_world(pick_device(cfg.load.device))
    check_world(cfg, world)
    run = Run(cfg, "grpo", resume, overwrite, world)
    task = get_task(cfg.task.name, **cfg.task.kwargs)
    model, replica, tokenizer, pad_id, ref, opt = load_policy(cfg, run, world)
    curriculum = (Curriculum(cfg.competence.curriculum, group_size=cfg.group_size)
                  if cfg.competence.curriculum.enabled else None)
    adv_inputs = AdvantageInputs(cfg.advantage, cfg.loss, cfg.critic, resolve_model(cfg.model).path, scorer)
    watch = Watch(cfg.watch, cfg.seed)
    run.extra_state = lambda: {"sampler": {"seed": cfg.seed, "next_step": run.step}, "watch": watch.state(),
                               "curriculum": curriculum and curriculum.state(), "advantage_inputs": adv_inputs.state()}
    state = run.restore(replica, tokenizer, opt)
    engine = start_engine(cfg, replica, tokenizer)
    sampler = engine or replica
    watch.start(state.get("watch"), sampler, tokenizer, cfg.sampling)    # the forgetting probe's baseline
    if state and curriculum is not None:
        curriculum.load(state["curriculum"])
    adv_inputs.load(state.get("advantage_inputs"))
    val = task.problems("validation", cfg.eval_problems, seed=cfg.seed) if cfg.eval_every else []
    verifier = VerifierPool(task, cfg.verify_workers, cfg.verify_timeout_s) if cfg.verify_workers else task
    box = ToolBox(cfg.tools, tokenizer) if cfg.tools.names else None
    episodes = episodes_for(cfg.tools, box) if cfg.tools.enabled else None
    c = Parts(model, sampler, replica, engine, tokenizer, pad_id, ref, opt, task, curriculum, adv_inputs, verifier, scorer,
              world, episodes)
    try:
        with run.progress(cfg.steps) as bar, precision(cfg.load, pick_device(cfg.load.device)):
            while run.step < cfg.steps:
                rec, batch, adv, bad = grpo_step(cfg, run, c)              # 1-5
                # 6. samples, evaluation, the watch's detectors, metrics, checkpoints
                if world.main and cfg.sample_every and run.step % cfg.sample_every == 0:
                    write_samples(run.out, run.step, batch, adv, cfg.samples_kept)
                evaluated = run.due(cfg.eval_every, cfg.steps)
                if evaluated:
                    rec.update(validation_figures(sampler, tokenizer, verifier, val, cfg.sampling, greedy=True, world=world,
                                                  per_problem_seeds=group_seeds(cfg.sampling_seeds, world),
                                                  episodes=episodes))
                alarms = watch.step(run.step, rec, sampler, tokenizer, cfg.sampling, world.main)
                run.log(rec)
                run.guard(bad)
                if not bad and (run.due(cfg.checkpoint_every, cfg.steps) or evaluated or run.step == cfg.steps):
                    run.save(rec)
                info = f"reward {rec['reward/mean']:.2f} acc {rec['task/accuracy']:.2f} len {rec['rollout/mean_tokens']:.0f}"
                bar.show(run.step, info + alarms, f"step {run.step}/{cfg.steps} {info} {rec['perf/step_s']:.1f}s{alarms}")
                if on_step is not None:
                    on_step(run.step, rec)
    finally:
        if verifier is not task:
            verifier.close()
        if box is not None:
            box.close()
    return run.finish()
