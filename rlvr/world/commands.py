"""The world's stages and commands, plugged into ``rlvr`` through entry points (``pyproject.toml``)
exactly as a user's package would plug in its own (``rlvr.plugins``): ``rlvr pretrain``, ``rlvr
demonstrate``, ``rlvr demo`` (stages, usable in experiment files and pipelines) and ``rlvr eval-base``."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from transformers import AutoModelForCausalLM, AutoTokenizer

from ..models import shipped_base_path
from ..stages import Stage
from ..utils import command_line, set_threads
from .demo import DemoConfig, run_demo
from .demonstrator import DemonstratorConfig, write_demonstrations
from .figures import print_table, world_figures
from .pretrain import PretrainConfig, pretrain


def _demonstrate_done(data: Path) -> str:
    summary = json.loads((data.parent / "summary.json").read_text())
    return f"wrote {summary['examples']} demonstrations ({summary['wrong']} with a wrong answer) to {data}"


PRETRAIN = Stage(
    "pretrain", PretrainConfig, lambda cfg, resume=False, overwrite=False: pretrain(cfg, resume, overwrite, command_line()),
    "train the embedded world's tiny base model on its synthetic corpus",
    "Next-token pretraining of a small Llama on the world's corpus of worked solutions; writes a Hugging Face "
    "model folder with a manifest.", output=lambda d: d / "model", finished="model/manifest.json",
    done=lambda out: f"model saved to {out}")

DEMONSTRATE = Stage(
    "demonstrate", DemonstratorConfig, write_demonstrations,
    "write the world's imperfect human demonstrations (an SFT dataset)",
    "Short work (or bare answers: style_weights) in the world's format, with a share of wrong final answers "
    "(error_rate, default 0.25); writes OUT/data.jsonl and OUT/summary.json.",
    output=lambda d: d / "data.jsonl", finished="summary.json", done=_demonstrate_done)

# --quick: the whole demo in well under two minutes, to check it works (not to reach the figures)
QUICK_DEMO = ("out=runs/demo-quick", "quick=true", "test_problems=40", "test_samples=2", "grpo.steps=3",
              "grpo.prompts_per_step=4", "grpo.group_size=4", "grpo.eval_every=3", "grpo.eval_problems=16",
              "grpo.sample_every=1", "grpo.checkpoint_every=2", "grpo.sampling.max_new_tokens=200")

DEMO = Stage(
    "demo", DemoConfig, run_demo, "the R1-Zero demo: evaluate the base, GRPO, evaluate, compare",
    "Evaluates the shipped base on held-out test problems, runs GRPO on 4-6 digit arithmetic, evaluates the "
    "result and prints a before/after table; writes summary.json, a PNG of accuracy and length against step "
    "and report.html.", output=lambda d: d / "summary.json", finished="summary.json",
    done=lambda out: f"demo finished: {out}", quick=QUICK_DEMO)


def cmd_eval_base(args) -> int:
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


def add_eval_base(sub) -> None:
    p = sub.add_parser("eval-base", help="measure a world model's acceptance figures (accuracy, styles, checks)",
                       description="Sample held-out test problems at temperature 1 and report the figures the "
                       "shipped base must meet: free-style accuracy and style shares on 4-6 digit arithmetic, "
                       "forced stepwise and check accuracy, check repairs, countdown.")
    p.add_argument("model", nargs="?", help="model folder (default: the shipped base)")
    p.add_argument("--n", type=int, default=500, help="problems per figure")
    p.add_argument("--split", default="test", choices=["test", "validation"],
                   help="problem split: validation to choose between models without reading the test")
    p.add_argument("--seed", type=int, default=0, help="problem and sampling seed")
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.add_argument("--max-new-tokens", type=int, default=500,
                   help="token budget of each sample (a 6-digit check trace with a repair is 460-520 tokens)")
    p.add_argument("--out", help="write the figures to this JSON file")
    p.add_argument("--into-manifest", action="store_true", help="also record the figures in the model folder's manifest.json")
    p.set_defaults(func=cmd_eval_base)
