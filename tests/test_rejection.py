"""Rejection sampling: selection, verified-only output with provenance, resume by problem."""
import json
import random
import shutil

import pytest

from rlvr.config import load_config
from rlvr.models import resolve_model
from rlvr.rejection import SampleConfig, rejection_sample, select
from rlvr.tasks import get_task
from rlvr.world import shipped_base_path

pytestmark = pytest.mark.skipif(not (shipped_base_path() / "config.json").exists(), reason="no shipped base")


def test_select_filters_deduplicates_and_orders():
    texts = ["a", "bb", "a", "c", "dd"]
    lengths = [5, 3, 5, 3, 1]
    ok = [True, True, True, False, True]
    rng = random.Random(0)
    assert select(texts, lengths, ok, keep=2, order="shortest", dedup=True, rng=rng) == [4, 1]
    assert select(texts, lengths, ok, keep=0, order="shortest", dedup=True, rng=rng) == [4, 1, 0]
    assert select(texts, lengths, ok, keep=0, order="shortest", dedup=False, rng=rng) == [4, 1, 0, 2]
    picked = select(texts, lengths, ok, keep=2, order="random", dedup=True, rng=random.Random(3))
    assert len(picked) == 2 and set(picked) <= {0, 1, 4}
    assert picked == select(texts, lengths, ok, keep=2, order="random", dedup=True, rng=random.Random(3))
    assert select(texts, lengths, [False] * 5, keep=1, order="shortest", dedup=True, rng=rng) == []


def test_resolve_reads_a_run_directory(tmp_path):
    (tmp_path / "final").mkdir()
    (tmp_path / "final" / "config.json").write_text("{}")
    (tmp_path / "final" / "run.json").write_text('{"steps": 7}')
    resolve = lambda m: (resolve_model(m).path, resolve_model(m).step)  # noqa: E731
    assert resolve(str(tmp_path)) == (str(tmp_path / "final"), 7)
    assert resolve(str(tmp_path / "final")) == (str(tmp_path / "final"), 7)
    assert resolve("") == (str(shipped_base_path()), None)


ARGS = ["task.kwargs={ops: '+', min_digits: 2, max_digits: 2}", "problems=12", "n=6", "problems_per_batch=5",
        "keep=0", "sampling.max_new_tokens=48"]


def test_keeps_only_verified_traces_with_provenance_and_resumes(tmp_path):
    full = tmp_path / "full"
    data = rejection_sample(load_config(SampleConfig, None, [*ARGS, f"out={full}"]))
    rows = [json.loads(l) for l in data.read_text().splitlines()]
    probs = [json.loads(l) for l in (full / "problems.jsonl").read_text().splitlines()]
    summary = json.loads((full / "summary.json").read_text())
    task = get_task("arithmetic", ops="+", min_digits=2, max_digits=2)
    problems = {p.id: p for p in task.problems("train", 12, seed=0)}
    assert [r["id"] for r in probs] == [p.id for p in task.problems("train", 12, seed=0)]
    assert rows, "the base should get some 2-digit sums right"
    assert sum(r["kept"] for r in probs) == len(rows) <= sum(r["correct"] for r in probs)
    assert any(r["correct"] < r["n"] for r in probs)          # wrong completions were sampled, and left out
    for row in rows:                                   # only verified, well-formed completions
        v = task.verify(problems[row["problem_id"]], row["completion"])
        assert v.correct and v.format_ok
        assert row["prompt"] == problems[row["problem_id"]].prompt
    for r in probs:
        assert r["pass_rate"] == r["correct"] / 6 and r["kept"] == sum(x["problem_id"] == r["id"] for x in rows)
    assert summary["traces_kept"] == len(rows) and summary["problems"] == 12
    prov = summary["provenance"]
    assert prov["model_path"] == str(shipped_base_path()) and prov["n"] == 6 and prov["sampling"]["max_new_tokens"] == 48
    assert prov["split"] == "train" and prov["task"]["kwargs"]["ops"] == "+"
    assert summary["mean_pass_rate"] == pytest.approx(sum(r["pass_rate"] for r in probs) / 12)

    # stopped after 4 problems (mid-chunk), with a torn data line: resume writes the same dataset
    part = tmp_path / "part"
    shutil.copytree(full, part)
    (part / "summary.json").unlink()
    (part / "problems.jsonl").write_text("".join(json.dumps(r) + "\n" for r in probs[:4]) + '{"id": "arith:')
    with open(part / "data.jsonl", "a") as f:
        f.write('{"prompt": "torn')
    rejection_sample(load_config(SampleConfig, None, [*ARGS, f"out={part}"]), resume=True)
    assert (part / "data.jsonl").read_text() == data.read_text()
    assert (part / "problems.jsonl").read_text() == (full / "problems.jsonl").read_text()

    # keep 1, shortest first: one trace per problem that has one, the shortest of its correct ones
    one = rejection_sample(load_config(SampleConfig, None, [*ARGS, "keep=1", f"out={tmp_path / 'one'}"]))
    kept = [json.loads(l) for l in one.read_text().splitlines()]
    assert len(kept) == sum(r["correct"] > 0 for r in probs)
    for k in kept:
        assert k["tokens"] == min(r["tokens"] for r in rows if r["problem_id"] == k["problem_id"])
