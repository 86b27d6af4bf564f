"""Test-time compute: accuracy against a token budget, budget forcing, and several models compared.

Budget sweep. For each budget B of a geometric series a completion may spend at most B new tokens; one
that has not closed its answer within them is wrong. The sweep samples once, at the largest budget, and
cuts each completion to B tokens for the smaller ones (exact: see ``scoring.score_at_budget``). At each B
it records pass@1, pass@k and maj@k (``metrics``) and the mean tokens actually spent; the knee of a curve
is the smallest budget after which doubling B gains at most 2 points. Past the largest budget a curve
is bounded by what that budget cut off (``cut_at_largest``: completions that had not ended by
themselves), so a model whose completions all end inside the sweep has its knee inside it.

Budget forcing (s1: Muennighoff et al. 2025, "s1: Simple test-time scaling"). Before a completion has
spent ``min_tokens``, an attempt to end it (the answer tag, or EOS) is replaced by ``wait``, so the
model keeps working; past the minimum it finishes as it likes. Its effect is read against unforced
samples of the same problems at the same cap.

Comparison. The same sweep over several models gives one table of (model, budget) points; the Pareto
frontier keeps, for each mean-token cost, the most accurate point and the model that reached it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..rollout import SamplingConfig
from ..tasks.base import has_capability
from .metrics import crossover, knee, maj_at_k_per_problem, pareto_frontier, pass_at_k_per_problem, with_ci
from .scoring import Samples, Scored, sample_many, score_at_budget

KNEE_POINTS = 0.02


def figures(scored: Scored, ks: list[int], max_subsets: int = 256, seed: int = 0, ci: bool = False) -> dict:
    """pass@k and maj@k for each k, and tokens, of samples verified at one budget."""
    correct = np.array(scored.correct, dtype=bool)                              # [P, n]
    n = correct.shape[1]
    out = {"pass@1": float(correct.mean()), "mean_tokens": float(np.mean(scored.tokens)),
           "answered": float(np.mean([[a is not None for a in row] for row in scored.answers]))}
    for k in ks:
        if k > n:
            continue
        pk = pass_at_k_per_problem(correct, k)
        mk = maj_at_k_per_problem(scored.answers, scored.correct, k, max_subsets, seed)
        if ci:
            out[f"pass@{k}"] = with_ci(pk, seed=seed)
            out[f"maj@{k}"] = with_ci(mk, seed=seed)
        else:
            out[f"pass@{k}"] = float(pk.mean())
            out[f"maj@{k}"] = float(mk.mean())
    return out


def budget_sweep(samples: Samples, task, tokenizer, budgets: list[int], ks: list[int],
                 max_subsets: int = 256, seed: int = 0) -> dict:
    """Figures at each budget, read from one set of samples drawn at the largest budget, and the knees."""
    budgets = sorted(budgets)
    rows = [{"budget": b, **figures(score_at_budget(samples, task, tokenizer, b), ks, max_subsets, seed)}
            for b in budgets]
    kmax = max([k for k in ks if k <= samples.n], default=1)
    # Completions that ended by themselves within the largest budget end the same way under any larger
    # one, so past it pass@1 can gain at most the share that budget cut off, and a vote nothing at all
    # when it cut none off.
    top = budgets[-1]
    cut = float(np.mean([not (r == "stop" and len(ids) <= top)
                         for r, ids in zip(samples.finish_reason, samples.completion_ids)]))
    bounds = {"pass@1": min(1.0, rows[-1]["pass@1"] + cut),
              f"maj@{kmax}": rows[-1][f"maj@{kmax}"] if cut == 0 else None}
    knees = {m: knee(budgets, [r[m] for r in rows], KNEE_POINTS, beyond=bounds[m]) for m in bounds}
    return {"budgets": budgets, "rows": rows, "knee": knees, "cut_at_largest": cut}


# ------------------------------------------------------------------------------ budget forcing
@dataclass
class BudgetForcing:
    """s1 budget forcing: before ``min_tokens`` completion tokens, an end token becomes ``wait``.

    ``replaced`` counts the replacements and ``rows`` the completions that had one (a completion is
    known by its token list, which lives as long as the sampling call)."""

    min_tokens: int
    end_ids: frozenset
    wait_id: int
    replaced: int = 0
    rows: set = field(default_factory=set)

    @classmethod
    def for_tokenizer(cls, tokenizer, min_tokens: int, wait: str = "wait", ends: tuple = ("<answer>",)):
        """End tokens: the answer tag (the world's end of thinking) and EOS; ``wait`` must be one token."""
        def one(word):
            ids = tokenizer(word, add_special_tokens=False)["input_ids"]
            if len(ids) != 1:
                raise ValueError(f"budget forcing needs {word!r} to be a single token, got {ids}")
            return ids[0]
        end = {one(e) for e in ends} | {tokenizer.eos_token_id}
        return cls(min_tokens, frozenset(end), one(wait))

    def __call__(self, ids: list[int], token: int) -> int:
        if token in self.end_ids and len(ids) < self.min_tokens:
            self.replaced += 1
            self.rows.add(id(ids))
            return self.wait_id
        return token


def forcing_effect(model, tokenizer, task, problems, min_budgets: list[int], n: int,
                   sampling: SamplingConfig, baseline: Samples | None = None) -> dict:
    """Accuracy and tokens with budget forcing at each minimum, against unforced samples (same cap).

    ``forced_share`` is the share of completions in which at least one end was replaced by ``wait``."""
    if baseline is None:
        baseline = sample_many(model, tokenizer, task, problems, n, sampling)
    base = score_at_budget(baseline, task, tokenizer)
    out = {"cap": sampling.max_new_tokens, "samples_per_problem": n,
           "unforced": {"pass@1": float(np.mean(base.correct)), "mean_tokens": float(np.mean(base.tokens)),
                        **_style_shares(task, baseline.text)},
           "forced": []}
    for m in sorted(min_budgets):
        force = BudgetForcing.for_tokenizer(tokenizer, m)
        s = sample_many(model, tokenizer, task, problems, n, sampling, force=force)
        sc = score_at_budget(s, task, tokenizer)
        out["forced"].append({"min_tokens": m, "pass@1": float(np.mean(sc.correct)),
                              "mean_tokens": float(np.mean(sc.tokens)),
                              "forced_share": len(force.rows) / len(s.completion_ids),
                              "waits_per_completion": force.replaced / len(s.completion_ids),
                              **_style_shares(task, s.text), "seconds": round(s.seconds, 1)})
    return out


def _style_shares(task, texts: list[str]) -> dict:
    if not has_capability(task, "styles"):
        return {}
    styles = [task.style_of(t) for t in texts]
    return {"styles": {s: styles.count(s) / len(styles) for s in (*task.styles, "other")}}


# ------------------------------------------------------------------------------ several models
def compare(sweeps: dict[str, dict], metric: str = "pass@1") -> dict:
    """One table and one Pareto frontier over several models' sweeps ({model name: budget_sweep(...)}).

    ``crossover`` holds, for each ordered pair (a, b), the budget from which b is at least a at every
    larger budget after a led below it (see ``metrics.crossover``); it needs the same budgets."""
    table, points = [], []
    for name, sw in sweeps.items():
        for r in sw["rows"]:
            row = {"model": name, "budget": r["budget"], "mean_tokens": r["mean_tokens"],
                   **{k: v for k, v in r.items() if k.startswith(("pass@", "maj@"))}}
            table.append(row)
            points.append({"model": name, "budget": r["budget"], "mean_tokens": r["mean_tokens"],
                           "accuracy": r[metric]})
    out = {"metric": metric, "table": table, "pareto": pareto_frontier(points), "crossover": {}}
    names = list(sweeps)
    for a in names:
        for b in names:
            if a != b and sweeps[a]["budgets"] == sweeps[b]["budgets"]:
                out["crossover"][f"{b} over {a}"] = crossover(
                    sweeps[a]["budgets"], [r[metric] for r in sweeps[a]["rows"]],
                    [r[metric] for r in sweeps[b]["rows"]])
    return out
