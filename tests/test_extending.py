"""docs/extending.md's examples, run as written: the page's code blocks become a package ``my_ext``."""
import json
import os
import re
import sys
from pathlib import Path

import pytest
import torch

from rlvr.algorithms.advantages import AdvantageConfig, compute_advantages
from rlvr.algorithms.losses import LossConfig, policy_loss
from rlvr.cli import main
from rlvr.config import ConfigError, load_config
from rlvr.rewards import Scorer, is_batched, reward_means, score
from rlvr.tasks import TaskConfig, get_task
from rlvr.train.grpo import GRPOConfig

PAGE = Path(__file__).resolve().parent.parent / "docs" / "extending.md"
BLOCK = re.compile(r"<!-- file: (\S+) -->\n```\w*\n(.*?)```", re.S)


@pytest.fixture(scope="module")
def ext(tmp_path_factory):
    """The page's files written out, importable as ``my_ext``; the folder they are in."""
    root = tmp_path_factory.mktemp("ext")
    files = dict(BLOCK.findall(PAGE.read_text()))
    assert set(files) == {"my_ext/tasks.py", "my_ext/rewards.py", "my_ext/batched.py", "my_ext/advantages.py",
                          "my_ext/losses.py", "my_ext.yaml"}
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    (root / "my_ext" / "__init__.py").write_text("")
    sys.path.insert(0, str(root))                 # this process, and the verifier's worker processes:
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([str(root)] + ([old] if old else []))
    yield root
    sys.path.remove(str(root))
    if old is None:
        del os.environ["PYTHONPATH"]
    else:
        os.environ["PYTHONPATH"] = old
    for name in [m for m in sys.modules if m == "my_ext" or m.startswith("my_ext.")]:
        del sys.modules[name]


def test_the_task_by_dotted_path(ext):
    TaskConfig(name="my_ext.tasks:ListSum", kwargs={"max_terms": 3}).check()
    task = get_task("my_ext.tasks:ListSum", max_terms=3)
    train = task.problems("train", 50, seed=0)
    test = task.problems("test", 20, seed=0)
    assert len(train) == 50 and not {p.id for p in train} & {p.id for p in test}
    p = train[0]
    assert sum(map(int, p.id.split("+"))) == int(p.answer) and p.prompt == p.id + "=\n"
    assert task.verify(p, f"<answer>{p.answer}</answer>").correct
    assert not task.verify(p, f"<answer>{int(p.answer) + 1}</answer>").correct
    assert not task.verify(p, "no answer at all").correct
    with pytest.raises(ConfigError, match="kwargs: max_terms must be at least 2"):
        TaskConfig(name="my_ext.tasks:ListSum", kwargs={"max_terms": 1}).check()


def test_the_reward_by_dotted_path(ext):
    task = get_task("my_ext.tasks:ListSum")
    p = task.problems("train", 1, seed=0)[0]
    right = f"<answer>{p.answer}</answer>"
    total, parts = score(p, right, task.verify(p, right), {"accuracy": 1.0, "my_ext.rewards:brevity": 0.1})
    assert parts == {"accuracy": 1.0, "brevity": 1 - len(right) / 400}
    assert total == pytest.approx(1.0 + 0.1 * (1 - len(right) / 400))


def test_the_batched_reward_by_dotted_path(ext):
    from my_ext.batched import mentions_unit

    assert is_batched(mentions_unit)
    task = get_task("my_ext.tasks:ListSum")
    ps = task.problems("train", 2, seed=0)
    ps[0].meta["row"] = {"unit": "km"}                          # as the dataset task's rows carry
    texts = ["12 km", "12"]
    verdicts = [task.verify(p, t) for p, t in zip(ps, texts)]
    scorer = Scorer({"accuracy": 1.0, "my_ext.batched:mentions_unit": 0.5})
    totals, parts = scorer(ps, [p.prompt for p in ps], texts, verdicts)
    assert parts["mentions_unit"] == [1.0, None] and totals == [0.5, 0.0]
    assert reward_means(parts) == {"reward/accuracy": 0.0, "reward/mentions_unit": 1.0}


def test_the_estimator_by_dotted_path(ext):
    r, g = torch.tensor([1.0, 0.0, 0.0, 5.0, 1.0, 1.0]), torch.tensor([0, 0, 0, 1, 1, 1])
    adv = compute_advantages(r, g, AdvantageConfig(estimator="my_ext.advantages:median_baseline"))
    assert adv.tolist() == [1.0, 0.0, 0.0, 4.0, 0.0, 0.0]


def test_the_loss_by_dotted_path(ext):
    logp = torch.log(torch.tensor([[0.5, 0.25], [0.5, 1.0]])).requires_grad_()
    old = torch.log(torch.tensor([[0.25, 0.25], [0.5, 0.5]]))
    mask = torch.tensor([[1.0, 1.0], [1.0, 0.0]])
    loss, m = policy_loss(logp, old, None, torch.tensor([1.0, -1.0]), mask,
                          LossConfig(loss="my_ext.losses:vanilla_pg"), 200)
    # ratios 2, 1 (row 0, A = 1) and 1 (row 1, A = -1); token-mean over 3 tokens: (-2 - 1 + 1) / 3
    assert loss.item() == pytest.approx(-2 / 3) and m["loss/ratio_max"] == pytest.approx(2.0)


def test_a_misspelled_dotted_path_is_one_line_before_anything_runs(ext, tmp_path, capsys):
    rc = main(["grpo", "task.name=my_ext.tasks:ListSumm", f"out={tmp_path / 'run'}"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "task.name: module 'my_ext.tasks' has no 'ListSumm'" in err[0]
    assert not (tmp_path / "run").exists()


def test_the_page_config_trains_with_all_four(ext, tmp_path):
    cfg = load_config(GRPOConfig, ext / "my_ext.yaml")
    assert cfg.advantage.estimator == "my_ext.advantages:median_baseline"
    out = tmp_path / "run"
    assert main(["grpo", "--config", str(ext / "my_ext.yaml"), f"out={out}", "steps=2", "prompts_per_step=4",
                 "group_size=4", "eval_every=2", "eval_problems=8", "sampling.max_new_tokens=40"]) == 0
    recs = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in recs] == [1, 2]
    assert all("reward/brevity" in r and "loss/ratio_max" in r for r in recs)
    assert not any("reward/mentions_unit" in r for r in recs)     # the task has no rows: it never applies
    assert (out / "final" / "config.json").exists()


def test_the_python_entry_point_trains_with_the_yaml_config_classes(tmp_path):
    import subprocess

    import rlvr
    from rlvr import GRPOConfig, SamplingConfig, TaskConfig, train_grpo

    assert set(rlvr.__all__) >= {"GRPOConfig", "train_grpo", "SFTConfig", "EvalConfig", "get_task", "load_config"}
    cfg = GRPOConfig(out=str(tmp_path / "nb"), steps=1, prompts_per_step=2, group_size=2, eval_every=0,
                     task=TaskConfig(name="arithmetic", kwargs={"ops": "+", "min_digits": 2, "max_digits": 2}),
                     sampling=SamplingConfig(max_new_tokens=30))
    assert (train_grpo(cfg) / "config.json").exists()
    # importing the package alone loads neither torch nor transformers
    probe = "import sys, rlvr; print('torch' in sys.modules, 'transformers' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).stdout.split() == ["False", "False"]
