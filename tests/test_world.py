import random
import re

import pytest

from rlvr.tasks import get_task
from rlvr.config import ConfigError
from rlvr.world.arithmetic_traces import arithmetic_trace
from rlvr.world.corpus import CorpusConfig, documents, tokenize_documents
from rlvr.world.segments import trace_text


def test_tokenizer_round_trips_every_corpus_character(world_tokenizer):
    docs = list(documents(CorpusConfig(seed=1), 3000))
    text = "".join(trace_text(d) for d in docs)
    chars = sorted(set(text))
    assert world_tokenizer.unk_token_id not in world_tokenizer("".join(chars))["input_ids"]
    for d in docs[:500]:
        t = trace_text(d)
        ids = world_tokenizer(t)["input_ids"]
        assert ids[0] == world_tokenizer.bos_token_id
        assert world_tokenizer.decode(ids, skip_special_tokens=True) == t


def test_tokenizer_words_are_single_tokens(world_tokenizer):
    for w in ["<answer>", "</answer>", "work", "check", "wait"]:
        assert len(world_tokenizer(w, add_special_tokens=False)["input_ids"]) == 1
    assert len(world_tokenizer("12+34", add_special_tokens=False)["input_ids"]) == 5


def test_corpus_mixture_and_correctness():
    cfg = CorpusConfig(seed=0)
    docs = list(documents(cfg, 2000))
    styles = {"direct": 0, "stepwise": 0, "check": 0}
    arith = get_task("arithmetic", ops="+-*")
    cd = get_task("countdown")
    for d in docs:
        prompt, completion = d[0].text, trace_text(d[1:])
        task = cd if prompt.startswith("make") else arith
        styles[task.style_of(completion)] += 1
    share = {k: v / len(docs) for k, v in styles.items()}
    assert abs(share["direct"] - 0.70) < 0.04 and abs(share["check"] - 0.13) < 0.03
    # documents are deterministic in the seed
    assert [trace_text(d) for d in documents(cfg, 50)] == [trace_text(d) for d in docs[:50]]
    # Countdown's own style mixture; arithmetic keeps style_weights
    own = CorpusConfig(seed=0, countdown_style_weights={"direct": 0.95, "stepwise": 0.05})
    docs2 = list(documents(own, 3000))
    cd_styles = [cd.style_of(trace_text(d[1:])) for d in docs2 if d[0].text.startswith("make")]
    ar_styles = [arith.style_of(trace_text(d[1:])) for d in docs2 if not d[0].text.startswith("make")]
    assert abs(cd_styles.count("direct") / len(cd_styles) - 0.95) < 0.03 and "check" not in cd_styles
    assert abs(ar_styles.count("direct") / len(ar_styles) - 0.70) < 0.03
    with pytest.raises(ConfigError, match="countdown_style_weights"):
        CorpusConfig(countdown_style_weights={"bare": 1.0}).check()


def test_corpus_problems_come_from_train_split_only():
    from rlvr.tasks.base import split_of

    arith = get_task("arithmetic", ops="+-*")
    for d in documents(CorpusConfig(seed=2, task_weights={"arithmetic": 1.0}), 300):
        prompt = d[0].text
        a, op, b = None, None, None
        for o in "+-*":
            if o in prompt:
                a, b = prompt.rstrip("=\n").split(o)
                op = o
        assert split_of(arith.make(int(a), op, int(b)).id) == "train"


def test_slips_are_masked_out_of_the_loss(world_tokenizer):
    from rlvr.tasks.arithmetic import Arithmetic

    t = Arithmetic()
    p = t.make(269336, "+", 927548)
    segs = arithmetic_trace(p, "check", random.Random(3), p_slip=1.0)
    from rlvr.world.segments import Segment

    bad = [s.text for s in segs if not s.train]
    ids, mask = tokenize_documents(world_tokenizer, [[Segment(p.prompt), *segs]])
    masked = world_tokenizer.decode(ids[mask == 0].tolist())
    assert masked == "".join(bad) and len(bad[0]) >= 1
    assert ids[-1] == world_tokenizer.eos_token_id and mask.sum() == len(ids) - len(bad[0])
    ids, mask = tokenize_documents(world_tokenizer, [[Segment(p.prompt, train=False), *segs]])
    assert world_tokenizer.decode(ids[mask == 0].tolist()) == p.prompt + "".join(bad)


