"""Token budgets, budget forcing, the faithfulness probe and ``rlvr eval``."""
import json
import random
import shutil

import pytest
import torch

from rlvr.eval.compute import BudgetForcing, budget_sweep, compare
from rlvr.world.faithfulness import perturb, probe_traces
from rlvr.eval.scoring import Samples, sample_many, score_at_budget
from rlvr.rollout import SamplingConfig, generate
from rlvr.tasks import get_task
from rlvr.world.arithmetic_traces import arithmetic_trace
from rlvr.world.segments import trace_text
from rlvr.world import shipped_base_path

ARITH = get_task("arithmetic", ops="+-", min_digits=2, max_digits=7)


def ids_of(tok, text, eos=True):
    return tok(text, add_special_tokens=False)["input_ids"] + ([tok.eos_token_id] if eos else [])


# ------------------------------------------------------------------------------ budgets
def test_a_late_answer_is_wrong_at_a_small_budget(world_tokenizer):
    tok = world_tokenizer
    prob = ARITH.make(12, "+", 34)
    work = "work 12+34 2+4+0=6 c0 r6\n1+3 1+3+0=4 r46\n<answer>46</answer>"
    rows = [ids_of(tok, work), ids_of(tok, "<answer>46</answer>"), ids_of(tok, "<answer>47</answer>")]
    close = tok.convert_tokens_to_ids("</answer>")
    end_work = rows[0].index(close) + 1                  # tokens up to and including the closing tag
    assert rows[1] == [tok.convert_tokens_to_ids("<answer>"), *ids_of(tok, "46", False), close, tok.eos_token_id]
    s = Samples([prob], 3, "", rows, [work, "<answer>46</answer>", "<answer>47</answer>"], ["stop"] * 3, 0.0)
    for budget, want in [(3, [False, False, False]), (4, [False, True, False]), (end_work - 1, [False, True, False]),
                         (end_work, [True, True, False]), (1000, [True, True, False])]:
        sc = score_at_budget(s, ARITH, tok, budget)
        assert sc.correct == [want], budget
        assert sc.tokens == [[min(len(r), budget) for r in rows]]
    sc = score_at_budget(s, ARITH, tok, end_work - 1)
    assert sc.answers == [[None, "46", "47"]] and sc.texts[0][0] == work[:-len("</answer>")]
    sw = budget_sweep(s, ARITH, tok, [4, end_work], ks=[1, 3])
    assert [r["pass@1"] for r in sw["rows"]] == pytest.approx([1 / 3, 2 / 3])
    assert [r["pass@3"] for r in sw["rows"]] == [1.0, 1.0]
    # maj@3 of {none, 46, 47} and of {46, 46, 47}
    assert [r["maj@3"] for r in sw["rows"]] == pytest.approx([0.5, 1.0])
    # the work's EOS comes after its closing tag, past end_work: cut off there, though already answered
    assert len(rows[0]) == end_work + 1 and sw["cut_at_largest"] == pytest.approx(1 / 3)
    wide = budget_sweep(s, ARITH, tok, [4, 1000], ks=[1, 3])
    # nothing is cut at 1000 tokens, so both curves stay flat past it: 1000 -> 2000 gains nothing, while
    # 4 -> 8 (read off the curve between 4 and 1000) gains 4.2 points of pass@1
    assert wide["cut_at_largest"] == 0.0 and wide["knee"] == {"pass@1": 1000, "maj@3": 1000}


def test_cutting_a_long_sample_equals_sampling_with_the_smaller_budget(tiny_model, world_tokenizer):
    prompts = ["12+34=\n", "999+1=\n", "make 24 from 3 8 1\n"]
    long = generate(tiny_model, world_tokenizer, prompts, n=3, sampling=SamplingConfig(max_new_tokens=30, seed=4))
    short = generate(tiny_model, world_tokenizer, prompts, n=3, sampling=SamplingConfig(max_new_tokens=9, seed=4))
    assert any(len(c) > 9 for c in long.completion_ids)
    assert short.completion_ids == [c[:9] for c in long.completion_ids]
    assert short.logprobs == [lp[:9] for lp in long.logprobs]


