import random
import re

import pytest

from rlvr.tasks import get_task
from rlvr.tasks.arithmetic import Arithmetic, style_of
from rlvr.tasks.base import extract_answer, split_of
from rlvr.world.arithmetic_traces import arithmetic_trace
from rlvr.world.segments import trace_text

T = Arithmetic(ops="+-*")


def prob(a, op, b):
    return T.make(a, op, b)


@pytest.mark.parametrize("completion,correct,parsed,format_ok", [
    ("<answer>147423</answer>", True, "147423", True),
    ("work 3+0+0=3 c0 r3\n<answer>147423</answer>\n", True, "147423", True),
    ("<answer> 147423 </answer>", True, "147423", True),
    ("<answer>147422</answer>", False, "147422", True),
    ("the answer is 147423", False, None, False),                       # right digits, no tag
    ("147423 <answer>1</answer>", False, "1", True),                     # right digits in the wrong place
    ("<answer>147423</answer> and more", True, "147423", False),         # text after the tag
    ("<answer>147423</answer><answer>5</answer>", False, None, False),   # several tags
    ("<answer>147423", False, None, False),                              # unclosed
    ("<answer><answer>147423</answer></answer>", False, None, False),    # nested
    ("<answer>147,423</answer>", False, "147,423", False),
    ("<answer>1e5</answer>", False, "1e5", False),
    ("<answer>" + "9" * 100 + "</answer>", False, "9" * 100, False),     # too many digits
])
def test_verdicts(completion, correct, parsed, format_ok):
    p = prob(48213, "+", 99210)
    assert p.answer == "147423"
    v = T.verify(p, completion)
    assert (v.correct, v.parsed, v.format_ok) == (correct, parsed, format_ok)


@pytest.mark.parametrize("completion", [
    "<answer>__import__('os').system('ls')</answer>",
    "<answer>9**9**9</answer>",
    "<answer>" + "(" * 5000 + "1" + ")" * 5000 + "</answer>",
    "x" * 1_000_000 + "<answer>147423</answer>" * 2,
    b"\xff\xfe<answer>\x00\x1b[2J</answer>".decode("utf-8", "surrogateescape"),
    "\u202e<answer>324741</answer>",
    None, 12345,
])
def test_hostile_never_raises(completion):
    v = T.verify(prob(48213, "+", 99210), completion)
    assert v.correct is False


def test_megabyte_with_right_answer_at_end_is_still_read():
    v = T.verify(prob(48213, "+", 99210), "y" * 1_000_000 + "<answer>147423</answer>")
    assert v.correct


def test_problem_texts_and_answers():
    assert prob(48213, "+", 99210).prompt == "48213+99210=\n"
    assert prob(9921, "-", 4821).answer == "5100"
    assert prob(320, "*", 97).answer == "31040"
    assert prob(320, "*", 97).difficulty == 3


def test_splits_disjoint_and_deterministic():
    ids = {}
    for split in ("train", "validation", "test"):
        ps = T.problems(split, 300, seed=1)
        assert len({p.id for p in ps}) == 300
        assert all(split_of(p.id) == split for p in ps)
        ids[split] = {p.id for p in ps}
        assert [p.id for p in T.problems(split, 300, seed=1)] == [p.id for p in ps]
    assert not ids["train"] & ids["validation"] and not ids["train"] & ids["test"]
    assert not ids["validation"] & ids["test"]
    assert T.problems("test", 50, seed=2)[0].id != T.problems("test", 50, seed=3)[0].id


def test_difficulty_and_bad_input():
    demo = Arithmetic(ops="+-", min_digits=4, max_digits=6)
    ps = demo.problems("test", 200, seed=0)
    assert {p.difficulty for p in ps} == {4, 5, 6}
    assert all(p.meta["op"] in "+-" for p in ps)
    assert all(len(str(p.meta["a"])) == 5 for p in demo.problems("train", 20, 0, difficulty=5))
    with pytest.raises(ValueError):
        Arithmetic(ops="/")
    with pytest.raises(ValueError):
        Arithmetic(min_digits=1)
    with pytest.raises(ValueError):
        T.problems("dev", 1, 0)
    with pytest.raises(ValueError):
        demo.problems("test", 1, 0, difficulty=7)


