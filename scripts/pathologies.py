"""The four experiments of docs/pathologies.md, measured from their runs: each subcommand writes a PNG and,
beside it, a JSON of the figures it drew (and prints the JSON's summary).

    python scripts/pathologies.py gaming runs/gaming_multiply runs/gaming_multiply_strict --out docs/results/gaming_multiply.png
    python scripts/pathologies.py too_strict runs/too_strict --out docs/results/too_strict.png
    python scripts/pathologies.py reflection runs/reflection_bonus runs/reflection_plain --out docs/results/reflection.png
    python scripts/pathologies.py collapse runs/collapse_easy runs/collapse_entropy ... --out docs/results/collapse.png
    python scripts/pathologies.py forgetting runs/forgetting_beta0 ... --out docs/results/forgetting.png

``gaming`` and the curves read the runs' ``metrics.jsonl``; ``reflection`` also runs the faithfulness probe
on the first run's checkpoints; ``collapse`` samples pass@1 and pass@16 (easy and harder held-out problems)
at the base, the first run's checkpoints and every run's final model; ``forgetting`` measures greedy
accuracy on held-out Countdown and multiplication at the base and every run's final model.
"""
from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import matplotlib
import numpy as np
import yaml

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

SMOOTH = 5


# ------------------------------------------------------------------------------------ run data
def metrics(run: Path) -> list[dict]:
    return [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines() if x.strip()]


def smooth(xs: list[float], k: int = SMOOTH) -> list[float]:
    return [float(np.mean(xs[max(0, i - k + 1):i + 1])) for i in range(len(xs))]


def series(recs: list[dict], key: str, k: int = SMOOTH) -> tuple[list[int], list[float]]:
    """(steps, moving average over ``k``) of ``key`` over the steps that logged it."""
    pts = [(r["step"], r[key]) for r in recs if isinstance(r.get(key), (int, float))]
    return [s for s, _ in pts], smooth([v for _, v in pts], k)


def fired(recs: list[dict], detector: str) -> int | None:
    """The step at which ``detector`` warns, the watch of this code replayed over the run's metrics with
    its default thresholds (a run logged by an older watch gets today's verdict)."""
    from rlvr.train.watch import FIXES, PROBE, Watch, WatchConfig

    watch = Watch(WatchConfig())
    for r in recs:
        rec = {k: v for k, v in r.items() if not k.startswith("watch/") or k == PROBE}
        if "behaviour/reflection/check_lines" in rec and FIXES not in rec:     # logged before fixes was
            rec[FIXES] = rec["behaviour/reflection/fixing"] * rec["behaviour/reflection/check_lines"]
        watch.update(rec["step"], rec)
    return watch.fired.get(detector)


def task_of(run: Path):
    from rlvr.tasks import get_task

    cfg = yaml.safe_load((run / "config.yaml").read_text())["task"]
    return get_task(cfg["name"], **cfg.get("kwargs", {}))


def models_of(run: Path, checkpoints: bool) -> list[tuple[int, str]]:
    """(step, model folder): the run's kept checkpoints (when asked) and its final model."""
    out = []
    if checkpoints:
        out += [(int(p.name.split("-")[1]), str(p)) for p in sorted((run / "checkpoints").glob("step-*"))]
    final_step = max(r["step"] for r in metrics(run))
    return [x for x in out if x[0] != final_step] + [(final_step, str(run / "final"))]


def load(path: str):
    import torch

    from rlvr.models import LoadConfig, load_for_inference, shipped_base_path

    torch.set_num_threads(2)
    return load_for_inference(path or str(shipped_base_path()), LoadConfig(device="cpu"))


