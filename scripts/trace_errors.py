"""Where a world model's column work goes wrong: per-token error by role, teacher-forced.

    python scripts/trace_errors.py [MODEL] [--n 60] [--digits 5] [--by-line]
    python scripts/trace_errors.py [MODEL] --first-read [--n 100]

For n held-out stepwise traces (addition and subtraction), the mean probability of *not* producing the
right token, by the token's role on its line (rlvr/world/probe.py). That is the chance of an error at
that token when sampling at temperature 1, so the sum over a trace is its expected number of errors.
``--by-line`` splits each role into the trace's first line and its later lines. ``--by-op`` gives, for
addition and subtraction traces apart, each role's share of the expected errors per trace (summed, not
averaged), and ``--facts K`` the K column results (``10-9-1=0``) the model gets wrong most often, by mean
P(wrong) of their digits. ``--first-read``
instead prints, for n problems at each difficulty from 2 to 7 digits, the mean probability that the
first token of forced stepwise work (read from the prompt) is wrong.
"""
from __future__ import annotations

import argparse

from transformers import AutoModelForCausalLM, AutoTokenizer

from rlvr.utils import set_threads
from rlvr.world import shipped_base_path
from rlvr.world.probe import first_read_error, probe_traces, trace_errors


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", nargs="?", default=str(shipped_base_path()))
    ap.add_argument("--n", type=int, help="traces (default 60), or problems per difficulty with --first-read (100)")
    ap.add_argument("--digits", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--by-line", action="store_true", help="split each role into the first line and the later ones")
    ap.add_argument("--first-read", action="store_true", help="the first token's error alone, 2 to 7 digits")
    ap.add_argument("--by-op", action="store_true", help="each role's expected errors per trace, + and - apart")
    ap.add_argument("--facts", type=int, default=0, help="print the K column results most often wrong")
    ap.add_argument("--borrow-first", action="store_true",
                    help="traces in the layout of corpus.borrow_first (a subtraction's borrow before its line)")
    args = ap.parse_args()
    set_threads(args.threads)
    model = AutoModelForCausalLM.from_pretrained(args.model)
    tok = AutoTokenizer.from_pretrained(args.model)
    if args.first_read:
        for digits in range(2, 8):
            print(f"{digits} digits: P(wrong first token) {first_read_error(model, tok, digits, args.n or 100, borrow_first=args.borrow_first):.3f}")
        return
    traces = probe_traces(tok, args.n or 60, args.digits, borrow_first=args.borrow_first)
    if args.by_op:
        for op in "+-":
            mine = [t for t in traces if op in tok.decode(t.ids).split("=")[0]]
            errors = trace_errors(model, mine, per_trace=True)
            for name, p in sorted(errors.items()):
                print(f"{op} {name[len('probe/'):]:32s} per trace {p:.4f}")
    if args.facts:
        for fact, p, n in worst_facts(model, tok, traces)[:args.facts]:
            print(f"{fact:12s} mean P(wrong) {p:.3f} over {n} digits")
    if args.by_op or args.facts:
        return
    errors = trace_errors(model, traces, by_line=args.by_line)
    expected = errors.pop("probe/expected_errors")
    for name, p in sorted(errors.items()):
        print(f"{name[len('probe/'):]:32s} mean P(wrong) {p:.4f}")
    print(f"expected errors per trace: {expected:.2f}")


def worst_facts(model, tok, traces) -> list[tuple[str, float, int]]:
    """(column result as written, mean P(wrong) of its digits, digits seen), worst first: each digit of
    role ``sum`` keyed by its line's column expression (``10-9-1=0``)."""
    import torch

    seen: dict[str, list[float]] = {}
    model.eval()
    with torch.inference_mode():
        for t in traces:
            logp = model(input_ids=torch.tensor([t.ids])).logits[0].float().log_softmax(-1)
            text = tok.decode(t.ids)
            for j, r in enumerate(t.roles):
                if r == "sum":
                    at = len(tok.decode(t.ids[:j]))
                    line = text[text.rfind("\n", 0, at) + 1:].split("\n", 1)[0]
                    fact = next(w for w in line.split() if "=" in w)
                    seen.setdefault(fact, []).append(1.0 - float(logp[j - 1, t.ids[j]].exp()))
    return sorted(((f, sum(v) / len(v), len(v)) for f, v in seen.items()), key=lambda x: -x[1])


if __name__ == "__main__":
    main()
