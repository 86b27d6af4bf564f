"""The dataset task: a user's rows, columns, splits, reference answers, graders and bad data."""
import json

import pytest

from rlvr.cli import main
from rlvr.config import ConfigError
from rlvr.tasks import TaskConfig, get_task
from rlvr.tasks.arithmetic import Arithmetic
from rlvr.tasks.dataset import R1_ZERO


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


@pytest.fixture
def gsm(tmp_path):
    """60 GSM8K-like rows: a question, a worked answer ending in '#### N', a level and a note."""
    rows = [{"question": f"What is {a} plus {a + 7}?", "answer": f"{a} + {a + 7} = {2 * a + 7}\n#### {2 * a + 7:,}",
             "level": a % 3, "note": f"n{a}"} for a in range(100, 1300, 20)]
    return _write_jsonl(tmp_path / "gsm.jsonl", rows)


def test_rows_become_problems_with_a_seeded_hash_split(gsm):
    task = get_task("dataset", path=gsm, prompt="Q: {question}\nA:", difficulty="level")
    sizes = {s: len(task._load(s)) for s in ("train", "validation", "test")}
    assert sum(sizes.values()) == 60 and sizes["train"] > 35
    ids = {s: {p.id for p in task._load(s)} for s in sizes}
    assert not ids["train"] & ids["test"] and not ids["train"] & ids["validation"]
    p = next(p for s in sizes for p in task._load(s) if p.meta["row"]["question"] == "What is 100 plus 107?")
    assert p.prompt == "Q: What is 100 plus 107?\nA:" and p.answer == "207" and p.difficulty == 1
    assert p.meta["row"]["note"] == "n100"                       # every column reaches reward functions
    other = get_task("dataset", path=gsm, split_seed=1)
    assert {p.id for p in other._load("train")} != ids["train"]  # the split is seeded
    assert len(task.problems("train", 5, seed=0)) == 5
    with pytest.raises(ValueError, match="asked for 1000"):
        task.problems("train", 1000, seed=0)


def test_verdicts_read_the_answer_where_the_run_says(gsm):
    p = get_task("dataset", path=gsm).problems("train", 1, seed=0)[0]
    tag, last = get_task("dataset", path=gsm), get_task("dataset", path=gsm, answer_from="last_number")
    right = int(p.answer.replace(",", ""))
    assert tag.verify(p, f"so <answer>{right}</answer>").correct
    assert not tag.verify(p, f"so {right}").correct and last.verify(p, f"so it is {right:,}").correct
    assert not last.verify(p, f"{right} or maybe {right + 1}").correct
    assert tag.normalize(f"{right:,}") == tag.normalize(str(right))


def test_the_r1_zero_prompt(gsm):
    p = get_task("dataset", path=gsm, prompt_format="r1_zero").problems("train", 1, seed=0)[0]
    q = p.meta["row"]["question"]
    assert p.prompt == R1_ZERO.format(prompt=q) and p.prompt.endswith(f"User: {q}. Assistant:")


def test_csv_parquet_and_named_splits(tmp_path):
    datasets = pytest.importorskip("datasets")
    rows = [{"q": f"{a}+1=", "a": str(a + 1)} for a in range(40)]
    (tmp_path / "d.csv").write_text("q,a\n" + "".join(f"{r['q']},{r['a']}\n" for r in rows))
    assert len(get_task("dataset", path=str(tmp_path / "d.csv"), prompt="{q}", answer="a")._load("train")) > 20
    datasets.Dataset.from_list(rows).to_parquet(str(tmp_path / "d.parquet"))
    assert len(get_task("dataset", path=str(tmp_path / "d.parquet"), prompt="{q}", answer="a")._load("test")) > 0
    dd = datasets.DatasetDict({"train": datasets.Dataset.from_list(rows[:30]), "dev": datasets.Dataset.from_list(rows[30:])})
    dd.save_to_disk(str(tmp_path / "saved"))
    task = get_task("dataset", path=str(tmp_path / "saved"), prompt="{q}", answer="a", splits={"validation": "dev"})
    assert len(task.problems("train", 30, seed=0)) == 30 and len(task.problems("validation", 10, seed=0)) == 10
    with pytest.raises(ConfigError, match="has no split 'test'"):
        task.problems("test", 1, seed=0)


