"""The ``rlvr`` command line: one subcommand per stage.

Every training stage takes ``--config FILE.yaml`` and dotted ``key=value`` overrides; ``--help`` on a
stage lists every config field with its default and meaning. A config is validated before anything
runs: a bad value is one line naming the field and the fix, exit code 2, nothing written. A run
directory that holds a run is continued only with ``--resume`` and replaced only with ``--overwrite``.
A run stopped by NaN or Inf losses exits with code 1.
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path


def _config_epilog(cls) -> str:
    from .config import describe

    rows = describe(cls)
    width = max(len(r[0]) for r in rows)
    lines = ["config fields (override with key=value):"]
    for name, default, doc in rows:
        lines.append(f"  {name.ljust(width)}  {doc} [default: {default}]")
    return "\n".join(lines)


def cmd_pretrain(args) -> int:
    from .config import load_config
    from .train.pretrain import PretrainConfig, pretrain

    cfg = load_config(PretrainConfig, args.config, args.overrides)
    command = "rlvr " + " ".join(shlex.quote(a) for a in args.argv)
    out = pretrain(cfg, resume=args.resume, overwrite=args.overwrite, command=command)
    print(f"model saved to {out}")
    return 0


def cmd_eval_base(args) -> int:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from .eval.world import world_figures, print_table
    from .utils import set_threads
    from .world import shipped_base_path

    if args.into_manifest and args.split != "test":
        raise ValueError("--into-manifest records the test split's figures; drop --split")
    set_threads(args.threads)
    path = args.model or str(shipped_base_path())
    model = AutoModelForCausalLM.from_pretrained(path)
    tok = AutoTokenizer.from_pretrained(path)
    manifest_path = Path(path) / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else None
    corpus = (manifest or {}).get("config", {}).get("corpus", {})
    res = world_figures(model, tok, n=args.n, seed=args.seed, progress=lambda s: print(s, file=sys.stderr),
                        countdown_kwargs=corpus.get("countdown_kwargs") or {}, max_new_tokens=args.max_new_tokens,
                        split=args.split)
    res["model"] = path
    print_table(res)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(res, indent=2))
        print(f"wrote {args.out}")
    if args.into_manifest:
        if manifest is None:
            raise FileNotFoundError(f"{manifest_path} does not exist: --into-manifest records into a model's manifest")
        manifest["figures"] = {k: v for k, v in res.items() if k != "model"}
        manifest_path.write_text(json.dumps(manifest, indent=2))
        print(f"figures recorded in {manifest_path}")
    return 0


def _int_list(text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ValueError(f"expected comma-separated integers, got {text!r}") from None


def cmd_eval(args) -> int:
    from .eval.evaluate import DEMO_TASK, EvalConfig, evaluate_models, print_tables, resolve_model, \
        run_task_config
    from .utils import set_threads

    set_threads(args.threads)
    run_task = next((t for t in map(run_task_config, args.models) if t), None)
    if args.task:
        name, kwargs = args.task, (dict(DEMO_TASK) if args.task == "arithmetic" else {})
    else:
        name, kwargs = run_task or ("arithmetic", dict(DEMO_TASK))
    for kv in args.task_arg:
        k, sep, v = kv.partition("=")
        if not sep:
            raise ValueError(f"--task-arg wants key=value, got {kv!r}")
        kwargs[k] = int(v) if v.lstrip("-").isdigit() else v
    cfg = EvalConfig(task=name, task_kwargs=kwargs, split=args.split, n_problems=args.n_problems,
                     samples=args.samples, ks=_int_list(args.k), budgets=_int_list(args.budgets),
                     temperature=args.temperature, seed=args.seed, batch_size=args.batch_size,
                     max_subsets=args.subsets, force_min=_int_list(args.force_min),
                     force_problems=args.force_problems, force_samples=args.force_samples,
                     faithfulness=args.faithfulness, markers=args.markers, aha_threshold=args.aha_threshold)
    if not cfg.budgets or min(cfg.budgets) < 1:
        raise ValueError("--budgets needs positive integers")
    if not cfg.ks or min(cfg.ks) < 1 or max(cfg.ks) > cfg.samples:
        raise ValueError(f"--k needs values between 1 and --samples ({cfg.samples})")
    out = args.out
    if out is None:
        first = args.models[0]
        out = str(Path(first) / "eval") if resolve_model(first)[0] != first else "eval"
    res = evaluate_models(args.models, cfg, out, progress=lambda s: print(s, file=sys.stderr))
    print_tables(res)
    print(f"wrote {', '.join(sorted(str(p) for p in Path(res['out']).glob('*.json')))}")
    return 0


def cmd_grpo(args) -> int:
    from .config import load_config
    from .train.grpo import GRPOConfig, train_grpo

    cfg = load_config(GRPOConfig, args.config, args.overrides)
    print(f"final policy saved to {train_grpo(cfg, resume=args.resume, overwrite=args.overwrite)}")
    return 0


def cmd_sft(args) -> int:
    from .config import load_config
    from .train.sft import SFTConfig, train_sft

    cfg = load_config(SFTConfig, args.config, args.overrides)
    print(f"final model saved to {train_sft(cfg, resume=args.resume, overwrite=args.overwrite)}")
    return 0


def cmd_sample(args) -> int:
    from .config import load_config
    from .rejection import SampleConfig, rejection_sample

    cfg = load_config(SampleConfig, args.config, args.overrides)
    data = rejection_sample(cfg, resume=args.resume, overwrite=args.overwrite)
    summary = json.loads((data.parent / "summary.json").read_text())
    print(f"kept {summary['traces_kept']} verified traces of {summary['problems']} problems "
          f"(mean pass rate {summary['mean_pass_rate']:.1%}) in {data}")
    return 0


def cmd_distill(args) -> int:
    from .config import load_config
    from .pipeline import DistillConfig, run_distill

    cfg = load_config(DistillConfig, args.config, args.overrides)
    print(f"student saved to {run_distill(cfg, resume=args.resume, overwrite=args.overwrite)}")
    return 0


def cmd_demonstrate(args) -> int:
    from .config import load_config
    from .world.demonstrator import DemonstratorConfig, write_demonstrations

    cfg = load_config(DemonstratorConfig, args.config, args.overrides)
    data = write_demonstrations(cfg, resume=args.resume, overwrite=args.overwrite)
    summary = json.loads((data.parent / "summary.json").read_text())
    print(f"wrote {summary['examples']} demonstrations ({summary['wrong']} with a wrong answer) to {data}")
    return 0


def cmd_pipeline(args) -> int:
    from .pipeline import load_pipeline, run_pipeline

    cfg, stages = load_pipeline(args.config, args.overrides, quick=args.quick)
    run_pipeline(cfg, stages, resume=args.resume, overwrite=args.overwrite)
    print(f"pipeline finished; stages, outputs and figures in {Path(cfg.out) / 'summary.json'}")
    return 0


def cmd_compare(args) -> int:
    from .compare import CompareConfig, run_compare
    from .config import load_config

    cfg = load_config(CompareConfig, args.config, args.overrides)
    command = "rlvr " + " ".join(shlex.quote(a) for a in args.argv)
    rows = run_compare(cfg, command=command, overwrite=args.overwrite)
    print(f"compared {len(rows)} variant(s); table in {cfg.doc}, rows in {cfg.out}/summary.json")
    return 0


def cmd_demo(args) -> int:
    from .config import load_config
    from .demo import DemoConfig, run_demo

    overrides = list(args.overrides)
    if args.quick:
        overrides = QUICK_DEMO + overrides
    cfg = load_config(DemoConfig, args.config, overrides)
    run_demo(cfg, quick=args.quick, resume=args.resume, overwrite=args.overwrite)
    return 0


def cmd_report(args) -> int:
    from .report import build_report

    out = build_report(args.runs, out=args.out, traces=args.traces)
    print(f"wrote {out}")
    return 0


def cmd_view(args) -> int:
    """Open RUN/report.html (built first when missing or older than the run's files)."""
    import webbrowser

    from .report import build_report

    run = Path(args.run)
    if not run.is_dir():
        raise FileNotFoundError(f"{run} is not a run directory")
    page = run / "report.html"
    newest = max((f.stat().st_mtime for f in run.rglob("*") if f.is_file() and f.suffix in (".jsonl", ".json", ".yaml")
                  and f.name != "report.html"), default=0)
    if args.rebuild or not page.exists() or page.stat().st_mtime < newest:
        build_report([run], traces=args.traces)
    url = page.resolve().as_uri()
    if args.serve is not None:
        import functools
        import http.server

        handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(run.resolve()))
        with http.server.ThreadingHTTPServer(("127.0.0.1", args.serve), handler) as srv:
            print(f"serving http://127.0.0.1:{srv.server_address[1]}/report.html (Ctrl-C to stop)", flush=True)
            try:
                srv.serve_forever()
            except KeyboardInterrupt:
                pass
        return 0
    if args.no_browser or not webbrowser.open(url):
        print(f"report: {page}\nopen {url} in a browser, or run `rlvr view {run} --serve 8000`")
    else:
        print(f"opened {page}")
    return 0


