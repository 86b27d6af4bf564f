"""``rlvr demo``: R1-Zero in miniature on the shipped base, measured before and after.

1. evaluate the shipped base on held-out test problems (temperature 1 and greedy);
2. GRPO on the arithmetic world (4-6 digits), verifier reward only: nobody asks for longer answers;
3. evaluate the result on the same problems;
4. print a before/after table, write ``summary.json``, a PNG of accuracy and length against step and
   ``report.html`` (``rlvr report``; a failure there is reported, never fatal).
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table
from transformers import AutoModelForCausalLM, AutoTokenizer

from ..config import ConfigError, require, require_number, validate
from ..eval.behaviour import behaviour
from ..eval.metrics import spearman
from ..eval.scoring import by_difficulty, sample_once
from ..models import resolve_model
from ..report import build_report
from ..rollout import SamplingConfig
from ..tasks import get_task
from ..tasks.base import has_capability
from ..train.grpo import GRPOConfig, check_run, train_grpo
from ..utils import prepare_run_dir, set_threads, time_to_target


@dataclass
class DemoConfig:
    out: str = "runs/demo"
    """Run directory of the demo."""
    test_problems: int = 500
    """Held-out test problems evaluated before and after."""
    test_samples: int = 4
    """Completions per test problem at temperature 1 (greedy decoding takes one): the figures are means over
    all of them. One draw's careful share of the shipped base moved from 24.6% to 35.4% over 11 sampling
    seeds (``scripts/demo_by_style.py``); four draws halve that spread."""
    grpo: GRPOConfig = field(default_factory=lambda: GRPOConfig(
        out="", steps=160, prompts_per_step=16, group_size=8, lr=2e-4, eval_every=5, eval_problems=100,
        sampling=SamplingConfig(temperature=1.0, max_new_tokens=600)))
    """The GRPO stage (its ``out`` is set to the demo's run directory)."""
    quick: bool = False
    """A small run that only checks the pipeline works (``rlvr demo --quick`` sets it); recorded in the summary."""

    def check(self) -> None:
        """Ranges of the demo's own fields (``config.validate``; the GRPO stage checks its own)."""
        require(bool(self.out), "out", "is empty", "name the run directory, e.g. out=runs/demo")
        require_number(self.test_problems, "test_problems", 1, fix="e.g. test_problems=500")
        require_number(self.test_samples, "test_samples", 1, fix="e.g. test_samples=4")


def measure(model, tokenizer, task, problems, sampling, samples: int = 1) -> dict:
    """The demo's figures for one model on the test problems: ``samples`` completions per problem at the
    sampling temperature (every figure a mean over all of them; ``draws`` holds accuracy and careful share
    of each draw alone, the k-th completion of every problem), one greedy completion per problem."""

    res = {}
    for key, temp in (("", sampling.temperature), ("_greedy", 0.0)):
        s = SamplingConfig(**{**sampling.__dict__, "temperature": temp, "seed": 12345})
        rep = [p for p in problems for _ in range(1 if key else samples)]
        texts, correct, lengths = sample_once(model, tokenizer, task, rep, s)
        res[f"accuracy{key}"] = sum(correct) / len(rep)
        if key:
            continue
        res["samples_per_problem"] = samples
        res["mean_completion_tokens"] = sum(lengths) / len(lengths)
        b = behaviour(task, texts, correct)
        res["style_share"] = {k.split("/")[1]: v for k, v in b.items() if k.startswith("style/")}
        res["wait_share"] = b["marker/wait"]
        res["wait_fix_rate"] = b["marker/wait_fix_rate"]
        res["by_difficulty"] = {str(d): v for d, v in by_difficulty(rep, correct, lengths).items()}
        res["spearman_difficulty_length"] = spearman([p.difficulty for p in rep], lengths)
        if samples > 1:
            careful = [has_capability(task, "styles") and task.style_of(t) in ("stepwise", "check") for t in texts]
            res["draws"] = [{"accuracy": sum(correct[k::samples]) / len(problems),
                             "careful_share": sum(careful[k::samples]) / len(problems)} for k in range(samples)]
    return res


def plot(metrics_path: Path, png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    recs = [json.loads(l) for l in metrics_path.read_text().splitlines() if l.strip()]
    steps = [r["step"] for r in recs]
    fig, ax = plt.subplots(1, 2, figsize=(10, 3.6))
    ax[0].plot(steps, [r["task/accuracy"] for r in recs], label="train rollouts (T=1)")
    ev = [r for r in recs if "eval/accuracy" in r]
    if ev:
        ax[0].plot([r["step"] for r in ev], [r["eval/accuracy"] for r in ev], "o-", label="validation (T=1)")
        ax[0].plot([r["step"] for r in ev], [r["eval/accuracy_greedy"] for r in ev], "s--", label="validation (greedy)")
    ax[0].set_xlabel("step"), ax[0].set_ylabel("accuracy"), ax[0].set_ylim(0, 1), ax[0].legend()
    ax[1].plot(steps, [r["rollout/mean_tokens"] for r in recs], color="tab:red")
    ax[1].set_xlabel("step"), ax[1].set_ylabel("mean completion tokens")
    fig.suptitle("GRPO on the shipped base: accuracy and length (nobody asks for longer answers)")
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)


def _task_problems(cfg: DemoConfig) -> tuple:
    """The task and its held-out test problems, once the demo's config and its GRPO stage pass their
    checks; nothing is written before this."""
    validate(cfg)
    try:
        check_run(cfg.grpo)
    except ConfigError as e:
        raise e.within("grpo.") from None
    task = get_task(cfg.grpo.task.name, **cfg.grpo.task.kwargs)
    try:
        return task, task.problems("test", cfg.test_problems, seed=0)
    except ValueError as e:
        raise ConfigError("test_problems", str(e), "ask for fewer test problems") from None


def summarise(cfg: DemoConfig, before: dict, after: dict, recs: list[dict], first90: dict | None, n_problems: int,
              wall_seconds: float, train_seconds: float) -> dict:
    """The demo's ``summary.json``: the figures before and after, the run's cost (from the GRPO metric
    records ``recs``) and, when validation reached 90% (``first90``), when it did."""
    summary = {"base": before, "rl": after, "steps": cfg.grpo.steps, "wall_seconds": round(wall_seconds, 1),
               "train_seconds": round(train_seconds, 1),
               "seconds_per_step": round(sum(r["perf/step_s"] for r in recs) / max(1, len(recs)), 2),
               "sample_tokens_per_s": round(sum(r["perf/sample_tokens_per_s"] for r in recs) / max(1, len(recs))),
               "test_problems": n_problems, "test_samples": cfg.test_samples, "quick": cfg.quick}
    if first90:
        summary.update({"steps_to_90pct_validation": first90["step"],
                        "train_seconds_to_90pct_validation": round(first90["train_seconds"], 1),
                        "seconds_to_90pct_validation": round(first90["seconds"], 1)})
    return summary


def print_table(before: dict, after: dict, summary: dict, first90: dict | None, n_problems: int,
                samples: int) -> None:
    """The before/after table on the console."""
    table = Table(title=f"R1-Zero demo: {n_problems} held-out test problems x {samples} samples "
                        f"(greedy: 1), before and after GRPO")
    for c in ("", "base", "after RL"):
        table.add_column(c)
    pct = lambda v: f"{v:.1%}"  # noqa: E731
    table.add_row("accuracy (T=1)", pct(before["accuracy"]), pct(after["accuracy"]))
    table.add_row("accuracy (greedy)", pct(before["accuracy_greedy"]), pct(after["accuracy_greedy"]))
    table.add_row("mean completion tokens", f"{before['mean_completion_tokens']:.0f}",
                  f"{after['mean_completion_tokens']:.0f}")
    table.add_row("careful style share", pct(before["style_share"].get("careful", 0)),
                  pct(after["style_share"].get("careful", 0)))
    table.add_row("check style share", pct(before["style_share"].get("check", 0)),
                  pct(after["style_share"].get("check", 0)))
    table.add_row("wait-fix rate", pct(before["wait_fix_rate"]), pct(after["wait_fix_rate"]))
    table.add_row("Spearman(digits, length)", f"{before['spearman_difficulty_length']:.2f}",
                  f"{after['spearman_difficulty_length']:.2f}")
    for d in before["by_difficulty"]:
        b, a = before["by_difficulty"][d], after["by_difficulty"][d]
        table.add_row(f"{d} digits: accuracy / tokens", f"{b['accuracy']:.1%} / {b['mean_tokens']:.0f}",
                      f"{a['accuracy']:.1%} / {a['mean_tokens']:.0f}")
    table.add_row("wall time", "", f"{summary['wall_seconds']:.0f} s ({summary['seconds_per_step']} s/step)")
    if first90:
        table.add_row("90% validation reached", "",
                      f"step {first90['step']}: {first90['train_seconds']:.0f} s of training "
                      f"({first90['seconds']:.0f} s with the validation passes)")
    Console().print(table)


def _write_report(out: Path) -> None:
    """``report.html`` beside the files written: a view of them, so a failure here never fails the run."""
    try:
        print(f"wrote {build_report([out])} (open it with `rlvr view {out}`)")
    except Exception as e:  # noqa: BLE001
        print(f"report.html not written: {type(e).__name__}: {e} (run `rlvr report {out}`)")


def run_demo(cfg: DemoConfig, resume: bool = False, overwrite: bool = False) -> Path:
    """Run the demo (see the module docstring); returns the path of its summary.json."""
    t0 = time.time()
    out = Path(cfg.out)
    g = cfg.grpo
    g.out = str(out)
    task, problems = _task_problems(cfg)
    prepare_run_dir(out, resume, overwrite)          # nothing was written before this
    set_threads(g.threads)
    base_path = resolve_model(g.model).path
    console = Console(stderr=True)
    console.print(f"[bold]1/3[/] evaluating the base on {len(problems)} test problems x {cfg.test_samples}")
    base = AutoModelForCausalLM.from_pretrained(base_path)
    tok = AutoTokenizer.from_pretrained(base_path)
    before = measure(base, tok, task, problems, g.sampling, cfg.test_samples)
    console.print(f"[bold]2/3[/] GRPO for {g.steps} steps ({g.prompts_per_step} prompts x {g.group_size})")
    t_train = time.time()
    final = train_grpo(g, resume=resume)
    train_seconds = time.time() - t_train
    console.print("[bold]3/3[/] evaluating the result")
    rl = AutoModelForCausalLM.from_pretrained(final)
    after = measure(rl, tok, task, problems, g.sampling, cfg.test_samples)
    recs = [json.loads(l) for l in (out / "metrics.jsonl").read_text().splitlines() if l.strip()]
    first90 = time_to_target(recs, 0.9)
    summary = summarise(cfg, before, after, recs, first90, len(problems), time.time() - t0, train_seconds)
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    plot(out / "metrics.jsonl", out / "accuracy_length.png")
    print_table(before, after, summary, first90, len(problems), cfg.test_samples)
    print(f"wrote {out / 'summary.json'} and {out / 'accuracy_length.png'}")
    _write_report(out)
    return out / "summary.json"
