"""Data parallel GRPO under a real torchrun: 2 processes on this CPU (gloo) against 1 process, the same
rollouts, metrics and weights; resume under torchrun."""
import json
import os
import subprocess
import sys

import pytest
import torch
from transformers import AutoModelForCausalLM

from rlvr.rollout import SamplingConfig
from rlvr.distributed import World, share
from rlvr.tools import ToolsConfig
from rlvr.train.grpo import GRPOConfig, train_grpo

STEPS, PROMPTS = 3, 16
ARGS = {"steps": STEPS, "prompts_per_step": PROMPTS, "group_size": 4, "lr": 1e-4, "warmup_steps": 0,
        "eval_every": 3, "eval_problems": 8, "sample_every": 1, "checkpoint_every": 1, "verify_workers": 0,
        "microbatch_size": 8}
REWARDS = {"accuracy": 1.0, "toy_rewards:digit_share": 1.0}      # spread, so the weights move


def torchrun(out, model, *extra: str) -> None:
    """``torchrun --nproc_per_node 2 -m rlvr grpo`` with the test's settings (one thread a process)."""
    overrides = [f"{k}={v}" for k, v in ARGS.items()] + ["sampling.max_new_tokens=24", "threads=1",
                                                          f"rewards={json.dumps(REWARDS)}"]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29531",
           "-m", "rlvr", "grpo", f"out={out}", f"model={model}", *overrides, *extra]
    tests = os.path.dirname(os.path.abspath(__file__))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([tests, os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]


def records(out) -> list[dict]:
    steady = lambda r: {k: v for k, v in r.items() if not k.startswith("perf/") and k != "time"}  # noqa: E731
    return [steady(json.loads(x)) for x in (out / "metrics.jsonl").read_text().splitlines()]


def assert_close(a: list[dict], b: list[dict]) -> None:
    assert len(a) == len(b) and [set(x) for x in a] == [set(x) for x in b]
    for x, y in zip(a, b):
        for k in x:
            if isinstance(x[k], float):
                assert x[k] == pytest.approx(y[k], rel=1e-6, abs=1e-6), k
            else:
                assert x[k] == y[k], k


def weights(folder) -> list[torch.Tensor]:
    return [p.detach() for p in AutoModelForCausalLM.from_pretrained(folder).parameters()]


def test_share_splits_every_group_once():
    parts = [list(share(10, World(r, 3))) for r in range(3)]
    assert parts == [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9]]


@pytest.fixture(scope="module")
def one(tmp_path_factory, tiny_dir):
    """The reference: one process, per-group seeds."""
    out = tmp_path_factory.mktemp("one") / "run"
    final = train_grpo(GRPOConfig(out=str(out), model=str(tiny_dir), sampling_seeds="group",
                                  sampling=SamplingConfig(max_new_tokens=24), rewards=REWARDS, **ARGS))
    assert not all(torch.equal(a, b) for a, b in zip(weights(tiny_dir), weights(final)))   # it learned something
    return out


@pytest.mark.parametrize("parallel", ["ddp", "fsdp"])
def test_two_ranks_match_one_process_and_resume(tmp_path, tiny_dir, one, parallel):
    torchrun(tmp_path / "two", tiny_dir, f"parallel={parallel}")
    assert_close(records(one), records(tmp_path / "two"))                   # rollouts, rewards, loss, eval
    for a, b in zip(weights(one / "final"), weights(tmp_path / "two" / "final")):
        assert torch.allclose(a, b, atol=1e-6)
    for step in range(1, STEPS + 1):                                          # the same rollouts, written once
        assert (one / "samples" / f"step-{step}.jsonl").read_text() == \
            (tmp_path / "two" / "samples" / f"step-{step}.jsonl").read_text()
    ckpt = sorted((tmp_path / "two" / "checkpoints").iterdir())[-1]
    saved = torch.load(ckpt / "state.pt", weights_only=False)["optimizer"]["state"]
    assert {type(k) for k in saved} == ({str} if parallel == "fsdp" else {int})   # FSDP's state gathered by name
    # a torchrun run cut after step 2 and resumed under torchrun ends as the whole one
    torchrun(tmp_path / "cut", tiny_dir, f"parallel={parallel}", "steps=2")
    torchrun(tmp_path / "cut", tiny_dir, f"parallel={parallel}", "--resume")
    cut = records(tmp_path / "cut")
    cut[1] = {k: v for k, v in cut[1].items() if not k.startswith("eval/")}   # the cut run's last step evaluated
    assert_close(records(tmp_path / "two"), cut)
    for a, b in zip(weights(tmp_path / "two" / "final"), weights(tmp_path / "cut" / "final")):
        assert torch.equal(a, b)