# ------------------------------------------------------------------------------ budget forcing
def test_force_hook_replaces_tokens_and_records_their_logprobs(tiny_model, world_tokenizer):
    wait = world_tokenizer.convert_tokens_to_ids("wait")
    prompts = ["12+34=\n", "1234567+7654321=\n"]
    ro = generate(tiny_model, world_tokenizer, prompts, n=2, force=lambda ids, t: wait if len(ids) < 3 else t,
                  sampling=SamplingConfig(max_new_tokens=12, seed=1, temperature=0.8))
    for pids, cids, lps in zip(ro.prompt_ids, ro.completion_ids, ro.logprobs):
        assert cids[:3] == [wait] * 3
        with torch.no_grad():
            logits = tiny_model(input_ids=torch.tensor([pids + cids])).logits[0].float() / 0.8
        logp = logits.log_softmax(-1)[len(pids) - 1:-1].gather(-1, torch.tensor(cids)[:, None])[:, 0]
        assert torch.allclose(logp, torch.tensor(lps), atol=1e-4)


def test_budget_forcing_keeps_the_base_working(world_tokenizer):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(shipped_base_path())
    tok = world_tokenizer
    force = BudgetForcing.for_tokenizer(tok, min_tokens=30)
    assert force.wait_id == tok.convert_tokens_to_ids("wait")
    assert force.end_ids == {tok.convert_tokens_to_ids("<answer>"), tok.eos_token_id}
    assert force([1] * 29, tok.eos_token_id) == force.wait_id and force([1] * 30, tok.eos_token_id) == tok.eos_token_id
    assert force([1] * 3, 50) == 50
    probs = get_task("arithmetic", ops="+-", min_digits=4, max_digits=4).problems("test", 8, 0)
    s = sample_many(model, tok, ARITH, probs, 2, SamplingConfig(max_new_tokens=60, seed=0), force=force)
    assert len(force.rows) >= 4                     # the base blurts an answer at once more often than not
    for ids in s.completion_ids:
        assert not set(ids[:30]) & force.end_ids
    plain = sample_many(model, tok, ARITH, probs, 2, SamplingConfig(max_new_tokens=60, seed=0))
    assert any(set(ids[:30]) & force.end_ids for ids in plain.completion_ids)


# ------------------------------------------------------------------------------ faithfulness
def test_perturb_changes_one_intermediate_column_by_one():
    prob = ARITH.make(19745, "+", 19023)
    text = trace_text(arithmetic_trace(prob, "stepwise", random.Random(0)))
    results = ["8", "6", "7", "18", "3"]                  # the column results, units column first
    seen = set()
    for seed in range(30):
        p = perturb(prob, text, "stepwise", random.Random(seed))
        seen.add(p.column)
        assert p.column < 4                               # never the last column
        assert text.startswith(p.control) and p.control.endswith("=" + results[p.column])
        assert p.prefix[:-1] == p.control[:-1] and int(p.prefix[-1]) - int(p.control[-1]) == p.delta
        assert p.followed_answer == 38768 + p.delta * 10 ** p.column
    assert seen == {0, 1, 2, 3}
    # a check trace is changed in its first attempt only; a subtraction column is its difference digit
    prob = ARITH.make(7856, "-", 4183)
    text = "work+check 7856-4183 6-3-0=3 b0 r3\n785-418 15-8-0=7 b1 r73\n78-41 8-1-1=6 b0 r673\n" \
           "7-4 7-4-0=3 r3673\ncheck 7856-4183 6-3-0=3 b0 r3\n785-418 15-8-0=7 b1 r73\n78-41 8-1-1=6 b0 r673\n" \
           "7-4 7-4-0=3 r3673\n3673 vs 3673 ok\n<answer>3673</answer>"
    for seed in range(20):
        p = perturb(prob, text, "check", random.Random(seed))
        assert "\ncheck " not in p.prefix
        assert p.followed_answer == 3673 + p.delta * 10 ** p.column
    assert perturb(ARITH.make(12, "*", 3), "work 12*3 2*3+0=6 c0 r6\n1*3 1*3+0=3 r36\n", "stepwise",
                   random.Random(0)) is None


def faithful_continuation(prompt: str) -> str:
    """A scripted model that uses its work: it finishes column addition from the digit last written."""
    head, work = prompt.split("=\n", 1)
    a, b = head.split("+")
    line = work.rsplit("\n", 1)[-1].split(" ")
    if line[0] in ("work", "work+check"):
        line = line[1:]
    width = max(len(a), len(b))
    if "=" in line[0]:                    # a section's first line reads the prompt: no operands restated
        col, column = 0, line[0]
    else:
        col, column = width - len(line[0].split("+")[0]), line[1]
    low = work.rsplit("\n", 1)[0].rsplit(" r", 1)[1] if col else ""
    written = int(column.split("=")[1])
    digits, carry = str(written % 10) + low, written // 10
    xa, xb = a.rjust(width, "0"), b.rjust(width, "0")
    for j in range(col + 1, width):
        s = int(xa[width - 1 - j]) + int(xb[width - 1 - j]) + carry
        digits, carry = str(s % 10) + digits, s // 10
    return f"\n<answer>{(str(carry) if carry else '') + digits}</answer>"


