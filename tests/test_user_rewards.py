"""Batched user reward functions and the reward model, scored by one Scorer (rlvr.rewards, rlvr.reward_model)."""
import json
import sys
import warnings
from pathlib import Path

import pytest
import torch

import rlvr
from rlvr.config import ConfigError, validate
from rlvr.reward_model import RewardModel, RewardModelConfig
from rlvr.rewards import Scorer, is_batched, reward_means, score
from rlvr.tasks import get_task
from rlvr.tasks.base import Problem, Verdict

BASE = Path(rlvr.__file__).parent / "assets" / "base"          # the shipped tokenizer
MODULE = "user_rewards_mod"
SOURCE = '''
from rlvr.rewards import batched

calls = []


def by_level(prompts, completions, problems, level=None, **columns):
    """len(completion) for rows with a level, None (does not apply) for the others."""
    calls.append({"prompts": prompts, "completions": completions, "problems": problems,
                  "level": level, "columns": columns})
    levels = level if level is not None else [None] * len(completions)
    return [None if lv is None else float(len(c)) for lv, c in zip(levels, completions)]


@batched
def trl_style(completions, **kwargs):
    """A TRL reward function, marked: 1 for completions holding a digit."""
    return [float(any(ch.isdigit() for ch in c)) for c in completions]


def half(prompts, completions, problems, **columns):
    return [0.5] * len(completions)


def boom(prompts, completions, problems, **columns):
    raise RuntimeError("boom")


def short(prompts, completions, problems, **columns):
    return [1.0]


def words(prompts, completions, problems, **columns):
    return ["a lot"] * len(completions)


def not_finite(prompts, completions, problems, **columns):
    return [float("nan")] * len(completions)


def per_row(problem, completion, verdict):
    return None if verdict.parsed is None else 2.0
'''


@pytest.fixture
def mod(tmp_path, monkeypatch):
    """The module above, importable by dotted path (a fresh import for each test)."""
    (tmp_path / f"{MODULE}.py").write_text(SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, MODULE, raising=False)
    import importlib
    yield importlib.import_module(MODULE)
    sys.modules.pop(MODULE, None)


@pytest.fixture
def dataset_problems(tmp_path):
    """Problems of the dataset task from a JSONL whose even rows have a ``level`` column."""
    rows = [{"question": f"{i}+1", "answer": str(i + 1), "source": f"s{i}", **({"level": i % 3} if i % 2 == 0 else {})}
            for i in range(40)]
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    task = get_task("dataset", path=str(path), prompt="{question}", answer="answer")
    return task, task.problems("train", 6, seed=0)


def _verdicts(task, problems, texts):
    return [task.verify(p, t) for p, t in zip(problems, texts)]


def test_recognised_as_batched(mod):
    assert is_batched(mod.by_level) and is_batched(mod.trl_style) and is_batched(mod.half)
    assert not is_batched(mod.per_row)
    from rlvr.rewards import accuracy
    assert not is_batched(accuracy)


def test_a_batched_reward_by_dotted_path_gets_prompts_completions_and_columns(mod, dataset_problems):
    task, problems = dataset_problems
    texts = [f"<answer>{p.answer}</answer>" if i % 2 else "no" for i, p in enumerate(problems)]
    scorer = Scorer({"accuracy": 1.0, f"{MODULE}:by_level": 0.25, f"{MODULE}:trl_style": 2.0})
    totals, parts = scorer(problems, [p.prompt for p in problems], texts, _verdicts(task, problems, texts))
    (call,) = mod.calls
    assert call["prompts"] == [p.prompt for p in problems] and call["completions"] == texts
    assert call["problems"] == problems
    assert call["level"] == [p.meta["row"].get("level") for p in problems]
    assert call["columns"] == {k: [p.meta["row"].get(k) for p in problems] for k in ("question", "answer", "source")}
    assert call["columns"]["source"] == [f"s{int(p.meta['row']['question'].split('+')[0])}" for p in problems]
    assert any(lv is None for lv in call["level"]) and any(lv is not None for lv in call["level"])
    acc = [1.0 if i % 2 else 0.0 for i in range(len(texts))]
    lens = [None if lv is None else float(len(t)) for lv, t in zip(call["level"], texts)]
    digit = [float(any(ch.isdigit() for ch in t)) for t in texts]
    assert parts == {"accuracy": acc, "by_level": lens, "trl_style": digit}
    assert totals == [a + (0.0 if n is None else 0.25 * n) + 2.0 * d for a, n, d in zip(acc, lens, digit)]
    applied = [n for n in lens if n is not None]
    assert reward_means(parts) == {"reward/accuracy": sum(acc) / len(acc), "reward/by_level": sum(applied) / len(applied),
                                   "reward/trl_style": sum(digit) / len(digit)}