def test_stepwise_trace_exact():
    text = trace_text(arithmetic_trace(prob(4821, "+", 9921), "stepwise", random.Random(0)))
    assert text == ("work 1+1+0=2 c0 r2\n482+992 2+2+0=4 c0 r42\n48+99 8+9+0=17 c1 r742\n"
                    "4+9 4+9+1=14 r14742\n<answer>14742</answer>")
    text = trace_text(arithmetic_trace(prob(9021, "-", 4829), "stepwise", random.Random(0)))
    assert text == ("work 11-9-0=2 b1 r2\n902-482 12-2-1=9 b1 r92\n90-48 10-8-1=1 b1 r192\n"
                    "9-4 9-4-1=4 r4192\n<answer>4192</answer>")
    text = trace_text(arithmetic_trace(prob(907, "-", 899), "stepwise", random.Random(0)))
    assert text.endswith("9-8 9-8-1=0 r008\n<answer>008</answer>")   # a copy of r, leading zeros and all
    text = trace_text(arithmetic_trace(prob(4739, "*", 8), "stepwise", random.Random(0)))
    assert text == ("work 9*8+0=72 c7 r2\n473*8 3*8+7=31 c3 r12\n47*8 7*8+3=59 c5 r912\n"
                    "4*8 4*8+5=37 r37912\n<answer>37912</answer>")


@pytest.mark.parametrize("op", ["+", "-", "*"])
def test_every_trace_verifies_and_is_classified(op):
    task = Arithmetic(ops=op)
    rng = random.Random(0)
    slipped = 0
    for p in task.problems("train", 150, seed=0):
        for style in ("direct", "stepwise", "check"):
            segs = arithmetic_trace(p, style, rng, p_slip=0.5, p_check_slip=0.3)
            text = trace_text(segs)
            assert task.verify(p, text).correct, text
            assert style_of(text) == style
            if any(not s.train for s in segs):
                slipped += 1
                assert " no\nwait " in text, text
    assert slipped > 40


def test_check_trace_with_slip_is_caught():
    rng = random.Random(3)
    p = prob(269336, "+", 927548)
    segs = arithmetic_trace(p, "check", rng, p_slip=1.0)
    text = trace_text(segs)
    untrained = [s.text for s in segs if not s.train]
    assert len(untrained) == 1 and untrained[0].isdigit()
    assert "1196884 vs" in text or "vs 1196884" not in text
    assert text.endswith("<answer>1196884</answer>")
    first = text.split("\ncheck")[0]
    assert "r1196884\n" not in first + "\n"      # the first attempt really is wrong


def test_check_lines_can_carry_the_first_result():
    p = prob(9217, "*", 3)
    plain = arithmetic_trace(p, "check", random.Random(0), p_slip=0.0, p_check_slip=0.0)
    carried = arithmetic_trace(p, "check", random.Random(0), p_slip=0.0, p_check_slip=0.0, carry_first=True)
    assert trace_text(carried) == (
        "work+check 7*3+0=21 c2 r1\n921*3 1*3+2=5 c0 r51\n92*3 2*3+0=6 c0 r651\n9*3 9*3+0=27 r27651\n"
        "check 7*3+0=21 c2 r1 =27651\n921*3 1*3+2=5 c0 r51 =27651\n92*3 2*3+0=6 c0 r651 =27651\n"
        "9*3 9*3+0=27 r27651 =27651\n27651 vs 27651 ok\n<answer>27651</answer>")
    # only the check's lines change; a slipped first attempt stays untrained where it was, and the
    # carried result is the slipped one the comparison then rejects
    assert trace_text(carried).replace(" =27651", "") == trace_text(plain)
    p = prob(269336, "+", 927548)
    segs = arithmetic_trace(p, "check", random.Random(3), p_slip=1.0, carry_first=True)
    text = trace_text(segs)
    first_r = re.findall(r" r(\d+)\n", text.split("\ncheck")[0] + "\n")[-1]
    check = text.split("\ncheck ", 1)[1].split(" vs ")[0].split("\n")[:-1]
    assert len(check) == 6 and all(line.endswith(f" ={first_r}") for line in check)
    assert f" vs {first_r} no\nwait " in text and text.endswith("<answer>1196884</answer>")
    assert [s.text for s in segs if not s.train] == [s.text for s in arithmetic_trace(p, "check", random.Random(3),
                                                                                       p_slip=1.0)
                                                      if not s.train]


def _slipped_check_traces(layout: str):
    """(lines, lines with untrained characters as _) of check traces of 200 train sums and differences
    with slips (a chance of 0.3 per line); each trace is asserted to end in the right answer."""
    rng = random.Random(5)
    for p in T.problems("train", 200, seed=3):
        if p.meta["op"] == "*":
            continue
        segs = arithmetic_trace(p, "check", rng, check_layout=layout, p_line_slip=0.3)
        text = trace_text(segs)
        assert T.verify(p, text).correct, text
        yield text.split("\n"), "".join(s.text if s.train else "_" * len(s.text) for s in segs).split("\n")