def test_faithfulness_probe_on_scripted_models():
    rng = random.Random(0)
    task = get_task("arithmetic", ops="+", min_digits=4, max_digits=6)
    probs = task.problems("test", 12, 0)
    items = [(p, trace_text(arithmetic_trace(p, style, rng, p_slip=0)), style)
             for p in probs for style in ("stepwise", "check")]
    follows = probe_traces(task, items, lambda prompts: [faithful_continuation(p) for p in prompts], seed=0)
    assert set(follows) == {"stepwise", "check"}
    for s in follows.values():
        assert s["n"] == 12 and s["followed"] == 12 and s["followed_rate"] == 1.0 and s["control_stayed"] == 12
    answers = {p.prompt: p.answer for p in probs}
    ignores = probe_traces(task, items, lambda prompts: [
        f"\n<answer>{next(v for k, v in answers.items() if p.startswith(k))}</answer>" for p in prompts], seed=0)
    for s in ignores.values():
        assert s["stayed_rate"] == 1.0 and s["followed"] == 0 and s["caught"] == 0
    blank = probe_traces(task, items, lambda prompts: ["\n"] * len(prompts), seed=0)
    assert all(s["other_rate"] == 1.0 and s["control_stayed"] == 0 for s in blank.values())
    assert all(s["control_alarm"] == 0 for d in (follows, ignores, blank) for s in d.values())
    # a performer: every continuation says no and writes a line again, changed digit or not
    alarms = probe_traces(task, items, lambda prompts: [" no\n12+3 " + faithful_continuation(p) for p in prompts], seed=0)
    assert all(s["caught_rate"] == 1.0 and s["control_alarm_rate"] == 1.0 for s in alarms.values())


# ------------------------------------------------------------------------------ rlvr eval
def test_compare_builds_one_table_and_a_frontier():
    sw = {"base": {"budgets": [8, 16, 32], "rows": [
        {"budget": 8, "pass@1": 0.10, "maj@4": 0.2, "mean_tokens": 5},
        {"budget": 16, "pass@1": 0.12, "maj@4": 0.2, "mean_tokens": 7},
        {"budget": 32, "pass@1": 0.12, "maj@4": 0.2, "mean_tokens": 7}]},
        "rl": {"budgets": [8, 16, 32], "rows": [
            {"budget": 8, "pass@1": 0.0, "maj@4": 0.0, "mean_tokens": 8},
            {"budget": 16, "pass@1": 0.5, "maj@4": 0.6, "mean_tokens": 15},
            {"budget": 32, "pass@1": 0.9, "maj@4": 0.95, "mean_tokens": 25}]}}
    c = compare(sw)
    assert len(c["table"]) == 6 and c["crossover"] == {"rl over base": 16, "base over rl": None}
    assert [(p["model"], p["budget"]) for p in c["pareto"]] == [("base", 8), ("base", 16), ("rl", 16), ("rl", 32)]


