"""Bad inputs and what rlvr says about them: each is one line naming the field and the fix, exit code 2,
and nothing written to the run directory.

    python scripts/bad_inputs.py            # prints the table (Markdown) that docs/reliability.md shows

``tests/test_bad_inputs.py`` runs every case of ``CASES`` and checks the exit code, the single line,
the expected words and the untouched run directory.
"""
from __future__ import annotations

import contextlib
import io
import sys
import tempfile
from pathlib import Path

# (what is wrong, command line, words the message must hold); {out} is a fresh run directory, {d} a
# folder holding the files that ``prepare`` writes.
CASES = [
    ("unknown key", "grpo out={out} lrr=1e-4", "lrr: unknown key; did you mean 'lr'?"),
    ("key in the wrong section", "grpo out={out} max_new_tokens=64",
     "max_new_tokens: unknown key; did you mean 'sampling.max_new_tokens'?"),
    ("unknown nested key", "grpo out={out} sampling.temprature=0.7",
     "sampling.temprature: unknown key; did you mean 'sampling.temperature'?"),
    ("unknown key in a file", "grpo --config {d}/typo.yaml out={out}",
     "group_sise: unknown config key in {d}/typo.yaml; did you mean 'group_size'?"),
    ("wrong type", "grpo out={out} lr=fast", "lr: 'fast' is not a valid float; give a number, e.g. lr=0.0001"),
    ("wrong type (whole number)", "grpo out={out} group_size=eight",
     "group_size: 'eight' is not a valid int; give a whole number, e.g. group_size=8"),
    ("section given a value", "grpo out={out} sampling=3", "sampling: expected a mapping of its fields, got 3"),
    ("K < 2", "grpo out={out} group_size=1", "group_size: must be >= 2, got 1; GRPO compares completions within a group"),
    ("negative learning rate", "grpo out={out} lr=-1e-4", "lr: must be > 0, got -0.0001; a learning rate such as lr=1e-4"),
    ("no steps", "grpo out={out} steps=0", "steps: must be >= 1, got 0"),
    ("negative temperature", "grpo out={out} sampling.temperature=-1", "sampling.temperature: must be >= 0, got -1"),
    ("top_p out of range", "grpo out={out} sampling.top_p=1.5", "sampling.top_p: must be > 0 and <= 1, got 1.5"),
    ("empty token budget", "grpo out={out} sampling.max_new_tokens=0", "sampling.max_new_tokens: must be >= 1, got 0"),
    ("budget beyond the model", "grpo out={out} sampling.max_new_tokens=5000",
     "sampling.max_new_tokens: prompts of up to 16 tokens plus 5000 new tokens exceed the model's 1024 positions; "
     "set sampling.max_new_tokens=1008 or less"),
    ("unknown choice", "grpo out={out} lr_schedule=linear", "lr_schedule: unknown value 'linear'; valid values: constant, cosine"),
    ("unknown estimator", "grpo out={out} advantage.estimator=grpoo",
     "advantage.estimator: unknown value 'grpoo'; did you mean 'grpo'?"),
    ("unknown reward", "grpo out={out} 'rewards={{accuracy: 1.0, speed: 1.0}}'",
     "rewards.speed: unknown value 'speed'; valid values: accuracy, format, partial, reward_model, tag_count, think_format_soft, think_format_strict, tool_calls (or package.module:Name for your own)"),
    ("reward model without a model", "grpo out={out} 'rewards={{accuracy: 1.0, reward_model: 0.5}}'",
     "rewards.reward_model: needs a model, but reward_model.path is empty; set reward_model.path=FOLDER"),
    ("missing reward model", "grpo out={out} 'rewards={{accuracy: 1.0, reward_model: 0.5}}' reward_model.path={d}/no-such-rm",
     "reward_model.path: {d}/no-such-rm is not a folder; give a folder written by save_pretrained"),
    ("no threads", "grpo out={out} threads=0", "threads: must be >= 1, got 0"),
    ("missing model", "grpo out={out} model={d}/no-such-model",
     "model: {d}/no-such-model is not a model folder, a run with a model, or a hub id in the local cache"),
    ("hub model not downloaded", "grpo out={out} model=no-org/no-such-model",
     "model: no-org/no-such-model is not a model folder, a run with a model, or a hub id in the local cache; "
     "point model= at a folder"),
    ("unknown device", "grpo out={out} load.device=tpu", "load.device: 'tpu' is not a device; use auto, cpu, cuda or cuda:N"),
    ("unknown dtype", "grpo out={out} load.dtype=float8", "load.dtype: unknown value 'float8'; did you mean 'float32'?"),
    ("chat prompt for a model without a chat template",
     "grpo out={out} task.name=dataset 'task.kwargs={{path: {d}/qa.jsonl, prompt_format: chat}}' eval_every=0",
     "task.kwargs.prompt_format: the tokenizer of"),
    ("unknown task", "grpo out={out} task.name=arithmatic", "task.name: unknown value 'arithmatic'; did you mean 'arithmetic'?"),
    ("unknown task argument", "grpo out={out} \"task.kwargs={{ops: '+', min_digit: 2}}\"",
     "task.kwargs.min_digit: the arithmetic task takes no argument 'min_digit'; did you mean 'min_digits'?"),
    ("bad task argument", "grpo out={out} \"task.kwargs={{ops: '/'}}\"",
     "task.kwargs: arithmetic ops must be a non-empty subset of '+-*', got '/'"),
    ("missing dataset", "grpo out={out} task.name=code 'task.kwargs={{path: {d}/none.jsonl}}' eval_every=0",
     "task.kwargs: code problems file {d}/none.jsonl does not exist"),
    ("dataset without a needed field", "grpo out={out} task.name=code 'task.kwargs={{path: {d}/no-tests.jsonl}}' eval_every=0",
     "task.kwargs: code problems file {d}/no-tests.jsonl, line 2: missing field 'tests' (each line needs name, signature and tests)"),
    ("more problems than the split", "grpo out={out} task.name=code task.kwargs={{}} eval_problems=50",
     "eval_problems: the code task has 2 validation problems; asked for 50; ask for fewer, or set eval_every=0"),
    ("missing config file", "grpo --config {d}/none.yaml out={out}", "--config: {d}/none.yaml does not exist"),
    ("broken YAML", "grpo --config {d}/broken.yaml out={out}", "--config: {d}/broken.yaml is not valid YAML at line 3"),
    ("override without =", "grpo out={out} steps", "steps: an override must look like key=value"),
    ("existing run", "grpo out={d}/old-run", "out: {d}/old-run already holds a run; pass --resume to continue it or --overwrite"),
    ("--overwrite on a folder that is no run", "grpo --overwrite out={d}/notes",
     "out: {d}/notes holds files but no run; choose a new or empty folder for out="),
    ("block longer than the model", "pretrain out={out} seq_len=2048",
     "seq_len: 2048 exceeds model.max_positions=1024; set seq_len<=1024 or raise model.max_positions"),
    ("fewer tokens than one step", "pretrain out={out} tokens=1000", "tokens: must be >= 6144, got 1000"),
    ("heads that do not divide the width", "pretrain out={out} model.heads=3",
     "model.heads: 3 heads do not divide hidden_size=128; choose heads among [1, 2, 4, 8]"),
    ("unknown corpus style", "pretrain out={out} 'corpus.style_weights={{direct: 1.0, fancy: 1.0}}'",
     "corpus.style_weights.fancy: unknown value 'fancy'; valid values: check, direct, stepwise"),
    ("demo with K < 2", "demo out={out} grpo.group_size=1", "grpo.group_size: must be >= 2, got 1"),
    ("demo without test problems", "demo out={out} test_problems=0", "test_problems: must be >= 1, got 0"),
    ("SFT without data", "sft out={out}", "data: is empty; give the training pairs, e.g. data=runs/sample/data.jsonl"),
    ("SFT data that does not exist", "sft out={out} data={d}/none.jsonl", "data: {d}/none.jsonl does not exist"),
    ("SFT example without a completion", "sft out={out} data={d}/no-completion.jsonl",
     "data: {d}/no-completion.jsonl, line 2: missing field 'completion'"),
    ("SFT example longer than a block", "sft out={out} data={d}/pairs.jsonl block_len=8",
     "block_len: the longest example has 10 tokens, more than block_len=8; set block_len=10 or more"),
    ("sampling keeps a negative count", "sample out={out} keep=-1", "keep: must be >= 0, got -1"),
    ("unknown selection order", "sample out={out} order=longest",
     "order: unknown value 'longest'; valid values: random, shortest"),
    ("demonstrations wrong more than always", "demonstrate out={out} error_rate=1.5",
     "error_rate: must be >= 0 and <= 1, got 1.5"),
    ("pipeline stage naming a later one", "run {d}/later.yaml out={out}",
     "stages.first.data: '@second' names no earlier stage and no shipped model; valid names (earlier stages, "
     "shipped models): base, base_tools, student_half, student_quarter"),
    ("--quick on a pipeline without one", "run {d}/noquick.yaml out={out} --quick",
     "--quick: {d}/noquick.yaml has no quick variant; add a quick: mapping to it"),
    ("experiment without a stage", "run {d}/nostage.yaml out={out}",
     "stage: {d}/nostage.yaml names stage None; add stage: grpo, sft, sample, distill, measure, compare, pipeline, demo, demonstrate or pretrain to the file"),
]


