"""TRL's GRPOTrainer against ``rlvr grpo``, side by side in one run, on the same checkpoint and settings.

    python benchmarks/grpo_vs_trl.py [--model PATH] [--steps 30] [--seeds 0 1] [--threads 2] \
        [--out docs/results/grpo_vs_trl.png]

Both train the same Hugging Face checkpoint (default: the shipped base) on 4-6 digit ``+-``: 16 prompts x 8
completions a step, up to 600 new tokens at temperature 1, beta 0, AdamW at a constant lr 2e-4 (no warm-up),
gradients clipped at 1, one update per batch accumulated over microbatches of 32, the loss averaged over all
completion tokens of the batch (TRL ``loss_type="dapo"``, rlvr ``token-mean``), advantages scaled by the
group's std, reward 1 for a right answer by rlvr's verifier. TRL runs without gradient checkpointing (its
default is on; rlvr's off) and tokenises the same prompt tokens (a BOS, then the problem: checked).

Each side and seed runs in its own process (so that its peak resident memory is its own) with ``--threads``
torch threads, one after another. Reported per side: seconds per step and completion tokens per second
(steps 2 to N: the first step carries one-off costs), peak resident memory, and the accuracy curve of each
seed: speed must not come from a different algorithm, so the curves must agree within the spread of seeds.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TASK = {"name": "arithmetic", "kwargs": {"ops": "+-", "min_digits": 4, "max_digits": 6}}
PROMPTS, GROUP, MAX_NEW, LR, MICRO = 16, 8, 600, 2e-4, 32


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_rlvr(model: str, steps: int, seed: int, threads: int) -> dict:
    from rlvr.config import load_config
    from rlvr.train.grpo import GRPOConfig, train_grpo

    with tempfile.TemporaryDirectory() as out:
        cfg = load_config(GRPOConfig, None, [
            f"out={out}/run", *([f"model={model}"] if model else []), f"seed={seed}", f"threads={threads}", f"steps={steps}",
            f"task.name={TASK['name']}", f"task.kwargs={json.dumps(TASK['kwargs'])}",
            f"prompts_per_step={PROMPTS}", f"group_size={GROUP}", f"sampling.max_new_tokens={MAX_NEW}",
            "sampling.temperature=1.0", "loss.beta=0.0", "loss.aggregation=token-mean", f"lr={LR}",
            "warmup_steps=0", "lr_schedule=constant", f"microbatch_size={MICRO}", "eval_every=0",
            "sample_every=0", f"checkpoint_every={steps + 1}"])
        train_grpo(cfg)
        recs = [json.loads(x) for x in (Path(out) / "run" / "metrics.jsonl").read_text().splitlines()]
    return {"seconds": [r["perf/step_s"] for r in recs], "accuracy": [r["reward/accuracy"] for r in recs],
            "tokens": [r["rollout/mean_tokens"] * PROMPTS * GROUP for r in recs]}


def trl_dataset(tokenizer, steps: int, seed: int):
    """The training split's problems as TRL prompts and the problems themselves, by prompt, for the reward.
    TRL tokenises a plain prompt with the tokenizer's special tokens (a BOS), as rlvr does: checked."""
    from datasets import Dataset

    from rlvr.prompts import encode_prompt, prompt_text
    from rlvr.tasks import get_task

    task = get_task(TASK["name"], **TASK["kwargs"])
    problems = task.problems("train", PROMPTS * steps, seed)
    texts = [prompt_text(tokenizer, p) for p in problems]
    assert all(tokenizer(t)["input_ids"] == encode_prompt(tokenizer, t) for t in texts)    # rlvr's prompt tokens
    return task, Dataset.from_dict({"prompt": texts}), dict(zip(texts, problems))


def run_trl(model: str, steps: int, seed: int, threads: int) -> dict:
    import torch
    from transformers import TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    from rlvr.models import load_tokenizer, shipped_base_path

    torch.set_num_threads(threads)
    path = model or str(shipped_base_path())
    tok = load_tokenizer(path)
    task, data, by_prompt = trl_dataset(tok, steps, seed)

    def accuracy(prompts, completions, **_):
        return [float(task.verify(by_prompt[p], c).correct) for p, c in zip(prompts, completions)]

    class Clock(TrainerCallback):
        def __init__(self):
            self.seconds, self.t0 = [], 0.0

        def on_step_begin(self, *a, **k):
            self.t0 = time.time()

        def on_step_end(self, *a, **k):
            self.seconds.append(time.time() - self.t0)

    clock = Clock()
    with tempfile.TemporaryDirectory() as out:
        args = GRPOConfig(
            output_dir=out, seed=seed, max_steps=steps, per_device_train_batch_size=MICRO,
            gradient_accumulation_steps=PROMPTS * GROUP // MICRO, num_generations=GROUP,
            max_completion_length=MAX_NEW, temperature=1.0, beta=0.0, loss_type="dapo", scale_rewards="group",
            learning_rate=LR, lr_scheduler_type="constant", warmup_steps=0, max_grad_norm=1.0, weight_decay=0.0,
            gradient_checkpointing=False, use_cpu=True, bf16=False, logging_steps=1, report_to=[],
            save_strategy="no", disable_tqdm=True, dataloader_num_workers=0)
        trainer = GRPOTrainer(model=path, reward_funcs=accuracy, args=args, train_dataset=data,
                              processing_class=tok, callbacks=[clock])
        trainer.train()
    logs = [x for x in trainer.state.log_history if "reward" in x]
    return {"seconds": clock.seconds, "accuracy": [x["reward"] for x in logs],
            "tokens": [x["completions/mean_length"] * PROMPTS * GROUP for x in logs]}


