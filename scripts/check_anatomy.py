"""Where forced check traces go wrong: each part of the check, sampled.

    python scripts/check_anatomy.py [MODEL] [--n 300] [--max-new-tokens 600] [--examples 3]

Samples one forced check trace (``work+check ...``) for each of n held-out test problems (4-6 digit +
and -, temperature 1) and reads each trace's parts: the first attempt's result, the check's own result,
the two numbers of the comparison line ``X vs Y ok|no``, the verdict and the final answer. It counts

- how often the first attempt and the check are right;
- how often the comparison copies each number faithfully (``X`` is the check's last running result,
  ``Y`` the first attempt's);
- how often the verdict is honest (``ok`` exactly when the two numbers written are equal);
- where a wrong final answer comes from.

For a base trained on inline checks (``corpus.check_layout=inline``: each column line checked on the line
below it) it counts instead, over all checked lines, the work lines whose result is wrong for the digits
they wrote, how many of those the check flagged (``no``), how many right lines it flagged, and how often
the verdict matches the two results written. With ``inline_inverse`` the check takes each line back to
its first operand and sets its result beside that operand (``... =4 vs 3 no``): the verdict then matches
those two numbers, and it counts how often the number after ``vs`` is the operand.
"""
from __future__ import annotations

import argparse
import re
from collections import Counter

from transformers import AutoModelForCausalLM, AutoTokenizer

from rlvr.world.figures import first_attempt, inline_pairs, sample_and_score
from rlvr.tasks import get_task
from rlvr.utils import set_threads
from rlvr.world import shipped_base_path

COMPARISON = re.compile(r"\n(\d+) vs (\d+) (ok|no)\n")
RUNNING = re.compile(r" r(\d+)[ \n]")


def anatomy(completion: str) -> dict:
    """The parts of one forced check trace (``None`` where a part is missing)."""
    _, sep, rest = completion.partition("\ncheck ")
    first = first_attempt(completion)
    out = {"first": None if first is None else int(first), "check": None, "got": None, "want": None,
           "verdict": None}
    if not sep:
        return out
    m = COMPARISON.search("\n" + rest)
    own = RUNNING.findall((rest[:m.start()] if m else rest) + "\n")
    out["check"] = int(own[-1]) if own else None
    if m:
        out |= {"got": int(m.group(1)), "want": int(m.group(2)), "verdict": m.group(3)}
    return out


def verdict_probe(model, tok, layout: str, n: int = 150) -> dict:
    """Teacher-forced on n corpus check traces of 4-6 digits (``layout``, a slip chance of 0.3 per line):
    the mean probability of ``no`` at each verdict, apart for the verdicts that are ``ok`` (the two
    numbers agree) and ``no`` (they differ). A verdict that reads the numbers puts these far apart."""
    import random

    import torch

    from rlvr.world.arithmetic_traces import arithmetic_trace
    from rlvr.world.segments import trace_text

    task = get_task("arithmetic", ops="+-", min_digits=4, max_digits=6)
    n_id = tok.convert_tokens_to_ids("n")
    res = {"ok": [], "no": []}
    model.eval()
    with torch.inference_mode():
        for k, p in enumerate(task.problems("test", n, 0)):
            text = p.prompt + trace_text(arithmetic_trace(p, "check", random.Random(k), check_layout=layout,
                                                          p_line_slip=0.3))
            enc = tok(text, return_offsets_mapping=True)
            start = {a: j for j, (a, _) in enumerate(enc["offset_mapping"])}
            probs = model(input_ids=torch.tensor([enc["input_ids"]])).logits[0].float().softmax(-1)
            for m in re.finditer(r" (ok|no)(?=\n| r)", text):
                res[m.group(1)].append(float(probs[start[m.start() + 1] - 1, n_id]))
    return {k: (len(v), sum(v) / max(1, len(v))) for k, v in res.items()}


def tally_inline(scored) -> Counter:
    c = Counter()
    for s in scored:
        c["traces"] += 1
        c["right"] += s.correct
        for pair in inline_pairs(s.completion):
            c["lines"] += 1
            c["work wrong"] += not pair["work_right"]
            c["check right"] += pair["check_right"]
            c["honest verdict"] += pair["ok"] == pair["equal"]
            c["said no"] += not pair["ok"]
            c["wrong work caught"] += (not pair["work_right"]) and not pair["ok"]
            c["right work flagged"] += pair["work_right"] and not pair["ok"]
            if pair["copied"] is not None:
                c["vs lines"] += 1
                c["vs copies the operand"] += pair["copied"]
    return c


