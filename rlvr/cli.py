"""The ``rlvr`` command line: one subcommand per stage of the stage registry, plus eval, report, view, run.

Every stage takes ``--config FILE.yaml`` and dotted ``key=value`` overrides; ``--help`` on a stage lists
every config field with its default and meaning. ``rlvr eval`` reads YAML and overrides the same way
(its flags are shortcuts). A config is validated before anything runs: a bad value is one line naming
the field and the fix, exit code 2, nothing written. A run directory that holds a run is continued only
with ``--resume`` and replaced only with ``--overwrite``. A run stopped by NaN or Inf losses exits with
code 1. Installed packages add stages and commands (``rlvr.plugins``); the embedded world adds pretrain,
demonstrate, demo and eval-base.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import yaml

from .config import ConfigError, apply_overrides, describe, from_dict, load_config, suggest, to_dict, validate
from .distributed import close_world
from .eval.evaluate import EvalConfig, evaluate_models, print_tables, run_task_config
from .models import resolve_model
from .plugins import plugins
from .report import build_report
from .report.view import view
from .stages import STAGES, Stage
from .utils import TrainingDiverged, quiet_library_progress, set_command_line, set_threads


def _config_epilog(cls) -> str:
    rows = describe(cls)
    width = max(len(r[0]) for r in rows)
    lines = ["config fields (override with key=value):"]
    for name, default, doc in rows:
        lines.append(f"  {name.ljust(width)}  {doc} [default: {default}]")
    return "\n".join(lines)


def _run_dir_flags(p) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--resume", action="store_true", help="continue the run in its directory from its newest valid checkpoint")
    g.add_argument("--overwrite", action="store_true", help="delete the run directory's contents and start again")


def run_stage(stage: Stage, config, overrides: list[str], resume=False, overwrite=False, quick=False) -> int:
    if quick and not (stage.quick or stage.load):
        raise ConfigError("--quick", f"a {stage.name} run has no quick variant", "run it without --quick")
    cfg = stage.config(config, overrides, quick=quick)
    done = stage.done(stage.run(cfg, resume=resume, overwrite=overwrite))
    if os.environ.get("RANK", "0") == "0":           # under torchrun, rank 0 speaks for the run
        print(done)
    return 0


def _add_stage(sub, stage: Stage) -> None:
    """A stage's subcommand: its config file, dotted overrides, and every field in --help."""
    p = sub.add_parser(stage.name, help=stage.help, description=stage.description,
                       epilog=_config_epilog(stage.cls), formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", help="YAML file of config values")
    p.add_argument("overrides", nargs="*", help="dotted overrides, e.g. lr=1e-3")
    if stage.quick or stage.load:
        p.add_argument("--quick", action="store_true", help="a small run that checks it works")
    _run_dir_flags(p)
    p.set_defaults(func=lambda a: run_stage(stage, a.config, a.overrides, a.resume, a.overwrite,
                                            getattr(a, "quick", False)))


def cmd_run(args) -> int:
    if not Path(args.file).is_file():
        raise ConfigError("FILE", f"{args.file} does not exist", "give an experiment YAML, e.g. configs/demo.yaml")
    try:
        data = yaml.safe_load(Path(args.file).read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError("FILE", f"{args.file} is not valid YAML ({getattr(e, 'problem', e)})", "fix its syntax") from None
    stage = data.get("stage") if isinstance(data, dict) else None
    if stage not in STAGES:
        names = list(STAGES)
        raise ConfigError("stage", f"{args.file} names stage {stage!r}",
                          f"add stage: {', '.join(names[:-1])} or {names[-1]} to the file "
                          f"({suggest(str(stage), names, 'stages')})")
    return run_stage(STAGES[stage], args.file, args.overrides, args.resume, args.overwrite, args.quick)


# ------------------------------------------------------------------------------ eval
# flag -> config field: the flags are shortcuts for dotted overrides
EVAL_FLAGS = {"split": "split", "n_problems": "n_problems", "samples": "samples", "k": "ks",
              "budgets": "budgets", "temperature": "temperature", "seed": "seed", "batch_size": "batch_size",
              "subsets": "max_subsets", "force_min": "force_min", "force_problems": "force_problems",
              "force_samples": "force_samples", "faithfulness": "probes.faithfulness", "markers": "markers",
              "aha_threshold": "aha_threshold"}
LIST_FLAGS = ("k", "budgets", "force_min")


def eval_config(args, models: list[str], overrides: list[str]) -> EvalConfig:
    """The eval config: its defaults (with the first run directory's task), then the YAML file, then the
    flags, then the dotted overrides; ``--task-arg`` sets task arguments last."""
    data = to_dict(load_config(EvalConfig, args.config) if args.config else EvalConfig())
    in_file = (yaml.safe_load(Path(args.config).read_text()) or {}) if args.config else {}
    run_task = next((t for t in map(run_task_config, models) if t), None)
    if run_task and "task" not in in_file:            # a run directory's own task, unless the file names one
        data["task"], data["task_kwargs"] = run_task[0], dict(run_task[1])
    if args.task and args.task != data["task"]:
        data["task"], data["task_kwargs"] = args.task, {}
    if args.faithfulness is not None:
        data["probes"].setdefault("faithfulness", 0)
    flags = [f"{key}=[{getattr(args, flag)}]" if flag in LIST_FLAGS else f"{key}={getattr(args, flag)}"
             for flag, key in EVAL_FLAGS.items() if getattr(args, flag) is not None]
    cfg = from_dict(EvalConfig, apply_overrides(data, flags + overrides))
    for kv in args.task_arg:
        k, sep, v = kv.partition("=")
        if not sep:
            raise ConfigError("--task-arg", f"wants key=value, got {kv!r}", "e.g. --task-arg max_digits=7")
        cfg.task_kwargs[k] = yaml.safe_load(v)
    cfg.probes = {k: n for k, n in cfg.probes.items() if n}
    validate(cfg)
    return cfg


def cmd_eval(args) -> int:
    overrides = [a for a in args.items if "=" in a and not Path(a).exists()]
    models = [a for a in args.items if a not in overrides]
    if not models:
        raise ConfigError("MODEL", "no model given", "name a run directory or a model folder")
    set_threads(args.threads)
    cfg = eval_config(args, models, overrides)
    out = args.out
    if out is None:
        first = models[0]
        out = str(Path(first) / "eval") if resolve_model(first).path != first else "eval"
    res = evaluate_models(models, cfg, out, progress=lambda s: print(s, file=sys.stderr))
    if not res["main"]:                              # under torchrun, rank 0 reports
        return 0
    print_tables(res)
    print(f"wrote {', '.join(sorted(str(p) for p in Path(res['out']).glob('*.json')))}")
    return 0


def _add_eval(sub) -> None:
    p = sub.add_parser("eval", help="pass@k, maj@k, token-budget sweeps, budget forcing, behaviour analytics",
                       description="Sample held-out problems n times per model at the largest budget and report "
                       "pass@1, pass@k and maj@k at every token budget (answers cut at the budget), the saturation "
                       "knee, pass@k up to n with bootstrap intervals, accuracy and tokens by difficulty, styles and "
                       "reflection markers, length against difficulty and correctness; optionally budget forcing and "
                       "the probes of installed plugins. Several models are compared in one table with a Pareto "
                       "frontier. Writes OUT/NAME.json for each model (and OUT/comparison.json) and prints the "
                       "tables. Config: --config FILE.yaml and key=value overrides; the flags are shortcuts.",
                       epilog=_config_epilog(EvalConfig), formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("items", nargs="+", metavar="MODEL or KEY=VALUE",
                   help="run directories, model folders or hub ids; and dotted overrides, e.g. samples=8")
    p.add_argument("--config", help="YAML file of eval config values")
    p.add_argument("--task", help="task name (default: the first run directory's task, else arithmetic 4-6 digits + and -)")
    p.add_argument("--task-arg", action="append", default=[], metavar="KEY=VALUE",
                   help="task argument, e.g. --task-arg max_digits=7 (repeatable)")
    for flag, kind, doc in (("split", str, "problem split"), ("n-problems", int, "problems evaluated"),
                            ("samples", int, "samples per problem (n)"), ("k", str, "k values, e.g. 1,4,16"),
                            ("budgets", str, "token budgets, e.g. 16,32,64,128,256,512"),
                            ("temperature", float, "sampling temperature"), ("seed", int, "seed"),
                            ("batch-size", int, "sequences decoded together"),
                            ("subsets", int, "k-subsets per problem for maj@k"),
                            ("force-min", str, "minimum budgets of budget forcing, e.g. 64,128"),
                            ("force-problems", int, "problems for budget forcing"),
                            ("force-samples", int, "samples per problem for budget forcing"),
                            ("faithfulness", int, "problems sampled for the faithfulness probe (probes.faithfulness)"),
                            ("markers", str, "reflection marker set: world, nl or auto (the default: world for the world's tasks)"),
                            ("aha-threshold", float, "fix rate that marks the aha step")):
        p.add_argument(f"--{flag}", type=kind, default=None, help=doc)
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.add_argument("--out", help="output folder (default: MODEL/eval for a run directory, else ./eval)")
    p.set_defaults(func=cmd_eval)


# ------------------------------------------------------------------------------ report, view
def cmd_report(args) -> int:
    print(f"wrote {build_report(args.runs, out=args.out, traces=args.traces)}")
    return 0


def cmd_view(args) -> int:
    """Open RUN/report.html (built first when missing or older than the run's files)."""
    return view(Path(args.run), rebuild=args.rebuild, no_browser=args.no_browser, serve=args.serve, traces=args.traces)


def _add_report(sub) -> None:
    p = sub.add_parser("report", help="write a run's interactive HTML report (RUN/report.html)",
                       description="Write one self-contained HTML page (plotly embedded, no network) of one or more "
                       "run directories: training curves (runs overlaid), the GRPO group at a step, a token-by-token "
                       "trace scrubber shaded by the final model's probabilities, test-time compute from "
                       "RUN/eval/*.json, the demo's before/after table, config and environment.")
    p.add_argument("runs", nargs="+", metavar="RUN", help="run directories (the first one's samples, eval and "
                   "summary fill the panels; every run's curves are overlaid)")
    p.add_argument("--out", help="output file (default: the first RUN/report.html)")
    p.add_argument("--traces", type=int, default=6, help="sampled completions scored for the scrubber (0: none)")
    p.set_defaults(func=cmd_report)
    p = sub.add_parser("view", help="open a run's report in a browser (building it when needed)",
                       description="Build RUN/report.html when it is missing or older than the run's files, then "
                       "open it in the default browser; with no browser, print its path.")
    p.add_argument("run", metavar="RUN", help="run directory")
    p.add_argument("--rebuild", action="store_true", help="rebuild the report even when it is up to date")
    p.add_argument("--no-browser", action="store_true", help="only build and print the path")
    p.add_argument("--serve", type=int, nargs="?", const=8000, default=None, metavar="PORT",
                   help="serve the run directory over HTTP on 127.0.0.1:PORT instead (default 8000)")
    p.add_argument("--traces", type=int, default=6, help="sampled completions scored for the scrubber")
    p.set_defaults(func=cmd_view)


def _add_run(sub) -> None:
    p = sub.add_parser("run", help="run an experiment YAML (its 'stage' key names the stage)",
                       description=f"Run the stage named by the file's 'stage' key ({', '.join(STAGES)}) with the "
                       "rest of the file as its config.")
    p.add_argument("file", help="experiment YAML, e.g. configs/countdown_r1zero.yaml")
    p.add_argument("overrides", nargs="*", help="dotted overrides")
    p.add_argument("--quick", action="store_true", help="a pipeline's (or the demo's) small variant that checks it runs")
    _run_dir_flags(p)
    p.set_defaults(func=cmd_run)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rlvr", description="Train language models to reason with reinforcement "
                                "learning against verifiable rewards.", formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for stage in STAGES.values():
        _add_stage(sub, stage)
    _add_eval(sub)
    _add_report(sub)
    _add_run(sub)
    for add in plugins("rlvr.commands").values():
        add(sub)
    return p


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser().parse_args(argv)
    if not getattr(args, "func", None):
        parser().print_help()
        return 0
    set_command_line(argv)
    quiet_library_progress()
    try:
        code = args.func(args)
    except (ValueError, FileNotFoundError) as e:
        print(f"rlvr {args.command}: error: {e}", file=sys.stderr)
        code = 2
    except TrainingDiverged as e:
        print(f"rlvr {args.command}: stopped: {e}", file=sys.stderr)
        code = 1
    close_world()                          # errors above are raised on every rank (distributed.on_main)
    return code


if __name__ == "__main__":
    sys.exit(main())
