"""The mix task: shares drawn by weight, each problem verified by its own task, splits kept, bad specs refused."""
import pytest

from rlvr.config import ConfigError, validate
from rlvr.tasks import TaskConfig, get_task

SPEC = [{"name": "arithmetic", "kwargs": {"ops": "+-", "min_digits": 4, "max_digits": 6}, "weight": 3},
        {"name": "countdown", "kwargs": {"min_numbers": 3, "max_numbers": 3}, "weight": 1}]


def test_shares_follow_the_weights_and_each_problem_is_its_own_tasks():
    mix = get_task("mix", tasks=SPEC)
    probs = mix.problems("train", 800, seed=0)
    cd = [p for p in probs if p.meta["mix"] == 1]
    assert abs(len(cd) / 800 - 0.25) < 0.05 and len({p.id for p in probs}) == 800
    assert all(p.prompt.startswith("make ") for p in cd)
    assert [p.id for p in cd] == [p.id for p in get_task("countdown", **SPEC[1]["kwargs"]).problems("train", len(cd), 0)]
    arith = next(p for p in probs if p.meta["mix"] == 0)
    assert mix.verify(arith, f"<answer>{arith.answer}</answer>").correct
    assert not mix.verify(arith, "<answer>0</answer>").correct
    hit = next(p for p in cd)
    assert mix.verify(hit, f"<answer>{hit.answer}</answer>").correct
    assert mix.problems("train", 800, seed=0) == probs and mix.problems("train", 800, seed=1) != probs
    assert not set(p.id for p in probs) & set(p.id for p in mix.problems("test", 200, seed=0))
    assert mix.verify(get_task("arithmetic").problems("train", 1, 0)[0], "<answer>1</answer>").info["reason"] == \
        "not a problem of this mix"


@pytest.mark.parametrize("tasks, message", [
    (None, "mix needs tasks"), ([], "mix needs tasks"), ([{"kwargs": {}}], "mapping of name"),
    ([{"name": "countdown", "weight": 0}], "weight must be a number > 0"),
    ([{"name": "countdown", "weight": 1, "extra": 2}], "mapping of name"),
    ([{"name": "mix", "kwargs": {"tasks": SPEC}}], "cannot hold a mix"),
])
def test_bad_mixes_are_config_errors(tasks, message):
    with pytest.raises(ConfigError, match=message):
        validate(TaskConfig(name="mix", kwargs={"tasks": tasks}))