def test_the_command_line_destroys_its_process_group(tmp_path):
    """A command that ends (well or with a refused input) destroys the process group, so that gloo's threads
    are not left to interpreter shutdown (where they can abort the process)."""
    import torch.distributed as dist
    from rlvr.cli import main

    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    assert main(["report", str(tmp_path / "missing")]) == 2 and not dist.is_initialized()


def launch(*args: str) -> None:
    """``torchrun --nproc_per_node 2 -m rlvr ARGS`` (one thread a process)."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29532",
           "-m", "rlvr", *args]
    done = subprocess.run(cmd, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]


def test_eval_and_sample_share_their_problems_over_ranks(tmp_path, tiny_dir):
    from rlvr.eval.scoring import sample_many
    from rlvr.tasks import TaskConfig, get_task
    from rlvr.distributed import group_seed
    from rlvr.models import load_tokenizer

    launch("eval", str(tiny_dir), "n_problems=6", "--out", str(tmp_path / "eval"), "--samples", "2", "--k", "1,2",
           "--budgets", "8,16")                                      # the default task: the demo's arithmetic
    res = json.loads(next((tmp_path / "eval").glob("*.json")).read_text())
    # what one process samples with the same per-problem seeds, the problems sorted as eval sorts them
    task = get_task("arithmetic", ops="+-", min_digits=4, max_digits=6)
    problems = sorted(task.problems("test", 6, 0), key=lambda p: len(p.prompt))
    model, tok = AutoModelForCausalLM.from_pretrained(tiny_dir).eval(), load_tokenizer(str(tiny_dir))
    alone = sample_many(model, tok, task, problems, 2, SamplingConfig(max_new_tokens=16, seed=0, batch_size=512),
                        seeds=[group_seed(0, i) for i in range(6)])
    assert res["tokens_sampled"] == sum(len(c) for c in alone.completion_ids)
    launch("sample", f"out={tmp_path / 'sample'}", f"model={tiny_dir}", "problems=6", "n=2", "problems_per_batch=4",
           "sampling.max_new_tokens=8")
    recs = [json.loads(x) for x in (tmp_path / "sample" / "problems.jsonl").read_text().splitlines()]
    assert [r["id"] for r in recs] == [p.id for p in get_task("arithmetic", **TaskConfig().kwargs).problems("train", 6, 0)]
    assert all(r["n"] == 2 for r in recs) and (tmp_path / "sample" / "summary.json").is_file()


@pytest.mark.parametrize("parallel", ["ddp", "fsdp"])
def test_vllm_rollouts_under_torchrun(tmp_path, small_dir, parallel):
    """Each rank samples with a colocated vLLM engine that receives the new weights after every step."""
    pytest.importorskip("vllm", reason="the vllm extra is not installed")
    torchrun(tmp_path / "run", small_dir, f"parallel={parallel}", "rollout.backend=vllm", "steps=2", "eval_every=0")
    recs = records(tmp_path / "run")
    assert [r["step"] for r in recs] == [1, 2] and all(r["rollout/mismatch_kl"] < 1e-6 for r in recs)


def test_two_ranks_with_a_multi_turn_environment_match_one_process(tmp_path, tiny_dir):
    """Episodes of two turns (``toy_tools:again_episode``): each rank runs its groups' episodes, and the run
    matches one process step for step."""
    env = ["tools.environment=toy_tools:again_episode", "tools.max_calls=1", "steps=2", "eval_every=0",
           "sampling.max_new_tokens=60"]
    train_grpo(GRPOConfig(out=str(tmp_path / "one"), model=str(tiny_dir), sampling_seeds="group",
                          sampling=SamplingConfig(max_new_tokens=60), rewards=REWARDS,
                          **{**ARGS, "steps": 2, "eval_every": 0},
                          tools=ToolsConfig(environment="toy_tools:again_episode", max_calls=1)))
    torchrun(tmp_path / "two", tiny_dir, *env)
    one, two = records(tmp_path / "one"), records(tmp_path / "two")
    assert all(r["episode/turns"] > 1.0 for r in one)
    assert_close(one, two)
    for a, b in zip(weights(tmp_path / "one" / "final"), weights(tmp_path / "two" / "final")):
        assert torch.allclose(a, b, atol=1e-6)
