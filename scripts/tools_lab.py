"""The tool-use lab: how often a model calls the calculator, and how accurate it is with and without it, by
operation and digit count, on held-out problems.

    python scripts/tools_lab.py MODEL [MODEL ...] [--tool calculator] [--problems 40] [--samples 4]
                                [--json PATH] [--png PATH] [--saved JSON ...]

For each model (a model folder or a run) and each bucket (``+``, ``-`` at 2-7 digits, ``*`` at 2-5
digits, 40 validation problems each), ``--samples`` completions per problem at temperature 1:

- **with the tool**: multi-turn rollouts (``rollout/episodes.py``) where a call gets the tool's result;
- **without it**: plain sampling, where a call gets nothing and the model writes on as it will.

Reported per bucket: accuracy with and without the tool, and the share of completions that call it.
``--saved`` shows results written earlier with ``--json`` beside (or instead of) new measurements.

With ``--lie-probe N``: for each model, the first N held-out problems (``+-*`` at 4-7 digits) on which
``lying_calculator`` lies, 2 samples each with that tool: how many samples are right, how many copy the
lie, and how many right ones made no call (does the policy check the tool?).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

BUCKETS = [("+", d) for d in (2, 3, 4, 5, 6, 7)] + [("-", d) for d in (2, 3, 4, 5, 6, 7)] + [("*", d) for d in (2, 3, 4, 5)]


def bucket_problems(n: int, seed: int = 0) -> dict:
    from rlvr.tasks import get_task

    return {f"{op}{d}": get_task("arithmetic", ops=op, min_digits=2, max_digits=7).problems(
        "validation", n, seed=seed, difficulty=d) for op, d in BUCKETS}


def measure(model_dir: str, tool: str, buckets: dict, samples: int, max_new_tokens: int = 400) -> dict:
    from rlvr.models import LoadConfig, load_for_inference, resolve_model
    from rlvr.prompts import prompt_texts
    from rlvr.rollout import SamplingConfig, generate
    from rlvr.rollout.episodes import ToolEpisode, run_episodes
    from rlvr.tasks import get_task
    from rlvr.tools import ToolBox, ToolsConfig

    path = resolve_model(model_dir).path
    model, tok = load_for_inference(path, LoadConfig())
    task = get_task("arithmetic", ops="+-*", min_digits=2, max_digits=7)
    cfg = ToolsConfig(names=[tool], workers=0)
    sampling = SamplingConfig(temperature=1.0, max_new_tokens=max_new_tokens, seed=1)
    out = {}
    with ToolBox(cfg) as box:
        for name, problems in buckets.items():
            prompts = prompt_texts(tok, problems)
            rows = [p for p in problems for _ in range(samples)]
            with_tool = run_episodes(model, tok, problems, prompts, samples, sampling,
                                     lambda p: ToolEpisode(box, cfg), cfg.max_calls + 1)
            plain = generate(model, tok, prompts, n=samples, sampling=sampling)
            acc = lambda ro: sum(task.verify(p, t).correct for p, t in zip(rows, ro.text)) / len(rows)   # noqa: E731
            calls = lambda ro: sum(box.format.close in t for t in ro.text) / len(rows)                # noqa: E731
            out[name] = {"accuracy_with_tool": round(acc(with_tool), 3), "accuracy_without": round(acc(plain), 3),
                         "call_share": round(calls(with_tool), 3),
                         "tokens_with_tool": round(sum(map(len, with_tool.completion_ids)) / len(rows), 1)}
            print(f"{model_dir} {name}: {out[name]}", flush=True)
    return out


def lie_probe(model_dir: str, n: int, samples: int = 2) -> dict:
    from rlvr.models import LoadConfig, load_for_inference, resolve_model
    from rlvr.prompts import prompt_texts
    from rlvr.rollout import SamplingConfig
    from rlvr.rollout.episodes import ToolEpisode, run_episodes
    from rlvr.tasks import get_task
    from rlvr.tools import ToolBox, ToolsConfig
    from rlvr.tools.builtin import lies, lying_calculator

    model, tok = load_for_inference(resolve_model(model_dir).path, LoadConfig())
    task = get_task("arithmetic", ops="+-*", min_digits=4, max_digits=7)
    problems = [p for p in task.problems("validation", 400, seed=5) if lies(p.prompt.strip()[:-1])][:n]
    cfg = ToolsConfig(names=["lying_calculator"], workers=0, max_calls=2)
    with ToolBox(cfg) as box:
        ro = run_episodes(model, tok, problems, prompt_texts(tok, problems), samples,
                          SamplingConfig(max_new_tokens=400, seed=3), lambda p: ToolEpisode(box, cfg), cfg.max_calls + 1)
    rows = [p for p in problems for _ in range(samples)]
    right = [task.verify(p, t).correct for p, t in zip(rows, ro.text)]
    lied = [f"<answer>{lying_calculator(p.prompt.strip()[:-1])}</answer>" in t for p, t in zip(rows, ro.text)]
    return {"samples": len(rows), "right": sum(right), "copied_the_lie": sum(lied),
            "right_without_a_call": sum(r and box.format.close not in t for r, t in zip(right, ro.text))}


def table(results: dict) -> str:
    names = list(next(iter(results.values())))
    lines = ["| bucket | " + " | ".join(f"{m}: with tool / without / calls" for m in results) + " |",
             "| --- | " + " | ".join("---" for _ in results) + " |"]
    for b in names:
        cells = [f"{r[b]['accuracy_with_tool']:.2f} / {r[b]['accuracy_without']:.2f} / {r[b]['call_share']:.2f}"
                 for r in results.values()]
        lines.append(f"| {b} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(results: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharex=True)
    names = list(next(iter(results.values())))
    x = range(len(names))
    for i, (label, r) in enumerate(results.items()):
        axes[0].plot(x, [r[b]["call_share"] for b in names], "o-", color=f"C{i}", label=label)
        axes[1].plot(x, [r[b]["accuracy_with_tool"] for b in names], "o-", color=f"C{i}", label=f"{label}, tool")
        axes[1].plot(x, [r[b]["accuracy_without"] for b in names], "x--", color=f"C{i}", label=f"{label}, no tool")
    axes[0].set_ylabel("share of completions calling the tool")
    axes[1].set_ylabel("accuracy (T=1)")
    for ax in axes:
        ax.set_xticks(list(x), names, rotation=45)
        ax.set_xlabel("operation and digits")
    axes[0].legend(fontsize=7)
    axes[1].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("models", nargs="*")
    ap.add_argument("--saved", nargs="+", default=[], metavar="JSON",
                    help="results written earlier with --json, shown beside the models measured now")
    ap.add_argument("--tool", default="calculator")
    ap.add_argument("--problems", type=int, default=40)
    ap.add_argument("--samples", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json")
    ap.add_argument("--png")
    ap.add_argument("--lie-probe", type=int, default=0, metavar="N", help="probe N problems where the tool lies")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    if args.lie_probe:
        for m in args.models:
            print(m, json.dumps(lie_probe(m, args.lie_probe)))
        return 0
    if not args.models and not args.saved:
        ap.error("name a model to measure, or --saved results")
    results = {m: r for path in args.saved for m, r in json.loads(Path(path).read_text())["results"].items()}
    buckets = bucket_problems(args.problems) if args.models else {}
    results.update({m: measure(m, args.tool, buckets, args.samples) for m in args.models})
    print(table(results))
    if args.json:
        Path(args.json).write_text(json.dumps({"tool": args.tool, "problems": args.problems, "samples": args.samples,
                                               "results": results}, indent=1))
    if args.png:
        plot(results, args.png)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