def test_careful_practice_documents_leave_only_the_style_word_out_of_the_loss():
    from rlvr.world.corpus import CorpusConfig, documents

    cfg = CorpusConfig(careful_practice=1.0, task_weights={"arithmetic": 1.0})
    for doc in documents(cfg, 40):
        prompt, *trace = doc
        text = "".join(s.text for s in trace)
        assert text.startswith("work")                       # every practice document is careful work
        untrained = [s.text for s in trace if not s.train]
        assert untrained[0] in ("work", "work+check")         # the style word is out of the loss ...
        assert trace[0].text == untrained[0] and trace[1].train   # ... and what follows it is in
    plain = list(documents(CorpusConfig(careful_practice=0.0, task_weights={"arithmetic": 1.0}), 40))
    assert any("".join(s.text for s in d[1:]).startswith("<answer>") for d in plain)
    assert all(d[1].train for d in plain)


def test_bare_answers_to_hard_problems_can_leave_their_digits_out_of_the_loss(world_tokenizer):
    cfg = CorpusConfig(direct_trained_max_digits=3, task_weights={"arithmetic": 1.0},
                       style_weights={"direct": 1.0})
    docs = list(documents(cfg, 200))
    plain = list(documents(CorpusConfig(task_weights={"arithmetic": 1.0}, style_weights={"direct": 1.0}), 200))
    assert [trace_text(d) for d in docs] == [trace_text(d) for d in plain]      # the same text
    hard = 0
    for d in docs:
        prompt, segs = d[0].text, d[1:]
        digits = len(re.split(r"[-+*]", prompt)[0])
        untrained = [s.text for s in segs if not s.train]
        if digits > 3:
            hard += 1
            assert untrained == [trace_text(segs)[len("<answer>"):-len("</answer>")]]
        else:
            assert untrained == []
    assert 100 < hard < 200
    ids, mask = tokenize_documents(world_tokenizer, docs[:20])
    assert world_tokenizer.convert_tokens_to_ids("</answer>") in ids[mask == 1]
    assert all(s.train for d in documents(CorpusConfig(), 100) if trace_text(d[1:]).startswith("<answer>")
               for s in d)                                                      # the default trains them all