def test_tasks_without_rows_pass_no_columns_and_none_is_left_out(mod):
    problems = [Problem(id=str(i), prompt=f"{i}+1=\n", answer=str(i + 1), difficulty=1) for i in range(3)]
    verdicts = [Verdict(True, "1", True), Verdict(False, None, False), Verdict(False, "7", True)]
    totals, parts = Scorer({f"{MODULE}:by_level": 1.0, f"{MODULE}:per_row": 0.5})(
        problems, [p.prompt for p in problems], ["a", "bb", "ccc"], verdicts)
    assert mod.calls[0]["columns"] == {} and mod.calls[0]["level"] is None
    assert parts == {"by_level": [None] * 3, "per_row": [2.0, None, 2.0]} and totals == [1.0, 0.0, 1.0]
    assert reward_means(parts) == {"reward/per_row": 2.0}          # by_level applied to none: left out
    assert score(problems[1], "bb", verdicts[1], {f"{MODULE}:per_row": 1.0}) == (0.0, {"per_row": None})


@pytest.mark.parametrize("bad", ["boom", "short", "words", "not_finite"])
def test_a_failing_batched_reward_scores_zero_for_the_batch_and_warns_once(mod, bad):
    problems = [Problem(id=str(i), prompt="p", answer="1", difficulty=1) for i in range(4)]
    verdicts = [Verdict(i % 2 == 0, "1", True) for i in range(4)]
    scorer = Scorer({"accuracy": 1.0, f"{MODULE}:{bad}": 3.0, f"{MODULE}:half": 1.0})
    with pytest.warns(RuntimeWarning, match=bad):
        totals, parts = scorer(problems, ["p"] * 4, ["x"] * 4, verdicts)
    assert parts[bad] == [0.0] * 4 and totals == [1.5, 0.5, 1.5, 0.5]
    with warnings.catch_warnings():
        warnings.simplefilter("error")                              # once per run: no second warning
        assert scorer(problems, ["p"] * 4, ["x"] * 4, verdicts)[0] == totals


# ------------------------------------------------------------------------------ the reward model
def _tiny_reward_model(path, num_labels=1):
    from transformers import AutoTokenizer, LlamaConfig, LlamaForSequenceClassification

    tok = AutoTokenizer.from_pretrained(BASE)
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=128,
                      num_labels=num_labels, pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id,
                      eos_token_id=tok.eos_token_id)
    model = LlamaForSequenceClassification(cfg)
    torch.nn.init.normal_(model.score.weight, std=1.0)             # rewards well apart from 0
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def rm_dir(tmp_path_factory):
    return _tiny_reward_model(tmp_path_factory.mktemp("rm"))


PROMPTS = ["12+34=\n", "1+1=\n", "what is 7*6?\n", "9-3=\n", "100+200=\n"]
COMPLETIONS = ["<answer>46</answer>", "2", "<think>\n7 times 6\n</think>\n<answer>\n42\n</answer>", "", "300 or so"]


def _plain_forward(path, texts, max_length=None):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path).eval()
    out = []
    for text in texts:
        ids = tok(text)["input_ids"]
        if max_length is not None and len(ids) > max_length:
            ids = ids[:1] + ids[len(ids) - max_length + 1:]             # the BOS, then the text's last tokens
        with torch.no_grad():
            out.append(model(input_ids=torch.tensor([ids])).logits[0])
    return torch.stack(out)


def test_the_reward_model_equals_a_plain_forward_whatever_the_batch_size(rm_dir):
    want = _plain_forward(rm_dir, [p + c for p, c in zip(PROMPTS, COMPLETIONS)])[:, 0]
    assert want.std() > 0.01
    for batch_size in (1, 2, 16):
        got = RewardModel(RewardModelConfig(path=str(rm_dir), batch_size=batch_size))(PROMPTS, COMPLETIONS)
        assert got == pytest.approx(want.tolist(), abs=1e-5), batch_size
    # through the Scorer, by the built-in name, beside a verifier reward
    problems = [Problem(id=str(i), prompt=p, answer="1", difficulty=1) for i, p in enumerate(PROMPTS)]
    verdicts = [Verdict(i == 0, None, False) for i in range(len(PROMPTS))]
    totals, parts = Scorer({"accuracy": 1.0, "reward_model": 0.5}, RewardModelConfig(path=str(rm_dir)))(
        problems, PROMPTS, COMPLETIONS, verdicts)
    assert parts["reward_model"] == pytest.approx(want.tolist(), abs=1e-5)
    assert totals == pytest.approx([float(i == 0) + 0.5 * w for i, w in enumerate(want.tolist())], abs=1e-5)