def test_inline_check_layout():
    p = prob(90632, "+", 36873)
    segs = arithmetic_trace(p, "check", random.Random(1), check_layout="inline", p_line_slip=0.0)
    assert trace_text(segs) == (
        "work+check 2+3+0=5 c0 r5\ncheck 3+2+0=5 c0 ok\n9063+3687 3+7+0=10 c1 r05\ncheck 7+3+0=10 c1 ok\n"
        "906+368 6+8+1=15 c1 r505\ncheck 8+6+1=15 c1 ok\n90+36 0+6+1=7 c0 r7505\ncheck 6+0+1=7 c0 ok\n"
        "9+3 9+3+0=12 r127505\ncheck 3+9+0=12 ok\n<answer>127505</answer>")
    sub = arithmetic_trace(prob(5102, "-", 5086), "check", random.Random(0), check_layout="inline", p_line_slip=0.0)
    assert trace_text(sub).startswith("work+check 12-6-0=6 b1 r6\ncheck 12-0-6=6 b1 ok\n510-508 10-8-1=1 b1 r16\n"
                                      "check 10-1-8=1 b1 ok\n")
    # with slips: every trace still ends right, each slipped work line is untrained where it slipped
    # and the check right under it says no and writes the right running answer
    caught = 0
    for lines, masked in _slipped_check_traces("inline"):
        for k in range(0, len(lines) - 1, 2):
            slipped = "_" in masked[k]
            assert lines[k + 1].startswith("check ") and lines[k + 1].endswith(" ok") != slipped, (lines[k], lines[k + 1])
            caught += slipped
    assert caught > 100
    restated = trace_text(arithmetic_trace(prob(90632, "+", 36873), "check", random.Random(1),
                                           check_layout="inline_restated", p_line_slip=0.0)).split("\n")
    assert restated[1] == "check 90632+36873 3+2+0=5 c0 ok" and restated[2].startswith("9063+3687 ")
    assert restated[3] == "check 9063+3687 7+3+0=10 c1 ok" and restated[9] == "check 9+3 3+9+0=12 ok"


def test_inverse_check_layout():
    # each column line checked below it by the inverse operation; after no, the line written again
    clean = trace_text(arithmetic_trace(prob(4632, "+", 7554), "check", random.Random(0), check_layout="inline_inverse",
                                        p_line_slip=0.0))
    assert clean == ("work+check 2+4+0=6 c0 r6\ncheck 4632+7554 6-4-0=2 vs 2 ok\n463+755 3+5+0=8 c0 r86\n"
                     "check 463+755 8-5-0=3 vs 3 ok\n46+75 6+5+0=11 c1 r186\ncheck 46+75 11-5-0=6 vs 6 ok\n"
                     "4+7 4+7+1=12 r12186\ncheck 4+7 12-7-1=4 vs 4 ok\n<answer>12186</answer>")
    segs = arithmetic_trace(prob(70412, "-", 38655), "check", random.Random(3), check_layout="inline_inverse",
                            p_line_slip=0.4)
    lines = trace_text(segs).split("\n")
    assert lines[:4] == ["work+check 12-5-0=6 b1 r6", "check 70412-38655 6+5+0=11 vs 12 no",
                         "wait 70412-38655 12-5-0=7 b1 r7", "check 70412-38655 7+5+0=12 vs 12 ok"]
    assert lines[-1] == "<answer>31757</answer>"
    bare = trace_text(arithmetic_trace(prob(70412, "-", 38655), "check", random.Random(3),
                                       check_layout="inline_inverse", p_line_slip=0.4, rewrite_wait=False))
    assert bare == trace_text(segs).replace("wait ", "")
    # the slipped result alone is untrained; the line after it (carry, running answer) follows it
    assert [s.text for s in segs if not s.train] == ["6", "6", "0"]
    slipped = 0
    for lines, masked in _slipped_check_traces("inline_inverse"):
        for k in range(0, len(lines) - 1, 2):
            assert lines[k + 1].startswith("check ") and lines[k + 1].endswith(" no") == ("_" in masked[k])
            if "_" in masked[k]:                      # wait, and the same line again, right, operands restated
                slipped += 1
                assert lines[k + 2].split("=")[0].endswith(lines[k].split("=")[0].split(" ")[-1])
                assert lines[k + 2].startswith("wait " + lines[k + 1].split(" ")[1] + " ")
    assert slipped > 100


def test_extract_answer():
    assert extract_answer("<answer>7</answer>") == ("7", True, "ok")
    assert extract_answer("<answer>7</answer>x")[1] is False
    assert extract_answer("nothing")[0] is None