# --quick: the whole pipeline in well under two minutes, to check it works (not to reach the figures)
QUICK_DEMO = ["out=runs/demo-quick", "test_problems=40", "test_samples=2", "grpo.steps=3", "grpo.prompts_per_step=4",
              "grpo.group_size=4", "grpo.eval_every=3", "grpo.eval_problems=16", "grpo.sample_every=1",
              "grpo.checkpoint_every=2", "grpo.sampling.max_new_tokens=200"]

def cmd_run(args) -> int:
    import yaml

    from .config import ConfigError, suggest

    if not Path(args.file).is_file():
        raise ConfigError("FILE", f"{args.file} does not exist", "give an experiment YAML, e.g. configs/demo.yaml")
    try:
        data = yaml.safe_load(Path(args.file).read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError("FILE", f"{args.file} is not valid YAML ({getattr(e, 'problem', e)})", "fix its syntax") from None
    stages = {"pretrain": cmd_pretrain, "grpo": cmd_grpo, "demo": cmd_demo, "compare": cmd_compare,
              "sft": cmd_sft, "sample": cmd_sample, "distill": cmd_distill, "demonstrate": cmd_demonstrate,
              "pipeline": cmd_pipeline}
    stage = data.get("stage") if isinstance(data, dict) else None
    if stage not in stages:
        raise ConfigError("stage", f"{args.file} names stage {stage!r}",
                          f"add stage: {', '.join(list(stages)[:-1])} or {list(stages)[-1]} to the file "
                          f"({suggest(str(stage), stages, 'stages')})")
    if args.quick and stage not in ("demo", "pipeline"):
        raise ConfigError("--quick", f"a {stage} experiment has no quick variant", "run it without --quick")
    ns = argparse.Namespace(config=args.file, overrides=args.overrides, resume=args.resume, quick=args.quick,
                            overwrite=args.overwrite, argv=args.argv)
    return stages[stage](ns)


def _stage_parser(sub, name: str, help: str, description: str, cls):
    """A training stage's subcommand: its config file, dotted overrides, and every field in --help."""
    p = sub.add_parser(name, help=help, description=description, epilog=_config_epilog(cls),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", help="YAML file of config values")
    p.add_argument("overrides", nargs="*", help="dotted overrides, e.g. train.lr=1e-3")
    _run_dir_flags(p)
    return p


def _run_dir_flags(p) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--resume", action="store_true", help="continue the run in its directory from its newest valid checkpoint")
    g.add_argument("--overwrite", action="store_true", help="delete the run directory's contents and start again")


def main(argv=None) -> int:
    from .compare import CompareConfig
    from .demo import DemoConfig
    from .pipeline import DistillConfig
    from .rejection import SampleConfig
    from .train.grpo import GRPOConfig
    from .train.pretrain import PretrainConfig
    from .train.sft import SFTConfig
    from .world.demonstrator import DemonstratorConfig

    parser = argparse.ArgumentParser(
        prog="rlvr", description="Train language models to reason with reinforcement learning "
        "against verifiable rewards.", formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = _stage_parser(sub, "pretrain", "train the embedded world's tiny base model on its synthetic corpus",
                      "Next-token pretraining of a small Llama on the world's corpus of worked solutions; "
                      "writes a Hugging Face model folder with a manifest.", PretrainConfig)
    p.set_defaults(func=cmd_pretrain)

    p = sub.add_parser("eval-base", help="measure a world model's acceptance figures (accuracy, styles, checks)",
                       description="Sample held-out test problems at temperature 1 and report the figures "
                       "the shipped base must meet: free-style accuracy and style shares on 4-6 digit "
                       "arithmetic, forced stepwise and check accuracy, check repairs, countdown.")
    p.add_argument("model", nargs="?", help="model folder (default: the shipped base)")
    p.add_argument("--n", type=int, default=500, help="problems per figure")
    p.add_argument("--split", default="test", choices=["test", "validation"],
                   help="problem split: validation to choose between models without reading the test")
    p.add_argument("--seed", type=int, default=0, help="problem and sampling seed")
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.add_argument("--max-new-tokens", type=int, default=500,
                   help="token budget of each sample (a 6-digit check trace with a repair is 460-520 tokens)")
    p.add_argument("--out", help="write the figures to this JSON file")
    p.add_argument("--into-manifest", action="store_true",
                   help="also record the figures in the model folder's manifest.json")
    p.set_defaults(func=cmd_eval_base)

    p = sub.add_parser("eval", help="pass@k, maj@k, token-budget sweeps, budget forcing, behaviour analytics",
                       description="Sample held-out problems n times per model at the largest budget and "
                       "report pass@1, pass@k and maj@k at every token budget (answers cut at the budget), "
                       "the saturation knee, pass@k up to n with bootstrap intervals, accuracy and tokens "
                       "by difficulty, styles and reflection markers, length against difficulty and "
                       "correctness; optionally budget forcing and the faithfulness probe. Several models "
                       "are compared in one table with a Pareto frontier. Writes OUT/NAME.json for each "
                       "model (and OUT/comparison.json) and prints the tables.")
    p.add_argument("models", nargs="+", metavar="MODEL",
                   help="a run directory (its final/ checkpoint) or a Hugging Face model folder or id")
    p.add_argument("--task", help="task name (default: the first run directory's task, else arithmetic "
                   "4-6 digits + and -)")
    p.add_argument("--task-arg", action="append", default=[], metavar="KEY=VALUE",
                   help="task argument, e.g. --task-arg max_digits=7 (repeatable)")
    p.add_argument("--split", default="test", help="problem split")
    p.add_argument("--n-problems", type=int, default=500, help="problems evaluated")
    p.add_argument("--samples", type=int, default=16, help="samples per problem (n)")
    p.add_argument("--k", default="1,4,16", help="k values of pass@k and maj@k in the sweep")
    p.add_argument("--budgets", default="16,32,64,128,256,512",
                   help="token budgets (a geometric series); sampling runs once at the largest")
    p.add_argument("--temperature", type=float, default=1.0, help="sampling temperature")
    p.add_argument("--seed", type=int, default=0, help="seed of problems, sampling and estimates")
    p.add_argument("--batch-size", type=int, default=512, help="sequences decoded together")
    p.add_argument("--subsets", type=int, default=256, help="k-subsets per problem for maj@k")
    p.add_argument("--force-min", default="", help="minimum budgets of budget forcing, e.g. 64,128 "
                   "(default: not measured)")
    p.add_argument("--force-problems", type=int, default=100, help="problems for budget forcing")
    p.add_argument("--force-samples", type=int, default=4, help="samples per problem for budget forcing")
    p.add_argument("--faithfulness", type=int, default=0, metavar="N",
                   help="problems sampled for the faithfulness probe (default 0: not run)")
    p.add_argument("--markers", choices=["world", "nl"], default="world", help="reflection marker set")
    p.add_argument("--aha-threshold", type=float, default=0.05,
                   help="fix rate (checks that repair a wrong step, per completion) that marks the aha step")
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.add_argument("--out", help="output folder (default: MODEL/eval for a run directory, else ./eval)")
    p.set_defaults(func=cmd_eval)

    p = _stage_parser(sub, "grpo", "GRPO: reinforcement learning against the task's verifier",
                      "GRPO from a base model (R1-Zero): K rollouts per prompt, group-normalised "
                      "advantages, PPO-clipped loss, optional KL to a frozen reference.", GRPOConfig)
    p.set_defaults(func=cmd_grpo)

    p = _stage_parser(sub, "demo", "the R1-Zero demo: evaluate the base, GRPO, evaluate, compare",
                      "Evaluates the shipped base on held-out test problems, runs GRPO on 4-6 digit "
                      "arithmetic, evaluates the result and prints a before/after table; writes summary.json, "
                      "a PNG of accuracy and length against step and report.html.", DemoConfig)
    p.add_argument("--quick", action="store_true", help="a two-minute run that checks the pipeline")
    p.set_defaults(func=cmd_demo)

    p = _stage_parser(sub, "compare", "train one GRPO run per algorithm choice and tabulate them",
                      "Trains the shared grpo config once per variant (advantage estimator, loss, dynamic "
                      "sampling, curriculum) under the same seed and budget, and writes a table of steps and "
                      "seconds to the target validation accuracy, final accuracy, length and entropy into "
                      "the doc page.", CompareConfig)
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("report", help="write a run's interactive HTML report (RUN/report.html)",
                       description="Write one self-contained HTML page (plotly embedded, no network) of one "
                       "or more run directories: training curves (runs overlaid), the GRPO group at a step, "
                       "a token-by-token trace scrubber shaded by the final model's probabilities, test-time "
                       "compute from RUN/eval/*.json, the demo's before/after table, config and environment.")
    p.add_argument("runs", nargs="+", metavar="RUN", help="run directories (the first one's samples, eval "
                   "and summary fill the panels; every run's curves are overlaid)")
    p.add_argument("--out", help="output file (default: the first RUN/report.html)")
    p.add_argument("--traces", type=int, default=6, help="sampled completions scored for the scrubber (0: none)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("view", help="open a run's report in a browser (building it when needed)",
                       description="Build RUN/report.html when it is missing or older than the run's files, "
                       "then open it in the default browser; with no browser, print its path.")
    p.add_argument("run", metavar="RUN", help="run directory")
    p.add_argument("--rebuild", action="store_true", help="rebuild the report even when it is up to date")
    p.add_argument("--no-browser", action="store_true", help="only build and print the path")
    p.add_argument("--serve", type=int, nargs="?", const=8000, default=None, metavar="PORT",
                   help="serve the run directory over HTTP on 127.0.0.1:PORT instead (default 8000)")
    p.add_argument("--traces", type=int, default=6, help="sampled completions scored for the scrubber")
    p.set_defaults(func=cmd_view)

    p = _stage_parser(sub, "sft", "supervised fine-tuning: completion-only loss on (prompt, completion) pairs",
                      "Completion-only next-token training on pairs from JSONL, Parquet or a datasets dataset, "
                      "short examples packed with per-example attention and positions; evaluates through the "
                      "task's verifier on the validation split.", SFTConfig)
    p.set_defaults(func=cmd_sft)

    p = _stage_parser(sub, "sample", "rejection sampling: keep a model's verified-correct completions as a dataset",
                      "Samples n completions per problem, verifies them, keeps the correct ones (at most keep "
                      "per problem, shortest first or at random, optional format and readability filters, "
                      "duplicates dropped) and writes OUT/data.jsonl, OUT/problems.jsonl (pass rate per "
                      "problem) and OUT/summary.json (provenance). --resume skips the problems done.", SampleConfig)
    p.set_defaults(func=cmd_sample)

    p = _stage_parser(sub, "distill", "sample verified traces from a teacher, then SFT a student on them",
                      "Rejection sampling from the teacher into OUT/data, then SFT of the student on those "
                      "traces into OUT/sft.", DistillConfig)
    p.set_defaults(func=cmd_distill)

    p = _stage_parser(sub, "demonstrate", "write the world's imperfect human demonstrations (an SFT dataset)",
                      "Short work (or bare answers: style_weights) in the world's format, with a share of wrong "
                      "final answers (error_rate, default 0.25); writes OUT/data.jsonl and OUT/summary.json.", DemonstratorConfig)
    p.set_defaults(func=cmd_demonstrate)

    p = sub.add_parser("run", help="run an experiment YAML (its 'stage' key names the stage)",
                       description="Run the stage named by the file's 'stage' key (pretrain, grpo, sft, sample, "
                       "distill, demonstrate, demo, compare, or pipeline: several stages chained in one run "
                       "directory) with the rest of the file as its config.")
    p.add_argument("file", help="experiment YAML, e.g. configs/countdown_r1zero.yaml")
    p.add_argument("overrides", nargs="*", help="dotted overrides")
    p.add_argument("--quick", action="store_true", help="a pipeline's (or the demo's) small variant that checks it runs")
    _run_dir_flags(p)
    p.set_defaults(func=cmd_run)

    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    args.argv = argv
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    from .utils import TrainingDiverged

    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as e:
        print(f"rlvr {args.command}: error: {e}", file=sys.stderr)
        return 2
    except TrainingDiverged as e:
        print(f"rlvr {args.command}: stopped: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