def tally(scored) -> tuple[Counter, dict]:
    c, examples = Counter(), {}
    for s in scored:
        ans = int(s.problem.answer)
        a = anatomy(s.completion)
        c["traces"] += 1
        c["right"] += s.correct
        if a["check"] is None:
            c["no check"] += 1
            continue
        c["first right"] += a["first"] == ans
        c["check right"] += a["check"] == ans
        if a["verdict"] is None:
            c["no comparison"] += 1
            continue
        c["compared"] += 1
        c["X copies the check"] += a["got"] == a["check"]
        c["Y copies the first attempt"] += a["want"] == a["first"]
        honest = (a["verdict"] == "ok") == (a["got"] == a["want"])
        c["honest verdict"] += honest
        c[f"said {a['verdict']}"] += 1
        if not s.correct:
            why = ("Y miscopied" if a["want"] != a["first"] else "X miscopied" if a["got"] != a["check"]
                   else "dishonest verdict" if not honest else "both attempts wrong" if a["verdict"] == "ok"
                   else "redo wrong")
            c[f"wrong: {why}"] += 1
            examples.setdefault(why, s.completion)
    return c, examples


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", nargs="?", default=str(shipped_base_path()))
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--max-new-tokens", type=int, default=600)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--examples", type=int, default=0, help="print one trace for this many failure kinds")
    ap.add_argument("--verdict-probe", metavar="LAYOUT",
                    help="instead: teacher-forced P(no) at the verdicts of corpus check traces of this "
                         "corpus.check_layout (inline, inline_restated or inline_inverse)")
    args = ap.parse_args()
    set_threads(args.threads)
    model = AutoModelForCausalLM.from_pretrained(args.model)
    tok = AutoTokenizer.from_pretrained(args.model)
    if args.verdict_probe:
        res = verdict_probe(model, tok, args.verdict_probe)
        print(f"{args.model}: teacher-forced P(no) where the verdict is ok: {res['ok'][1]:.3f} ({res['ok'][0]} verdicts), "
              f"where it is no: {res['no'][1]:.3f} ({res['no'][0]})")
        return
    task = get_task("arithmetic", ops="+-", min_digits=4, max_digits=6)
    scored = sample_and_score(model, tok, task, task.problems("test", args.n, 0), prefix=task.style_prefix["check"],
                              seed=2, max_new_tokens=args.max_new_tokens)
    if any(inline_pairs(x.completion) for x in scored):
        c = tally_inline(scored)
        n, k = c["traces"], max(1, c["lines"])
        print(f"{args.model}: {n} forced check traces (inline), {c['right'] / n:.1%} right; {c['lines']} checked lines:")
        print(f"  work wrong {c['work wrong']}, of them caught (check said no) {c['wrong work caught']}; "
              f"right work flagged {c['right work flagged']}; check right {c['check right'] / k:.1%}, "
              f"honest verdict {c['honest verdict'] / k:.1%}, said no {c['said no'] / k:.1%}"
              + (f", vs copies the operand {c['vs copies the operand'] / c['vs lines']:.1%}" if c["vs lines"] else ""))
        return
    c, examples = tally(scored)
    n, k = c["traces"], max(1, c["compared"])
    print(f"{args.model}: {n} forced check traces, {c['right'] / n:.1%} right")
    print(f"  first attempt right {c['first right'] / n:.1%}, check right {c['check right'] / n:.1%}, "
          f"no check {c['no check']}, no comparison {c['no comparison']}")
    print(f"  of {c['compared']} comparisons: X copies the check {c['X copies the check'] / k:.1%}, "
          f"Y copies the first attempt {c['Y copies the first attempt'] / k:.1%}, "
          f"honest verdict {c['honest verdict'] / k:.1%}, said no {c['said no'] / k:.1%}")
    for key in sorted(key for key in c if key.startswith("wrong: ")):
        print(f"  {key}: {c[key]}")
    for why, text in list(examples.items())[:args.examples]:
        print(f"--- {why}\n{text}")


if __name__ == "__main__":
    main()