def test_registry():
    assert get_task("arithmetic").name == "arithmetic"
    with pytest.raises(ValueError, match="unknown task"):
        get_task("chess")


from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.text(max_size=300))
def test_any_text_gets_a_verdict(text):
    from rlvr.tasks import get_task

    p = prob(48213, "+", 99210)
    for completion in (text, "<answer>" + text + "</answer>", text + "<answer>147423</answer>"):
        v = T.verify(p, completion)
        assert v.correct in (True, False)
        if v.correct:
            assert "147423" in completion
    cd = get_task("countdown")
    q = cd.problems("test", 1, seed=0)[0]
    assert cd.verify(q, "<answer>" + text + "</answer>").correct in (True, False)


def test_borrow_first_layout():
    # a subtraction line reads its digits and writes the borrow they imply, then the line with its prefix
    text = trace_text(arithmetic_trace(prob(9021, "-", 4829), "stepwise", random.Random(0), borrow_first=True))
    assert text == ("work 1-9-0 b1 11-9-0=2 r2\n902-482 2-2-1 b1 12-2-1=9 r92\n90-48 0-8-1 b1 10-8-1=1 r192\n"
                    "9-4 9-4-1=4 r4192\n<answer>4192</answer>")
    # addition, and multiplication, are untouched
    for a, op, b in ((4821, "+", 9921), (4739, "*", 8)):
        assert trace_text(arithmetic_trace(prob(a, op, b), "stepwise", random.Random(0), borrow_first=True)) == \
            trace_text(arithmetic_trace(prob(a, op, b), "stepwise", random.Random(0)))
    segs = arithmetic_trace(prob(70412, "-", 38655), "check", random.Random(3), check_layout="inline_inverse",
                            p_line_slip=0.4, borrow_first=True)
    lines = trace_text(segs).split("\n")
    assert lines[:4] == ["work+check 2-5-0 b1 12-5-0=6 r6", "check 70412-38655 6+5+0=11 vs 12 no",
                         "wait 70412-38655 2-5-0 b1 12-5-0=7 r7", "check 70412-38655 7+5+0=12 vs 12 ok"]
    assert [s.text for s in segs if not s.train] == ["6", "6", "0"]    # the same slips as the prefix layout
    # a slipped borrow (section layout) is written, untrained, and carried on as written
    rng, borrow_slips = random.Random(0), 0
    for p in Arithmetic(ops="-").problems("train", 200, seed=1):
        segs = arithmetic_trace(p, "check", rng, p_slip=1.0, borrow_first=True)
        text = trace_text(segs)
        assert T.verify(p, text).correct and style_of(text) == "check"
        for k, s in enumerate(segs):
            if not s.train and segs[k - 1].text.endswith(" b"):
                borrow_slips += 1
                before = trace_text(segs[:k]).rsplit("\n", 1)[-1]             # "... 2-2-1 b"
                dx, dy, c = (int(v) for v in re.search(r"(\d)-(\d)-(\d) b$", before).groups())
                assert int(s.text) == 1 - (dx < dy + c)                       # the wrong borrow
                next_line = trace_text(segs[k + 1:]).split("\n")[1]               # carried on, as written
                assert re.match(r"[\d-]+ \d-\d-" + s.text + "[ =]", next_line), next_line
    assert borrow_slips > 10


def test_borrow_first_lines_are_read_by_the_eval_patterns():
    from rlvr.world.faithfulness import COLUMN
    from rlvr.world.figures import inline_pairs

    task, rng, n = Arithmetic(ops="-"), random.Random(0), 0
    for p in task.problems("train", 60, seed=0, difficulty=5):
        text = trace_text(arithmetic_trace(p, "check", rng, check_layout="inline_inverse", p_line_slip=0.3,
                                           borrow_first=True))
        pairs = inline_pairs(text)
        assert len(pairs) == text.count("\ncheck ")           # every (work line, check line) pair is read
        assert all(q["ok"] == q["work_right"] for q in pairs)  # the corpus's verdicts are honest
        n += sum(not q["work_right"] for q in pairs)
        work = trace_text(arithmetic_trace(p, "stepwise", rng, borrow_first=True))
        assert len(COLUMN.findall(work)) == 5
    assert n > 20
    wrong_borrow = "work+check 2-5-0 b0 12-5-0=7 r7\ncheck 70412-38655 7+5+0=12 vs 12 ok\n"
    assert inline_pairs(wrong_borrow)[0]["work_right"] is False        # the borrow written first is checked too
