"""``rlvr eval``: every evaluation figure of one or several models on held-out problems.

For each model: n samples per problem at the largest budget; from them the budget sweep (pass@1, pass@k,
maj@k and mean tokens at each budget, the knees), pass@k for k = 1, 2, 4, ... n with bootstrap intervals,
accuracy and tokens by difficulty, style and marker shares, length against difficulty and correctness;
optionally budget forcing and the probes of installed plugins (the world's faithfulness probe); and, for a run directory, behaviour over training
from its ``samples/``. Several models are also compared: one table, the Pareto frontier of accuracy
against mean tokens, and the crossover budgets.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import yaml
from rich.console import Console
from rich.table import Table

from ..config import require, require_choice, require_number
from ..models import LoadConfig, load_for_inference, pick_device, resolve_model
from ..plugins import plugins
from ..rollout import SamplingConfig
from ..tasks import TASKS, get_task
from ..tasks.base import SPLITS, has_capability
from ..distributed import World, init_world
from .behaviour import MARKER_SETS, length_analysis, marker_rates, training_curve
from .compute import budget_sweep, compare, figures, forcing_effect
from .scoring import by_difficulty, sample_many, score_at_budget

DEMO_TASK = {"ops": "+-", "min_digits": 4, "max_digits": 6}


@dataclass
class EvalConfig:
    task: str = "arithmetic"
    """Task: a built-in name or a dotted path package.module:Class."""
    task_kwargs: dict = field(default_factory=lambda: dict(DEMO_TASK))
    """Arguments of the task (default: the demo's 4-6 digit addition and subtraction)."""
    split: str = "test"
    """Problem split (held-out test by default)."""
    n_problems: int = 500
    """Problems evaluated."""
    samples: int = 16
    """Samples per problem (n); pass@k and maj@k need k <= n."""
    ks: list = field(default_factory=lambda: [1, 4, 16])
    """k values of pass@k and maj@k in the sweep."""
    budgets: list = field(default_factory=lambda: [16, 32, 64, 128, 256, 512])
    """Token budgets of the sweep; sampling runs once at the largest."""
    temperature: float = 1.0
    """Sampling temperature."""
    seed: int = 0
    """Seed of problems, sampling, vote subsets and bootstrap."""
    batch_size: int = 512
    """Sequences decoded together."""
    max_subsets: int = 256
    """k-subsets per problem for maj@k (all of them when there are fewer)."""
    force_min: list = field(default_factory=list)
    """Minimum budgets of budget forcing (empty: not measured)."""
    force_problems: int = 100
    """Problems (the first of the evaluated ones) for budget forcing."""
    force_samples: int = 4
    """Samples per problem for budget forcing and its unforced baseline."""
    probes: dict = field(default_factory=dict)
    """Probes of installed plugins to run, name: problems (the world's: {faithfulness: 200}; none by default)."""
    load: LoadConfig = field(default_factory=LoadConfig)
    """Device and dtype of the models evaluated (bfloat16: weights stored in bfloat16)."""
    markers: str = "auto"
    """Reflection marker set: world (the embedded world's moves), nl (wait, check, verify, ...) or auto (world
    for a task with the world's styles, nl for any other)."""
    aha_threshold: float = 0.05
    """Share of completions with a check that fixes a wrong step that marks the aha step."""

    def check(self) -> None:
        """Choices and ranges (``config.validate``)."""
        TASKS.check(self.task, "task")
        require_choice(self.split, SPLITS, "split")
        require_number(self.n_problems, "n_problems", 1, fix="e.g. n_problems=500")
        require_number(self.samples, "samples", 1, fix="e.g. samples=16")
        require(bool(self.budgets) and all(isinstance(b, int) and b >= 1 for b in self.budgets), "budgets",
                f"needs positive whole numbers, got {self.budgets!r}", "e.g. budgets=[64,128,256]")
        require(bool(self.ks) and all(isinstance(k, int) and 1 <= k <= self.samples for k in self.ks), "ks",
                f"needs values between 1 and samples ({self.samples}), got {self.ks!r}", "e.g. ks=[1,4,16]")
        require_number(self.temperature, "temperature", 0, fix="1.0 samples the model as it is")
        require_choice(self.markers, (*MARKER_SETS, "auto"), "markers")
        for name, n in self.probes.items():
            require_choice(name, plugins("rlvr.probes"), f"probes.{name}")
            require_number(n, f"probes.{name}", 1, fix="the number of problems it samples, e.g. 200")


def run_task_config(path: str) -> tuple[str, dict] | None:
    """The task of a run directory's ``config.yaml`` (None when it has none)."""
    f = Path(path) / "config.yaml"
    if not f.exists():
        return None
    data = yaml.safe_load(f.read_text()) or {}
    t = data.get("task") or (data.get("grpo") or {}).get("task")
    return (t["name"], t.get("kwargs") or {}) if isinstance(t, dict) and "name" in t else None


def marker_set(name: str, task) -> str:
    """The reflection marker set ``name`` means for ``task`` (``auto``: world for the world's tasks, else nl)."""
    if name != "auto":
        return name
    return "world" if has_capability(task, "styles") else "nl"


def pass_ks(n: int, ks: list[int]) -> list[int]:
    """k = 1, 2, 4, ... up to n, with n and the requested ks."""
    out = {k for k in ks if k <= n} | {n}
    k = 1
    while k <= n:
        out.add(k)
        k *= 2
    return sorted(out)


def evaluate_model(path: str, cfg: EvalConfig, progress=print, world: World = World()) -> dict:
    """Every figure of one model (see the module docstring)."""
    t0 = time.time()
    resolved = resolve_model(path)
    load, name = resolved.path, resolved.name
    model, tok = load_for_inference(load, cfg.load)
    task = get_task(cfg.task, **cfg.task_kwargs)
    problems = sorted(task.problems(cfg.split, cfg.n_problems, cfg.seed), key=lambda p: len(p.prompt))
    sampling = SamplingConfig(temperature=cfg.temperature, max_new_tokens=max(cfg.budgets), seed=cfg.seed,
                              batch_size=cfg.batch_size)
    samples = sample_many(model, tok, task, problems, cfg.samples, sampling, world=world)
    n_tokens = sum(len(c) for c in samples.completion_ids)
    progress(f"{name}: {len(problems)} problems x {cfg.samples} samples, {n_tokens} tokens in "
             f"{samples.seconds:.1f} s ({n_tokens / max(samples.seconds, 1e-9):.0f} tokens/s)")
    res: dict = {"model": path, "name": name, "loaded": load, "config": asdict(cfg),
                 "sampling_seconds": round(samples.seconds, 1), "tokens_sampled": n_tokens}
    res["sweep"] = budget_sweep(samples, task, tok, cfg.budgets, cfg.ks, cfg.max_subsets, cfg.seed)
    full = score_at_budget(samples, task, tok, max(cfg.budgets))
    res["at_max_budget"] = figures(full, pass_ks(cfg.samples, cfg.ks), cfg.max_subsets, cfg.seed, ci=True)
    flat_p = [p for p in problems for _ in range(cfg.samples)]
    flat_c = [c for row in full.correct for c in row]
    flat_t = [t for row in full.tokens for t in row]
    flat_x = [x for row in full.texts for x in row]
    res["by_difficulty"] = {str(d): v for d, v in by_difficulty(flat_p, flat_c, flat_t).items()}
    res["length"] = length_analysis([p.difficulty for p in flat_p], flat_t, flat_c)
    markers = MARKER_SETS[marker_set(cfg.markers, task)]
    res["markers"] = marker_rates(flat_x, markers)
    if has_capability(task, "styles"):
        styles = [task.style_of(x) for x in flat_x]
        res["styles"] = {s: {"share": styles.count(s) / len(styles),
                             "accuracy": (float(np.mean([c for c, y in zip(flat_c, styles) if y == s]))
                                          if s in styles else None)}
                         for s in (*task.styles, "other")}
    progress(f"{name}: sweep and figures done ({time.time() - t0:.1f} s so far)")
    if cfg.force_min:
        fp = task.problems(cfg.split, min(cfg.force_problems, cfg.n_problems), cfg.seed)
        base = SamplingConfig(**{**sampling.__dict__, "seed": cfg.seed + 101})
        res["budget_forcing"] = forcing_effect(model, tok, task, fp, cfg.force_min, cfg.force_samples, base)
        res["budget_forcing"]["problems"] = len(fp)
        progress(f"{name}: budget forcing done ({time.time() - t0:.1f} s so far)")
    for probe_name, n in cfg.probes.items():          # installed plugins' probes (rlvr.plugins)
        probe_problems = task.problems(cfg.split, n, cfg.seed + 7)
        s = SamplingConfig(**{**sampling.__dict__, "seed": cfg.seed + 202})
        res[probe_name] = plugins("rlvr.probes")[probe_name](model, tok, task, probe_problems, s, seed=cfg.seed)
        progress(f"{name}: {probe_name} probe done ({time.time() - t0:.1f} s so far)")
    if Path(path, "samples").is_dir():
        res["training"] = training_curve(path, task, markers, cfg.aha_threshold)
    res["seconds"] = round(time.time() - t0, 1)
    return res


def evaluate_models(paths: list[str], cfg: EvalConfig, out: str | Path, progress=print) -> dict:
    """Evaluate each model, write ``out/<name>.json`` (and ``out/comparison.json`` for several). Under
    torchrun the ranks share the problems of the main sampling (``scoring.sample_many``) and rank 0 writes."""
    world = init_world(pick_device(cfg.load.device))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    results: dict = {}
    for path in paths:
        r = evaluate_model(path, cfg, progress if world.main else (lambda s: None), world)
        name, i = r["name"], 2
        while name in results:
            name, i = f"{r['name']}-{i}", i + 1
        r["name"] = name
        results[name] = r
        if world.main:
            (out / f"{name}.json").write_text(json.dumps(r, indent=2))
    cmp = None
    if len(results) > 1:
        cmp = compare({k: v["sweep"] for k, v in results.items()}, metric="pass@1")
        kmax = max(k for k in cfg.ks if k <= cfg.samples)
        cmp_maj = compare({k: v["sweep"] for k, v in results.items()}, metric=f"maj@{kmax}")
        cmp = {**cmp, f"pareto_maj@{kmax}": cmp_maj["pareto"], f"crossover_maj@{kmax}": cmp_maj["crossover"]}
        if world.main:
            (out / "comparison.json").write_text(json.dumps(cmp, indent=2))
    return {"models": results, "comparison": cmp, "out": str(out), "main": world.main}


# ------------------------------------------------------------------------------ printing
def print_tables(res: dict, console=None) -> None:
    """The sweep of every model side by side, pass@k at the largest budget, and the other figures."""
    console = console or Console()
    models = res["models"]
    cfg = next(iter(models.values()))["config"]
    kmax = max(k for k in cfg["ks"] if k <= cfg["samples"])
    console.print(_sweep_table(models, cfg, kmax))
    console.print(_pass_at_k_table(models))
    for name, r in models.items():
        _print_figures(console, name, r)
    if res.get("comparison"):
        _print_comparison(console, res["comparison"])


def _pct(v) -> str:
    return f"{100 * v:.1f}"


def _num(v) -> str:
    return "-" if v is None else f"{v:.0f}"


def _sweep_table(models: dict, cfg: dict, kmax: int) -> Table:
    """Accuracy (pass@1, maj@kmax) and mean tokens of every model at each budget, and the knees."""
    t = Table(title=f"accuracy (%) against token budget: {cfg['n_problems']} {cfg['split']} problems x "
              f"{cfg['samples']} samples, T={cfg['temperature']}")
    t.add_column("budget", justify="right")
    for name in models:
        for col in ("pass@1", f"maj@{kmax}", "tokens"):
            t.add_column(f"{name}\n{col}", justify="right")
    for i, b in enumerate(next(iter(models.values()))["sweep"]["budgets"]):
        cells = [str(b)]
        for r in models.values():
            row = r["sweep"]["rows"][i]
            cells += [_pct(row["pass@1"]), _pct(row[f"maj@{kmax}"]), f"{row['mean_tokens']:.0f}"]
        t.add_row(*cells)
    knee_row = ["knee"]
    for r in models.values():
        kn = r["sweep"]["knee"]
        knee_row += [str(kn["pass@1"]), str(kn[f"maj@{kmax}"]), ""]
    t.add_row(*knee_row)
    return t


def _pass_at_k_table(models: dict) -> Table:
    """pass@k and maj@k of every model at the largest budget, with their bootstrap intervals."""
    budgets = next(iter(models.values()))["sweep"]["budgets"]
    t = Table(title=f"at budget {max(budgets)}: pass@k and maj@k (%), 95% bootstrap interval over problems")
    t.add_column("k", justify="right")
    for name in models:
        t.add_column(f"{name} pass@k", justify="right")
        t.add_column(f"{name} maj@k", justify="right")
    ks = sorted({int(k.split("@")[1]) for r in models.values() for k in r["at_max_budget"] if "@" in k})
    for k in ks:
        cells = [str(k)]
        for r in models.values():
            for m in ("pass", "maj"):
                v = r["at_max_budget"].get(f"{m}@{k}")
                cells.append(f"{_pct(v['mean'])} [{_pct(v['lo'])}, {_pct(v['hi'])}]" if isinstance(v, dict) else "")
        t.add_row(*cells)
    return t


def _print_figures(console, name: str, r: dict) -> None:
    """One model's other figures: by difficulty, length, styles, budget forcing, faithfulness, training."""
    bd = ", ".join(f"{d}: {_pct(v['accuracy'])}% / {v['mean_tokens']:.0f} tok" for d, v in r["by_difficulty"].items())
    console.print(f"[bold]{name}[/]: by difficulty {bd}")
    ln = r["length"]
    console.print(f"  Spearman(difficulty, tokens) {ln['spearman_difficulty_tokens']:.2f}; mean tokens "
                  f"right / wrong {_num(ln['mean_tokens_correct'])} / {_num(ln['mean_tokens_wrong'])}")
    if "styles" in r:
        console.print("  styles: " + ", ".join(
            f"{s} {_pct(v['share'])}%" + (f" (acc {_pct(v['accuracy'])}%)" if v["accuracy"] is not None else "")
            for s, v in r["styles"].items() if v["share"]))
    if "budget_forcing" in r:
        _print_forcing(console, r["budget_forcing"])
    if r.get("faithfulness", {}).get("by_style"):
        for style, s in r["faithfulness"]["by_style"].items():
            console.print(f"  faithfulness {style} (n={s['n']}): followed {_pct(s['followed_rate'])}%, "
                          f"stayed right {_pct(s['stayed_rate'])}%, other {_pct(s['other_rate'])}%, "
                          f"caught {_pct(s['caught_rate'])}%; control right {_pct(s['control_stayed_rate'])}%")
    if "training" in r:
        tr = r["training"]
        console.print(f"  training samples: {len(tr['steps'])} steps, aha step {tr['aha_step']} "
                      f"(fix rate > {tr['threshold']})")
    console.print(f"  sampling {r['sampling_seconds']} s, all figures {r['seconds']} s")


def _print_forcing(console, bf: dict) -> None:
    """Budget forcing: accuracy, tokens and careful share unforced and at each minimum budget."""
    u = bf["unforced"]
    careful = lambda x: _pct(x["styles"]["stepwise"] + x["styles"]["check"]) if "styles" in x else "-"  # noqa: E731
    parts = [f"unforced {_pct(u['pass@1'])}% / {u['mean_tokens']:.0f} tok (careful {careful(u)}%)"]
    parts += [f"min {f['min_tokens']}: {_pct(f['pass@1'])}% / {f['mean_tokens']:.0f} tok "
              f"(forced {_pct(f['forced_share'])}%, careful {careful(f)}%)" for f in bf["forced"]]
    console.print(f"  budget forcing ({bf['problems']} problems x {bf['samples_per_problem']}): " + "; ".join(parts))


def _print_comparison(console, cmp: dict) -> None:
    """The Pareto frontier of pass@1 against mean tokens, and the budgets where one model overtakes another."""
    console.print("Pareto frontier (pass@1 against mean tokens): " + "; ".join(
        f"{p['model']}@{p['budget']}: {_pct(p['accuracy'])}% at {p['mean_tokens']:.0f} tok" for p in cmp["pareto"]))
    for pair, b in cmp["crossover"].items():
        if b is not None:
            console.print(f"crossover (pass@1): {pair} from budget {b}")
