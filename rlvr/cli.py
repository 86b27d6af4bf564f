"""The ``rlvr`` command line: one subcommand per stage.

Every training stage takes ``--config FILE.yaml`` and dotted ``key=value`` overrides; ``--help`` on a
stage lists every config field with its default and meaning.
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


def _add_config_args(p):
    p.add_argument("--config", help="YAML file of config values")
    p.add_argument("overrides", nargs="*", help="dotted overrides, e.g. train.lr=1e-3")


def cmd_pretrain(args) -> int:
    from .config import load_config
    from .train.pretrain import PretrainConfig, pretrain

    cfg = load_config(PretrainConfig, args.config, args.overrides)
    command = "rlvr " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    out = pretrain(cfg, resume=args.resume, command=command)
    print(f"model saved to {out}")
    return 0


def cmd_eval_base(args) -> int:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from .eval.world import world_figures, print_table
    from .utils import set_threads
    from .world import shipped_base_path

    set_threads(args.threads)
    path = args.model or str(shipped_base_path())
    model = AutoModelForCausalLM.from_pretrained(path)
    tok = AutoTokenizer.from_pretrained(path)
    res = world_figures(model, tok, n=args.n, seed=args.seed, progress=lambda s: print(s, file=sys.stderr))
    res["model"] = path
    print_table(res)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(res, indent=2))
        print(f"wrote {args.out}")
    return 0


def main(argv=None) -> int:
    from .train.pretrain import PretrainConfig

    parser = argparse.ArgumentParser(
        prog="rlvr", description="Train language models to reason with reinforcement learning "
        "against verifiable rewards.", formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("pretrain", help="train the embedded world's tiny base model on its synthetic corpus",
                       description="Next-token pretraining of a small Llama on the world's corpus of "
                       "worked solutions; writes a Hugging Face model folder with a manifest.",
                       epilog=_config_epilog(PretrainConfig), formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_config_args(p)
    p.add_argument("--resume", action="store_true", help="continue from the run directory's checkpoint")
    p.set_defaults(func=cmd_pretrain)

    p = sub.add_parser("eval-base", help="measure a world model's acceptance figures (accuracy, styles, checks)",
                       description="Sample held-out test problems at temperature 1 and report the figures "
                       "the shipped base must meet: free-style accuracy and style shares on 4-6 digit "
                       "arithmetic, forced stepwise and check accuracy, check repairs, countdown.")
    p.add_argument("model", nargs="?", help="model folder (default: the shipped base)")
    p.add_argument("--n", type=int, default=500, help="test problems per figure")
    p.add_argument("--seed", type=int, default=0, help="problem and sampling seed")
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.add_argument("--out", help="write the figures to this JSON file")
    p.set_defaults(func=cmd_eval_base)

    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as e:
        print(f"rlvr {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