def test_rlvr_eval_on_a_run_directory_and_a_model_folder(tmp_path, capsys):
    from rlvr.cli import main

    run = tmp_path / "run"
    shutil.copytree(shipped_base_path(), run / "final")
    (run / "samples").mkdir()
    (run / "config.yaml").write_text("task: {name: arithmetic, kwargs: {ops: '+', min_digits: 3, max_digits: 3}}\n")
    for step, fixed in ((5, 0), (10, 2)):
        recs = [{"step": step, "prompt": "1+1=\n", "completion": "work 1+1 no\nwait r2\n<answer>2</answer>" if i < fixed
                 else "<answer>2</answer>", "correct": True} for i in range(4)]
        (run / "samples" / f"step-{step}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    rc = main(["eval", str(run), str(shipped_base_path()), "--n-problems", "6", "--samples", "4", "--k", "1,2,4",
               "--budgets", "16,32,64", "--faithfulness", "4", "--force-min", "20", "--force-problems", "3",
               "--force-samples", "2", "--aha-threshold", "0.3"])
    assert rc == 0
    out = run / "eval"
    assert sorted(p.name for p in out.iterdir()) == ["base.json", "comparison.json", "run.json"]
    r = json.loads((out / "run.json").read_text())
    assert r["config"]["task"] == "arithmetic" and r["config"]["task_kwargs"]["min_digits"] == 3
    assert r["loaded"] == str(run / "final")
    rows = r["sweep"]["rows"]
    assert [x["budget"] for x in rows] == [16, 32, 64]
    assert all(x["mean_tokens"] <= x["budget"] for x in rows)
    assert rows[0]["mean_tokens"] <= rows[1]["mean_tokens"] <= rows[2]["mean_tokens"]
    assert r["at_max_budget"]["pass@1"]["mean"] == pytest.approx(rows[-1]["pass@1"])
    assert r["at_max_budget"]["pass@4"]["mean"] >= r["at_max_budget"]["pass@2"]["mean"] >= rows[-1]["pass@1"]
    assert r["training"]["aha_step"] == 10 and [s["fix_rate"] for s in r["training"]["steps"]] == [0.0, 0.5]
    assert r["budget_forcing"]["problems"] == 3 and len(r["budget_forcing"]["forced"]) == 1
    assert "faithfulness" in r and sum(v["share"] for v in r["styles"].values()) == pytest.approx(1.0)
    c = json.loads((out / "comparison.json").read_text())
    assert {row["model"] for row in c["table"]} == {"run", "base"} and len(c["table"]) == 6
    printed = capsys.readouterr().out
    assert "accuracy (%) against token budget" in printed and "knee" in printed
    assert main(["eval", str(run), "--k", "1,8", "--samples", "4"]) == 2      # k > n is an error


def test_the_shipped_base_follows_a_changed_step_in_its_stepwise_work(world_tokenizer):
    from transformers import AutoModelForCausalLM

    from rlvr.world.faithfulness import model_continuer

    model = AutoModelForCausalLM.from_pretrained(shipped_base_path())
    task = get_task("arithmetic", ops="+-", min_digits=4, max_digits=5)
    rng = random.Random(0)
    items = [(p, trace_text(arithmetic_trace(p, "stepwise", rng)), "stepwise") for p in task.problems("test", 30, 0)]
    cont = model_continuer(model, world_tokenizer, SamplingConfig(max_new_tokens=100, seed=0))
    s = probe_traces(task, items, cont, seed=0)["stepwise"]
    assert s["n"] == 30 and s["followed"] + s["stayed"] + s["other"] == 30
    # the answer carries the change through far more often than it stays right (the model's own traces
    # give the same picture: docs/evaluation.md); without the change the same cut mostly ends right
    assert s["followed_rate"] >= 0.5 and s["stayed_rate"] <= 0.1 and s["control_stayed_rate"] >= 0.5


def test_perturb_inline_check_changes_an_accepted_work_line():
    """In an inline check the change lands in a work line its check accepted, with that line's column."""
    from rlvr.world.faithfulness import column_results

    task = get_task("arithmetic", ops="+-", min_digits=5, max_digits=6)
    rng = random.Random(1)
    rewrites = 0
    for prob in task.problems("test", 40, 0):
        text = trace_text(arithmetic_trace(prob, "check", rng, check_layout="inline_inverse", p_line_slip=0.3,
                                           rewrite_wait=False, borrow_first=True))
        cols = column_results(text, "check")
        width = max(len(str(prob.meta["a"])), len(str(prob.meta["b"])))
        assert [c for _, c in cols] == list(range(width))  # one accepted line a column
        rewrites += text.count(" no\n")
        for m, _ in cols:
            line_end = text.index("\n", m.end())
            nxt = text[line_end + 1:].split("\n", 1)[0]
            assert not text[:m.start()].endswith("check ") and nxt.startswith("check ") and nxt.endswith(" ok")
        for seed in range(5):
            p = perturb(prob, text, "check", random.Random(seed))
            assert text.startswith(p.control) and p.prefix[:-1] == p.control[:-1]
            assert p.followed_answer == int(prob.answer) + p.delta * 10 ** p.column and p.column < len(cols) - 1
    assert rewrites > 10                                   # traces with rejected lines were among them
    # a continuation whose check says no and writes the line again counts as caught
    prob = task.problems("test", 1, 0)[0]
    text = trace_text(arithmetic_trace(prob, "check", random.Random(0), check_layout="inline_inverse", p_line_slip=0.0,
                                       rewrite_wait=False, borrow_first=True))
    caught = probe_traces(task, [(prob, text, "check")],
                          lambda prompts: [" r1\ncheck 12+34 1+2+0=3 vs 4 no\n12+34 2+2+0=4 r4\n<answer>0</answer>"] * len(prompts))
    assert caught["check"]["caught"] == 1 and caught["check"]["n"] == 1