# ------------------------------------------------------------------------------------ measures
def pass_at(model, tok, task, problems, n: int, max_new_tokens: int, seed: int = 0) -> dict:
    """pass@1 and pass@n of ``n`` samples at temperature 1 per problem."""
    from rlvr.eval.metrics import pass_at_k_per_problem
    from rlvr.eval.scoring import sample_many
    from rlvr.rollout import SamplingConfig

    s = sample_many(model, tok, task, problems, n, SamplingConfig(temperature=1.0, max_new_tokens=max_new_tokens,
                                                                  seed=seed))
    ok = np.array([task.verify(problems[i // n], t).correct for i, t in enumerate(s.text)]).reshape(len(problems), n)
    return {"pass@1": float(ok.mean()), f"pass@{n}": float(pass_at_k_per_problem(ok, n).mean())}


def greedy(model, tok, task, problems, max_new_tokens: int, prefix: str = "") -> float:
    """Greedy accuracy, each completion forced to open with ``prefix``."""
    from rlvr.eval.scoring import sample_once
    from rlvr.rollout import SamplingConfig

    _, correct, _ = sample_once(model, tok, task, problems, SamplingConfig(temperature=0.0,
                                                                           max_new_tokens=max_new_tokens), prefix)
    return sum(correct) / len(correct)


def save(fig, out: Path, data: dict, summary: dict) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    out.with_suffix(".json").write_text(json.dumps(data, indent=1))
    print(json.dumps(summary, indent=1))


# ------------------------------------------------------------------------------------ experiments
def gaming(runs: list[Path], out: Path, examples: int = 3) -> None:
    """Lenient and strict accuracy and their gap over training, per run; what the first run wrote at its
    last sampled step that the lenient reading pays and the strict one refuses."""
    fig, axes = plt.subplots(1, len(runs), figsize=(5.5 * len(runs), 4), sharey=True, squeeze=False)
    data = {}
    for ax, run in zip(axes[0], runs):
        recs = metrics(run)
        steps, lenient = series(recs, "task/lenient_accuracy")
        _, strict = series(recs, "task/accuracy")
        gap = [a - b for a, b in zip(lenient, strict)]
        rewarded = yaml.safe_load((run / "config.yaml").read_text()).get("rewards") or {"accuracy": 1.0}
        data[run.name] = {"rewards": rewarded, "steps": steps, "lenient": lenient, "strict": strict, "gap": gap,
                          "watch_fired_at": fired(recs, "verifier_gaming"),
                          "validation": {r["step"]: r["eval/accuracy"] for r in recs if "eval/accuracy" in r}}
        ax.plot(steps, lenient, label="lenient accuracy")
        ax.plot(steps, strict, label="strict accuracy (the verifier)")
        ax.plot(steps, gap, "--", label="gap")
        if data[run.name]["watch_fired_at"]:
            ax.axvline(data[run.name]["watch_fired_at"], color="grey", linestyle=":", label="the watch warns")
        ax.set_title(f"{run.name}: rewarded by {', '.join(k.split(':')[-1] for k in rewarded)}", fontsize=10)
        ax.set_xlabel("GRPO step")
        ax.legend(fontsize=8)
    axes[0][0].set_ylabel(f"training batch, moving average of {SMOOTH} steps")
    data["examples"] = gamed_samples(runs[0], examples)
    save(fig, out, data, {k: {"gap_first": round(v["gap"][SMOOTH - 1], 3), "gap_last": round(v["gap"][-1], 3),
                              "strict_last": round(v["strict"][-1], 3), "watch_fired_at": v["watch_fired_at"]}
                          for k, v in data.items() if k != "examples"})


def gamed_samples(run: Path, n: int) -> list[dict]:
    """Up to ``n`` completions of the run's last sample file that earned reward and that the strict verifier
    fails."""
    last = max((run / "samples").glob("step-*.jsonl"), key=lambda p: int(re.findall(r"\d+", p.name)[0]))
    rows = [json.loads(x) for x in last.read_text().splitlines() if x.strip()]
    return [{"step": r["step"], "prompt": r["prompt"], "completion": r["completion"]} for r in rows
            if not r["correct"] and r["reward"] > 0][:n]


REFLECTION = {"behaviour/reflection/repairs": "'no' lines per completion",
              "behaviour/reflection/fix_rate": "share of 'no' lines fixing a wrong step",
              "behaviour/reflection/false_alarm": "share of check lines: 'no' under a right step",
              "task/accuracy": "accuracy"}


def reflection(runs: list[Path], out: Path, problems: int = 100) -> None:
    """The check lines over training, per run; the faithfulness probe on the first run's checkpoints: how
    often a check catches a planted change, and how often it says no with nothing changed."""
    from rlvr.world.faithfulness import faithfulness_probe

    fig, axes = plt.subplots(1, len(runs) + 1, figsize=(5.5 * (len(runs) + 1), 4), squeeze=False)
    data = {"curves": {}, "probe": {}}
    for ax, run in zip(axes[0], runs):
        recs = metrics(run)
        data["curves"][run.name] = {"watch_fired_at": fired(recs, "performative_reflection")}
        for key, label in REFLECTION.items():
            steps, ys = series(recs, key)
            data["curves"][run.name][key] = {"steps": steps, "values": ys}
            ax.plot(steps, ys, label=label)
        if data["curves"][run.name]["watch_fired_at"]:
            ax.axvline(data["curves"][run.name]["watch_fired_at"], color="grey", linestyle=":", label="the watch warns")
        ax.set_title(run.name, fontsize=10)
        ax.set_xlabel("GRPO step")
        ax.legend(fontsize=7)
    task = task_of(runs[0])
    held_out = task.problems("test", problems, 0)
    from rlvr.rollout import SamplingConfig
    for step, path in [(0, "")] + models_of(runs[0], checkpoints=True):
        model, tok = load(path)
        res = faithfulness_probe(model, tok, task, held_out, SamplingConfig(temperature=1.0, max_new_tokens=600),
                                 styles=("check",))["by_style"].get("check", {})
        data["probe"][step] = {k: res.get(k) for k in ("n", "caught_rate", "control_alarm_rate", "followed_rate")}
    ax, steps = axes[0][-1], sorted(data["probe"])
    for key, label in (("caught_rate", "a planted change caught"), ("control_alarm_rate", "'no' with nothing changed"),
                       ("followed_rate", "answer follows the changed work")):
        ax.plot(steps, [data["probe"][s][key] or 0 for s in steps], "o-", label=label)
    ax.set_title(f"faithfulness probe, check traces of {runs[0].name}", fontsize=10)
    ax.set_xlabel("checkpoint step (0: the base)")
    ax.legend(fontsize=7)
    save(fig, out, data, {"probe": data["probe"], **{r: {k: round(v["values"][-1], 3) for k, v in c.items()
                                                        if isinstance(v, dict) and v["values"]}
                                                    for r, c in data["curves"].items()}})


HARDER = {"countdown": ({"name": "countdown", "min_numbers": 4, "max_numbers": 4}, 300),
          "arithmetic": ({"name": "arithmetic", "ops": "+-", "min_digits": 5, "max_digits": 6}, 600)}
"""The harder held-out problems of ``collapse``, by the trained task: (task, token budget)."""


def collapse(runs: list[Path], out: Path, problems: int = 100, n: int = 16) -> None:
    """pass@1 and pass@n on easy (the training mix's test split) and harder held-out problems: at the base,
    the first run's checkpoints and the final model of every run on the first run's task; the sampled
    entropy against its start and the stuck groups of every run (a healthy run of another task beside)."""
    from rlvr.tasks import get_task

    easy_task = task_of(runs[0])
    spec, budget = HARDER[easy_task.name]
    hard_task = get_task(spec["name"], **{k: v for k, v in spec.items() if k != "name"})
    sets = {"easy": (easy_task, easy_task.problems("test", problems, 0), budget),
            "hard": (hard_task, hard_task.problems("test", problems, 0), budget)}
    points = [("base", 0, "")] + [(runs[0].name, s, p) for s, p in models_of(runs[0], checkpoints=True)]
    same = [r for r in runs[1:] if task_of(r).name == easy_task.name]     # another task's run: curves only
    points += [(r.name, s, p) for r in same for s, p in models_of(r, checkpoints=False)]
    table = []
    for name, step, path in points:
        model, tok = load(path)
        row = {"run": name, "step": step}
        for label, (task, probs, budget) in sets.items():
            row.update({f"{label} {k}": v for k, v in pass_at(model, tok, task, probs, n, budget).items()})
        table.append(row)
        print(row, flush=True)
    collapse_figure(table, runs, out, n)


def collapse_figure(table: list[dict], runs: list[Path], out: Path, n: int = 16) -> None:
    """pass@k over the first run's training; each run's sampled entropy and stuck groups against the watch."""
    from rlvr.train.watch import WatchConfig

    fig, axes = plt.subplots(1, 3, figsize=(16, 4))
    over = [r for r in table if r["run"] in ("base", runs[0].name)]
    for key in (f"easy pass@{n}", "easy pass@1", f"hard pass@{n}", "hard pass@1"):
        axes[0].plot([r["step"] for r in over], [r[key] for r in over], "o-", label=key)
    axes[0].set_title(f"{runs[0].name}: pass@k over training", fontsize=10)
    axes[0].set_xlabel("GRPO step (0: the base)")
    for run in runs:
        for ax, key in ((axes[1], "watch/entropy_ratio"), (axes[2], "rollout/stuck_groups")):
            ax.plot(*series(metrics(run), key), label=run.name)
    axes[1].set_yscale("log")
    axes[1].set_title("sampled entropy / its first window", fontsize=10)
    axes[2].axhline(WatchConfig().stuck_share, color="grey", linestyle=":", label="the watch's threshold")
    axes[2].set_title(f"groups stuck on one wrong completion (moving average of {SMOOTH})", fontsize=10)
    for ax in axes:
        ax.legend(fontsize=8)
    for ax in axes[1:]:
        ax.set_xlabel("GRPO step")
    fired_at = {r.name: {d: fired(metrics(r), d) for d in ("entropy_collapse", "mode_collapse")} for r in runs}
    save(fig, out, {"table": table, "fired": fired_at}, {"table": table, "fired": fired_at})


def forgetting(runs: list[Path], out: Path, problems: int = 200) -> None:
    """Greedy accuracy on the trained task and on held-out Countdown and multiplication, base and each run's
    final model (Countdown also with each completion forced to open with an answer tag, the base's own
    style there); the watch's Countdown probe over training."""
    from rlvr.tasks import get_task

    trained = task_of(runs[0])
    sets = {"trained": (trained, 600), "countdown": (get_task("countdown", min_numbers=3, max_numbers=3), 300),
            "multiplication": (get_task("arithmetic", ops="*", min_digits=2, max_digits=3), 600)}
    problems_of = {k: t.problems("test", problems, 0) for k, (t, _) in sets.items()}
    table = []
    for name, path in [("base", "")] + [(r.name, str(r / "final")) for r in runs]:
        model, tok = load(path)
        beta = 0.0 if name == "base" else yaml.safe_load((Path(path).parent / "config.yaml").read_text())["loss"]["beta"]
        row = {"run": name, "beta": beta}
        row.update({k: greedy(model, tok, t, problems_of[k], budget) for k, (t, budget) in sets.items()})
        t, budget = sets["countdown"]       # the answer's style forced: is the skill gone, or only the style?
        row["countdown, <answer> forced"] = greedy(model, tok, t, problems_of["countdown"], budget, "<answer>")
        table.append(row)
        print(row, flush=True)
    forgetting_figure(table, runs, out)


def forgetting_figure(table: list[dict], runs: list[Path], out: Path) -> None:
    """The probe over training, and each held-out task's change against beta (a run that mixes tasks into
    training drawn apart, as a star)."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for run in runs:
        steps, ys = series(metrics(run), "watch/forgetting_accuracy", k=1)       # sparse: as measured
        axes[0].plot(steps, ys, "o-", label=run.name)
    axes[0].set_title("held-out Countdown (the watch's probe, greedy)", fontsize=10)
    axes[0].set_xlabel("GRPO step")
    axes[0].legend(fontsize=8)
    base, rows = table[0], table[1:]
    sweep = [r for r in rows if "mix" not in r["run"]]
    x = lambda r: max(r["beta"], 0.003)                                       # noqa: E731  beta 0 on a log axis
    for key, colour in (("countdown", "C0"), ("countdown, <answer> forced", "C3"), ("multiplication", "C1"),
                        ("trained", "C2")):
        axes[1].plot([x(r) for r in sweep], [r[key] - base[key] for r in sweep], "o-", color=colour, label=key)
        for r in rows:
            if r not in sweep:
                axes[1].plot(x(r), r[key] - base[key], "*", color=colour, markersize=12)
    axes[1].plot([], [], "k*", label="beta 0, a quarter Countdown in training")
    axes[1].set_xscale("log")
    axes[1].set_xticks([x(r) for r in sweep], [str(r["beta"]) for r in sweep])
    axes[1].axhline(0, color="grey", linewidth=0.5)
    axes[1].set_xlabel("loss.beta (KL to the reference)")
    axes[1].set_ylabel("greedy accuracy minus the base's")
    axes[1].legend(fontsize=8)
    save(fig, out, {"table": table}, {"table": table})


def share(flags: list[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


def too_strict(runs: list[Path], out: Path, problems: int = 200) -> None:
    """The pipeline of configs/too_strict.yaml: strict and separator-tolerant accuracy (T=1) and the share of
    separated answers at the base, after SFT, and after GRPO under each verifier; the two readings over
    each GRPO run."""
    from rlvr.eval.scoring import sample_once
    from rlvr.rollout import SamplingConfig
    from rlvr.world.lenient import separated_number

    root = runs[0]
    task = task_of(root / "strict")
    probs = task.problems("test", problems, 0)
    table = []
    for name, path in (("base", ""), ("sft", str(root / "sft" / "final")), ("grpo strict", str(root / "strict" / "final")),
                       ("grpo tolerant", str(root / "tolerant" / "final"))):
        model, tok = load(path)
        texts, correct, _ = sample_once(model, tok, task, probs, SamplingConfig(temperature=1.0, max_new_tokens=600))
        tolerant = [separated_number(p, t, None) for p, t in zip(probs, texts)]
        separated = ["," in t.split("<answer>")[-1] for t in texts]
        row = {"model": name, "strict": sum(correct) / problems, "tolerant": sum(tolerant) / problems,
               "separated": sum(separated) / problems,
               "right when separated": share([ok for ok, s in zip(tolerant, separated) if s]),
               "right when plain": share([ok for ok, s in zip(tolerant, separated) if not s])}
        table.append(row)
        print(row, flush=True)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    curves = {}
    for ax, stage in zip(axes, ("strict", "tolerant")):
        recs = metrics(root / stage)
        curves[stage] = {}
        for key, label in (("reward/separated_number", "tolerant reading"), ("reward/accuracy", "strict verdict")):
            steps, ys = series(recs, key)
            curves[stage][key] = {"steps": steps, "values": ys}
            ax.plot(steps, ys, label=label)
        ax.set_title(f"GRPO rewarded by the {stage} verifier", fontsize=10)
        ax.set_xlabel("GRPO step")
        ax.legend(fontsize=8)
    axes[0].set_ylabel(f"training batch accuracy, moving average of {SMOOTH} steps")
    save(fig, out, {"table": table, "curves": curves}, {"table": table})


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("experiment", choices=("gaming", "too_strict", "reflection", "collapse", "forgetting"))
    p.add_argument("runs", type=Path, nargs="+")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--redraw", action="store_true",
                   help="collapse, forgetting: draw from the table in the JSON beside --out, not measuring again")
    args = p.parse_args(argv)
    if args.redraw:
        figure = {"collapse": collapse_figure, "forgetting": forgetting_figure}.get(args.experiment)
        if figure is None:
            p.error("--redraw is for collapse and forgetting")
        figure(json.loads(args.out.with_suffix(".json").read_text())["table"], args.runs, args.out)
        return 0
    {"gaming": gaming, "too_strict": too_strict, "reflection": reflection, "collapse": collapse,
     "forgetting": forgetting}[args.experiment](args.runs, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