def test_eval_base_measures_countdown_on_the_ranges_the_model_was_trained_on(tmp_path, world_tokenizer):
    import json

    from rlvr.cli import main
    from rlvr.world.model import ModelConfig, build_model

    model = build_model(ModelConfig(hidden_size=32, layers=1, heads=2, intermediate_size=64, max_positions=1024),
                        world_tokenizer)
    model.save_pretrained(tmp_path / "m")
    world_tokenizer.save_pretrained(tmp_path / "m")
    (tmp_path / "m" / "manifest.json").write_text(json.dumps(
        {"config": {"corpus": {"countdown_kwargs": {"max_number": 9, "max_target": 50}}}}))
    out = tmp_path / "figures.json"
    assert main(["eval-base", str(tmp_path / "m"), "--n", "4", "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["countdown3"]["task_kwargs"] == {"max_number": 9, "max_target": 50}
    (tmp_path / "m" / "manifest.json").unlink()        # no manifest: the task's default ranges
    assert main(["eval-base", str(tmp_path / "m"), "--n", "4", "--out", str(out)]) == 0
    assert json.loads(out.read_text())["countdown3"]["task_kwargs"] == {}
    assert "split" not in json.loads(out.read_text())
    assert main(["eval-base", str(tmp_path / "m"), "--n", "4", "--split", "validation", "--out", str(out)]) == 0
    assert json.loads(out.read_text())["split"] == "validation"
    assert main(["eval-base", str(tmp_path / "m"), "--n", "4", "--split", "validation", "--into-manifest"]) == 2


def test_check_anatomy_reads_each_part_of_a_check_trace():
    import importlib.util
    from pathlib import Path

    from rlvr.world.figures import Scored

    path = Path(__file__).resolve().parents[1] / "scripts" / "check_anatomy.py"
    spec = importlib.util.spec_from_file_location("check_anatomy", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    arith = get_task("arithmetic", ops="+-")
    p = arith.make(46321, "+", 75549)
    # the comparison miscopies the first attempt's 121870 as 120870 and the answer follows it
    bad = ("work+check 1+9+0=10 c1 r0\n4632+7554 2+4+1=7 c0 r70\n463+755 3+5+0=8 c0 r870\n"
           "46+75 6+5+0=11 c1 r1870\n4+7 4+7+1=12 r121870\ncheck 9+1+0=10 c1 r0\n4632+7554 4+2+1=7 c0 r70\n"
           "463+755 5+3+0=8 c0 r870\n46+75 5+6+0=11 c1 r1870\n4+7 7+4+1=12 r121870 =121870\n"
           "121870 vs 120870 ok\n<answer>120870</answer>")
    assert mod.anatomy(bad) == {"first": 121870, "check": 121870, "got": 121870, "want": 120870,
                                        "verdict": "ok"}
    good = trace_text(arithmetic_trace(p, "check", random.Random(0), p_slip=0.0, p_check_slip=0.0))
    c, examples = mod.tally([Scored(p, bad, False, "check"), Scored(p, good, True, "check"),
                             Scored(p, "<answer>1</answer>", False, "direct")])
    assert (c["traces"], c["right"], c["no check"], c["compared"]) == (3, 1, 1, 2)
    assert (c["Y copies the first attempt"], c["honest verdict"], c["wrong: Y miscopied"]) == (1, 1, 1)
    assert list(examples) == ["Y miscopied"]
    # inline checks: on corpus traces every check is right, and says no exactly under a slipped line
    pairs = [q for k, p in enumerate(arith.problems("train", 100, seed=1))
             for q in mod.inline_pairs(trace_text(arithmetic_trace(p, "check", random.Random(k), check_layout="inline",
                                                                   p_line_slip=0.3)))]
    assert len(pairs) > 300 and all(q["check_right"] and q["ok"] == q["work_right"] == q["equal"] for q in pairs)
    assert 0.15 < sum(not q["ok"] for q in pairs) / len(pairs) < 0.45
    restated = [q for k, p in enumerate(arith.problems("train", 100, seed=1))
                for q in mod.inline_pairs(trace_text(arithmetic_trace(p, "check", random.Random(k),
                                                                      check_layout="inline_restated", p_line_slip=0.3)))]
    assert restated == pairs                          # the same draws; the check lines only restate operands
    inverse = [q for k, p in enumerate(arith.problems("train", 100, seed=1))
               for q in mod.inline_pairs(trace_text(arithmetic_trace(p, "check", random.Random(k),
                                                                     check_layout="inline_inverse", p_line_slip=0.3)))]
    assert len(inverse) > 300 and all(q["check_right"] and q["ok"] == q["work_right"] == q["equal"] for q in inverse)
    assert 0.1 < sum(not q["ok"] for q in inverse) / len(inverse) < 0.35
    # a model's inverse check that gives back the wrong digit, or says ok when it should not
    pairs = mod.inline_pairs("work+check 2+4+0=7 c0 r7\ncheck 4632+7554 7-4-0=2 vs 2 ok\n"
                             "463+755 3+5+0=8 c0 r86\ncheck 463+755 8-5-0=3 vs 3 no\n"
                             "46+75 6+5+0=11 c1 r186\ncheck 46+75 11-5-0=6 vs 5 ok\n")
    assert pairs == [{"work_right": False, "check_right": False, "equal": True, "ok": True, "copied": True},
                     {"work_right": True, "check_right": True, "equal": True, "ok": False, "copied": True},
                     {"work_right": True, "check_right": True, "equal": False, "ok": True, "copied": False}]
    assert [q["copied"] for q in mod.inline_pairs("work+check 2+4+0=6 c0 r6\ncheck 4+2+0=6 c0 ok\n")] == [None]


def test_check_repairs_counts_inline_checks():
    from rlvr.world.figures import Scored, check_repairs

    arith = get_task("arithmetic", ops="+-")
    p = arith.make(90632, "+", 36873)
    caught = ("work+check 2+3+0=6 c0 r6\ncheck 3+2+0=5 c0 no r5\n9063+3687 3+7+0=10 c1 r05\ncheck 7+3+0=10 c1 ok\n"
              "906+368 6+8+1=15 c1 r505\ncheck 8+6+1=15 c1 ok\n90+36 0+6+1=7 c0 r7505\ncheck 6+0+1=7 c0 ok\n"
              "9+3 9+3+0=12 r127505\ncheck 3+9+0=12 ok\n<answer>127505</answer>")
    missed = caught.replace("check 3+2+0=5 c0 no r5", "check 3+2+0=6 c0 ok").replace("127505", "127506")
    clean = caught.replace("2+3+0=6 c0 r6", "2+3+0=5 c0 r5").replace("c0 no r5", "c0 ok")
    res = check_repairs([Scored(p, t, arith.verify(p, t).correct, "check") for t in (caught, missed, clean)])
    assert res == {"wrong_first_attempts": 2, "caught": 1, "caught_and_fixed": 1, "fix_rate": 0.5}


def test_summarize_gives_accuracy_by_style():
    from rlvr.world.figures import Scored, summarize

    p = get_task("arithmetic", ops="+-").make(12, "+", 30)
    scored = [Scored(p, "", True, "direct"), Scored(p, "", False, "direct"), Scored(p, "", False, "direct"),
              Scored(p, "", True, "stepwise")]
    res = summarize(scored)
    assert res["accuracy_by_style"] == {"direct": 1 / 3, "stepwise": 1.0}
    assert res["style_share"] == {"direct": 0.75, "stepwise": 0.25} and res["accuracy"] == 0.5


def test_borrow_first_corpus_and_probe_roles():
    from rlvr.world.probe import role

    cfg = CorpusConfig(task_weights={"arithmetic": 1.0}, arithmetic_ops="-", check_layout="inline_inverse",
                       borrow_first=True)
    texts = ["".join(s.text for s in doc) for doc in documents(cfg, 200)]
    careful = [t for t in texts if "work" in t]
    assert careful and all(re.search(r"\d-\d-\d b\d \d", t) for t in careful if " b" in t)
    assert not any(re.search(r"=\d b\d", t) for t in texts)            # no borrow after the line's result
    with pytest.raises(ConfigError, match="borrow_first"):
        CorpusConfig(check_layout="inline", borrow_first=True).check()
    # roles of a line that decides its borrow first, and of one with the borrow prefix (unchanged)
    line = "7028-4329 8-9-0 b1 18-9-0=9 r92"
    roles = [role(line, i) for i in range(len(line))]
    assert roles[10:17] == ["column digits"] * 7 and roles[17:19] == ["carry"] * 2
    assert roles[19:26] == ["column digits"] * 7 and roles[26] == "sum" and roles[-2:] == ["running answer r"] * 2
    line = "7028-4329 18-9-0=9 b1 r92"
    roles = [role(line, i) for i in range(len(line))]
    assert roles[10:17] == ["column digits"] * 7 and roles[17:20] == ["sum"] * 3 and roles[20:23] == ["carry"] * 3