@pytest.mark.parametrize("kwargs, message", [
    ({"path": "{d}/none.jsonl"}, "task.kwargs.path: {d}/none.jsonl does not exist"),
    ({"path": "{gsm}", "answer": "solution"},
     "task.kwargs.answer: {gsm}, line 1: no column 'solution'; the columns are question, answer, level, note"),
    ({"path": "{gsm}", "prompt": "{{problem}}"}, "task.kwargs.prompt: {gsm}, line 1: no column 'problem'"),
    ({"path": "{empty}"}, "task.kwargs.answer: {empty}, line 2: the answer column 'answer' is empty"),
    ({"path": "{gsm}", "grader": "numerik"}, "task.kwargs.grader: unknown value 'numerik'; did you mean 'numeric'?"),
    ({"path": "no_such_dataset_name_anywhere"}, "task.kwargs.path: could not load the dataset 'no_such_dataset_name_anywhere' offline"),
])
def test_bad_data_is_one_line_before_anything_runs(gsm, tmp_path, capsys, kwargs, message):
    empty = _write_jsonl(tmp_path / "empty.jsonl", [{"question": "a", "answer": "1"}, {"question": "b", "answer": " "}])
    fill = {"d": tmp_path, "gsm": gsm, "empty": empty}
    kw = ", ".join(f"{k}: '{v.format(**fill)}'" for k, v in kwargs.items())
    out = tmp_path / "run"
    rc = main(["grpo", "task.name=dataset", f"task.kwargs={{{kw}}}", f"out={out}", "eval_every=0"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and message.format(**fill) in err[0], err
    assert not out.exists()


def test_grpo_trains_on_a_users_jsonl(tmp_path):
    """The world's problems as a plain JSONL (question, answer) through the dataset task and the numeric grader."""
    world = Arithmetic(ops="+-", min_digits=2, max_digits=3)
    rows = [{"question": p.prompt, "answer": p.answer} for s in ("train", "validation", "test")
            for p in world.problems(s, 80 if s == "train" else 20, seed=0)]
    data = _write_jsonl(tmp_path / "world.jsonl", rows)
    TaskConfig(name="dataset", kwargs={"path": data, "grader": "numeric"}).check()
    out = tmp_path / "run"
    assert main(["grpo", "task.name=dataset", f"task.kwargs={{path: '{data}', grader: numeric}}", f"out={out}",
                 "steps=2", "prompts_per_step=4", "group_size=4", "eval_every=2", "eval_problems=4",
                 "sampling.max_new_tokens=60"]) == 0
    recs = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in recs] == [1, 2] and "eval/accuracy" in recs[-1]


def test_a_dataset_subset_is_loaded_by_name(tmp_path):
    """A dataset with configurations (GSM8K's main and socratic) reads the one ``subset`` names."""
    import pytest

    pytest.importorskip("datasets")
    root = tmp_path / "twoconf"
    for conf, answer in (("main", "4"), ("other", "5")):
        (root / conf).mkdir(parents=True)
        (root / conf / "train.jsonl").write_text("".join(
            f'{{"question": "q{i}", "answer": "#### {answer}"}}\n' for i in range(12)))
        (root / conf / "test.jsonl").write_text('{"question": "t", "answer": "#### 1"}\n')
    (root / "README.md").write_text(
        "---\nconfigs:\n- config_name: main\n  data_files:\n  - {split: train, path: main/train.jsonl}\n"
        "  - {split: test, path: main/test.jsonl}\n- config_name: other\n  data_files:\n"
        "  - {split: train, path: other/train.jsonl}\n  - {split: test, path: other/test.jsonl}\n---\n")
    task = get_task("dataset", path=str(root), subset="other", prompt="{question}")
    assert {p.answer for p in task.problems("train", 12, seed=0)} == {"5"}
    main = get_task("dataset", path=str(root), subset="main", prompt="{question}")
    assert {p.answer for p in main.problems("train", 12, seed=0)} == {"4"}


def test_a_single_tables_split_seed_is_stated_in_the_runs_config(tmp_path):
    import yaml

    from rlvr.train.grpo import GRPOConfig, train_grpo

    data = tmp_path / "qa.jsonl"
    data.write_text("".join(json.dumps({"question": f"{i}+1=", "answer": str(i + 1)}) + "\n" for i in range(60)))
    cfg = GRPOConfig(out=str(tmp_path / "run"), task=TaskConfig("dataset", {"path": str(data)}), steps=1,
                     prompts_per_step=2, group_size=2, eval_every=0, verify_workers=0)
    cfg.sampling.max_new_tokens = 4
    train_grpo(cfg)
    written = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert written["task"]["kwargs"]["split_seed"] == 0