def test_the_reward_model_cuts_from_the_left(rm_dir):
    long_prompt = "1+2+3+4+5+6+7+8+9=\n" * 8
    texts = [long_prompt + c for c in COMPLETIONS]
    want = _plain_forward(rm_dir, texts, max_length=40)[:, 0]
    got = RewardModel(RewardModelConfig(path=str(rm_dir), max_length=40, batch_size=3))([long_prompt] * 5, COMPLETIONS)
    assert got == pytest.approx(want.tolist(), abs=1e-5)


def test_two_labels_give_the_probability_of_label_1(tmp_path):
    path = _tiny_reward_model(tmp_path / "rm2", num_labels=2)
    want = _plain_forward(path, [p + c for p, c in zip(PROMPTS, COMPLETIONS)]).softmax(-1)[:, 1]
    got = RewardModel(RewardModelConfig(path=str(path), batch_size=2))(PROMPTS, COMPLETIONS)
    assert got == pytest.approx(want.tolist(), abs=1e-5) and all(0 < g < 1 for g in got)


def test_reward_model_config_errors(tmp_path):
    from rlvr.train.grpo import GRPOConfig

    with pytest.raises(ConfigError, match="rewards.reward_model: needs a model, but reward_model.path is empty; set "
                                          "reward_model.path="):
        validate(GRPOConfig(rewards={"accuracy": 1.0, "reward_model": 0.5}))
    with pytest.raises(ConfigError, match="reward_model.path: .* has 3 labels; give a model with num_labels=1"):
        RewardModel(RewardModelConfig(path=str(_tiny_reward_model(tmp_path / "rm3", num_labels=3))))
    with pytest.raises(ConfigError, match="reward_model.path: .*nowhere is not a folder"):
        validate(GRPOConfig(reward_model=RewardModelConfig(path=str(tmp_path / "nowhere"))))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="reward_model.path: cannot load a sequence-classification model"):
        RewardModel(RewardModelConfig(path=str(tmp_path / "empty")))
    with pytest.raises(ConfigError, match="reward_model.batch_size"):
        validate(GRPOConfig(reward_model=RewardModelConfig(path="x", batch_size=0)))


# ------------------------------------------------------------------------------ a real run
def test_a_short_grpo_run_logs_the_user_rewards_and_the_reward_model(mod, rm_dir, tmp_path):
    from rlvr.rollout import SamplingConfig
    from rlvr.train.grpo import GRPOConfig, train_grpo

    rewards = {"accuracy": 1.0, f"{MODULE}:half": 0.5, f"{MODULE}:boom": 0.1, "reward_model": 0.1}
    cfg = GRPOConfig(out=str(tmp_path / "run"), steps=2, prompts_per_step=2, group_size=2, eval_every=0,
                     verify_workers=0, sample_every=1, sampling=SamplingConfig(max_new_tokens=16), rewards=rewards,
                     reward_model=RewardModelConfig(path=str(rm_dir)))
    with pytest.warns(RuntimeWarning, match="boom"):
        train_grpo(cfg)
    recs = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in recs] == [1, 2]
    for r in recs:
        assert r["reward/half"] == 0.5 and r["reward/boom"] == 0.0 and "reward/reward_model" in r
        assert r["reward/accuracy"] == r["task/accuracy"]
    rm = RewardModel(RewardModelConfig(path=str(rm_dir)))
    rows = [json.loads(line) for line in (tmp_path / "run" / "samples" / "step-1.jsonl").read_text().splitlines()]
    values = rm([s["prompt"] for s in rows], [s["completion"] for s in rows])
    assert len(rows) == 4
    for s, v in zip(rows, values):                                  # each total, recomputed by hand
        assert s["reward"] == pytest.approx(float(s["correct"]) + 0.5 * 0.5 + 0.1 * v, abs=1e-5)
    assert recs[0]["reward/reward_model"] == pytest.approx(sum(values) / len(values), abs=1e-5)