def save_random(size: str, folder: str) -> str:
    """A random Qwen2 of ``size`` with the shipped tokenizer, saved as a Hugging Face checkpoint."""
    from roofline import random_qwen

    from rlvr.models import load_tokenizer, shipped_base_path

    tok = load_tokenizer(str(shipped_base_path()))
    random_qwen(size, tok, mask_eos=False).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def child(side: str, model: str, steps: int, seed: int, threads: int, out: str) -> None:
    res = (run_rlvr if side == "rlvr" else run_trl)(model, steps, seed, threads)
    Path(out).write_text(json.dumps({**res, "peak_mib": peak_mib()}))


def summary(runs: dict) -> dict:
    """Per side: seconds per step and completion tokens per second over steps 2..N of every seed, the peak
    memory, and the mean accuracy of the last ten steps of each seed."""
    out = {}
    for side, seeds in runs.items():
        secs = [s for r in seeds.values() for s in r["seconds"][1:]]
        toks = [t for r in seeds.values() for t in r["tokens"][1:]]
        out[side] = {"seconds_per_step": round(sum(secs) / len(secs), 2), "tokens_per_s": round(sum(toks) / sum(secs), 1),
                     "peak_mib": round(max(r["peak_mib"] for r in seeds.values())),
                     "accuracy_last10": {s: round(sum(r["accuracy"][-10:]) / len(r["accuracy"][-10:]), 3)
                                         for s, r in seeds.items()}}
    if {"rlvr", "trl"} <= set(out):
        out["speedup"] = {"per_step": round(out["trl"]["seconds_per_step"] / out["rlvr"]["seconds_per_step"], 2),
                          "tokens_per_s": round(out["rlvr"]["tokens_per_s"] / out["trl"]["tokens_per_s"], 2)}
    return out


def plot(runs: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4))
    for side, colour in (("rlvr", "C0"), ("trl", "C1")):
        for seed, r in runs.get(side, {}).items():
            ax.plot(range(1, len(r["accuracy"]) + 1), r["accuracy"], color=colour, alpha=0.8,
                    linestyle="-" if seed == min(runs[side]) else "--", label=f"{side}, seed {seed}")
    ax.set_xlabel("GRPO step")
    ax.set_ylabel("accuracy of the step's rollouts")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="", help="HF checkpoint (default: the shipped base)")
    ap.add_argument("--random", choices=["10M", "50M", "150M"],
                    help="instead: a random Qwen2 of this size (roofline.py's shapes), for speed alone")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sides", nargs="+", default=["rlvr", "trl"], choices=["rlvr", "trl"])
    ap.add_argument("--out", type=Path, help="PNG of the accuracy curves; the JSON of every figure beside it")
    ap.add_argument("--child", nargs=3, metavar=("SIDE", "SEED", "JSON"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(args.child[0], args.model, args.steps, int(args.child[1]), args.threads, args.child[2])
        return 0
    runs: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        if args.random:
            args.model = save_random(args.random, f"{tmp}/random-{args.random}")
        for seed in args.seeds:
            for side in args.sides:
                res = Path(tmp) / f"{side}-{seed}.json"
                t0 = time.time()
                subprocess.run([sys.executable, __file__, "--model", args.model, "--steps", str(args.steps),
                                "--threads", str(args.threads), "--child", side, str(seed), str(res)], check=True)
                runs.setdefault(side, {})[seed] = json.loads(res.read_text())
                print(f"{side} seed {seed}: {time.time() - t0:.0f} s", flush=True)
    result = {"settings": {"model": f"random {args.random}" if args.random else args.model or "shipped base", "steps": args.steps, "threads": args.threads,
                           "prompts": PROMPTS, "group": GROUP, "max_new_tokens": MAX_NEW, "lr": LR},
              "summary": summary(runs), "runs": runs}
    print(json.dumps(result["summary"], indent=1))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        plot(runs, args.out)
        args.out.with_suffix(".json").write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