def prepare(d: Path) -> None:
    """The files some cases name."""
    (d / "typo.yaml").write_text("steps: 3\ngroup_sise: 4\n")
    (d / "broken.yaml").write_text("steps: 3\nlr: [0.1\n")
    (d / "nostage.yaml").write_text("steps: 3\n")
    (d / "no-tests.jsonl").write_text('{"name": "one", "signature": "def one():", "tests": [[[], 1]]}\n'
                                      '{"name": "two", "signature": "def two():"}\n')
    (d / "qa.jsonl").write_text("".join(f'{{"question": "{i}+1", "answer": "{i + 1}"}}\n' for i in range(40)))
    (d / "pairs.jsonl").write_text('{"prompt": "1+1=\\n", "completion": "<answer>2</answer>"}\n')
    (d / "no-completion.jsonl").write_text('{"prompt": "1+1=\\n", "completion": "<answer>2</answer>"}\n'
                                           '{"prompt": "2+2=\\n"}\n')
    (d / "later.yaml").write_text("stage: pipeline\nstages:\n  first: {stage: sft, data: '@second'}\n"
                                  "  second: {stage: demonstrate}\n")
    (d / "noquick.yaml").write_text("stage: pipeline\nstages:\n  demos: {stage: demonstrate}\n")
    (d / "notes").mkdir()
    (d / "notes" / "todo.txt").write_text("keep me\n")
    run = d / "old-run"
    run.mkdir()
    (run / "config.yaml").write_text("steps: 1\n")
    (run / "metrics.jsonl").write_text('{"step": 1}\n')


def run_case(argv: list[str]) -> tuple[int, str]:
    """(exit code, stderr) of ``rlvr ARGV`` run in this process."""
    from rlvr.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        rc = main(argv)
    return rc, err.getvalue()


def argv_of(command: str, out: Path, d: Path) -> list[str]:
    import shlex

    return shlex.split(command.format(out=out, d=d))


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        prepare(d)
        print("| input | command | exit | message |\n| --- | --- | --- | --- |")
        for what, command, _ in CASES:
            rc, err = run_case(argv_of(command, d / "run", d))
            shown = command.format(out="runs/x", d="data").replace("|", "\\|")
            msg = err.strip().replace(tmp, "data").replace("|", "\\|")
            print(f"| {what} | `rlvr {shown}` | {rc} | `{msg}` |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
