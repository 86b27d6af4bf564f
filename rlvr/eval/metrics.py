"""Evaluation metrics as small pure functions: pass@k, maj@k, bootstrap intervals, knees, frontiers.

pass@k    Chen et al. 2021 ("Evaluating Large Language Models Trained on Code", eq. 1): from n samples of
          which c are correct, the unbiased estimate of the chance that at least one of k samples is
          correct is ``1 - C(n-c, k) / C(n, k)``, computed as ``1 - prod_{i=n-c+1}^{n} (1 - k/i)`` so that
          no large binomial is ever formed.
maj@k     majority vote (cons@k in the DeepSeek papers; "self-consistency", Wang et al. 2023): the
          answers of k samples, normalised by the task, vote; the problem counts as solved when the
          winning answer is right. Samples without an answer do not vote; a tie is broken uniformly at
          random, so a tie between the right answer and m-1 others counts 1/m. The estimate averages over
          k-subsets of the n samples: all of them when there are few, else many drawn at random.
knee      the smallest budget after which doubling the budget buys at most ``points`` of accuracy.
"""
from __future__ import annotations

import math
from itertools import combinations

import numpy as np


# ------------------------------------------------------------------------------ pass@k
def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k of one problem with ``c`` correct among ``n`` samples (Chen et al. 2021)."""
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got c={c}, n={n}")
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n, got k={k}, n={n}")
    if n - c < k:
        return 1.0
    return 1.0 - float(np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def pass_at_k_per_problem(correct: np.ndarray, k: int) -> np.ndarray:
    """pass@k of each problem from a [P, n] boolean array of verdicts."""
    correct = np.asarray(correct, dtype=bool)
    n = correct.shape[1]
    return np.array([pass_at_k(n, int(c), k) for c in correct.sum(1)])


def bootstrap_ci(values, n_boot: int = 1000, level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of per-problem ``values``, resampling problems."""
    v = np.asarray(values, dtype=float)
    if len(v) == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, len(v), size=(n_boot, len(v)))].mean(1)           # [n_boot]
    lo, hi = np.quantile(means, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(lo), float(hi)


def with_ci(values, n_boot: int = 1000, seed: int = 0) -> dict:
    """{mean, lo, hi} of per-problem values (95% bootstrap interval across problems)."""
    lo, hi = bootstrap_ci(values, n_boot=n_boot, seed=seed)
    return {"mean": float(np.mean(values)) if len(values) else float("nan"), "lo": lo, "hi": hi}


# ------------------------------------------------------------------------------ majority vote
def vote_classes(answers: list, correct: list[bool]) -> tuple[np.ndarray, np.ndarray]:
    """Answer classes of one problem's samples: (class id per sample, -1 for no answer; [C] is-right).

    ``answers`` are normalised answers (None when a sample gave none); a class is right when a sample
    holding that answer was verified correct."""
    ids: dict = {}
    cls = np.full(len(answers), -1, dtype=np.int64)
    for j, a in enumerate(answers):
        if a is not None:
            cls[j] = ids.setdefault(a, len(ids))
    right = np.zeros(len(ids), dtype=bool)
    for j, ok in enumerate(correct):
        if ok and cls[j] >= 0:
            right[cls[j]] = True
    return cls, right


def vote_credit(cls_subsets: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Credit of each vote: [S, k] class ids (-1: no answer) -> [S] in [0, 1].

    The right answer's share of the tied winners: 1 when it wins outright, 1/m in an m-way tie, else 0."""
    S = cls_subsets.shape[0]
    C = len(right)
    if C == 0:
        return np.zeros(S)
    onehot = cls_subsets[:, :, None] == np.arange(C)[None, None, :]              # [S, k, C]
    counts = onehot.sum(1)                                                       # [S, C]
    top = counts.max(1, keepdims=True)                                           # [S, 1]
    winners = (counts == top) & (top > 0)                                        # [S, C]
    n_win = winners.sum(1)                                                       # [S]
    right_wins = (winners & right[None, :]).sum(1)                               # [S]
    return np.where(n_win > 0, right_wins / np.maximum(n_win, 1), 0.0)


def subsets(n: int, k: int, max_subsets: int, seed: int) -> np.ndarray:
    """[S, k] index sets: every k-subset of range(n) when there are at most ``max_subsets``, else
    ``max_subsets`` subsets drawn uniformly at random (without replacement within a subset)."""
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n, got k={k}, n={n}")
    if math.comb(n, k) <= max_subsets:
        return np.array(list(combinations(range(n), k)), dtype=np.int64)
    rng = np.random.default_rng(seed)
    return rng.random((max_subsets, n)).argsort(1)[:, :k]


def maj_at_k_per_problem(answers: list[list], correct: list[list[bool]], k: int,
                         max_subsets: int = 256, seed: int = 0) -> np.ndarray:
    """maj@k of each problem: answers[p][j] the normalised answer of sample j (None: none given),
    correct[p][j] its verdict. All problems must have the same number of samples n >= k."""
    n = len(answers[0]) if answers else 0
    idx = subsets(n, k, max_subsets, seed)                                       # [S, k]
    out = np.empty(len(answers))
    for p, (a, c) in enumerate(zip(answers, correct)):
        if len(a) != n:
            raise ValueError("every problem needs the same number of samples")
        cls, right = vote_classes(a, c)
        out[p] = vote_credit(cls[idx], right).mean()
    return out


# ------------------------------------------------------------------------------ correlations
def spearman(x: list[float], y: list[float]) -> float:
    """Spearman rank correlation (average ranks for ties); 0 when either side is constant."""
    def ranks(v):
        v = np.asarray(v, dtype=float)
        order = v.argsort(kind="stable")
        r = np.empty(len(v))
        r[order] = np.arange(len(v))
        for val in np.unique(v):
            sel = v == val
            r[sel] = r[sel].mean()
        return r
    if len(x) < 2:
        return 0.0
    rx, ry = ranks(x), ranks(y)
    if rx.std() == 0 or ry.std() == 0:
        return 0.0
    return float(np.corrcoef(rx, ry)[0, 1])


# ------------------------------------------------------------------------------ compute curves
def value_at(budgets: list[float], values: list[float], b: float) -> float:
    """A curve's value at budget ``b``: linear in log2(budget) between measured budgets (exact on them)."""
    lb = np.log2(np.asarray(budgets, dtype=float))
    return float(np.interp(math.log2(b), lb, np.asarray(values, dtype=float)))


def knee(budgets: list[float], values: list[float], points: float = 0.02,
         beyond: float | None = None) -> float | None:
    """The saturation knee: the smallest measured budget B such that, from B on, doubling the budget
    never gains more than ``points`` (accuracy as a fraction: 0.02 is 2 points). Only budgets whose
    double was measured (up to interpolation) are candidates; None when the curve has not saturated.

    ``beyond``: an upper bound on the curve at every budget above the largest measured one (for pass@1,
    its value there plus the share of completions the largest budget cut off: only those could still
    turn right). With it every budget is a candidate, a double past the top read as ``beyond``, so a
    curve that is known to stay flat after the sweep has its knee inside it."""
    if sorted(budgets) != list(budgets) or len(set(budgets)) != len(budgets):
        raise ValueError("budgets must be strictly increasing")
    if beyond is not None and beyond < values[-1] - 1e-12:
        raise ValueError(f"beyond ({beyond}) is below the curve's last value ({values[-1]})")
    top = budgets[-1]
    cands = [b for b in budgets if 2 * b <= top or beyond is not None]
    gains = [(value_at(budgets, values, 2 * b) if 2 * b <= top else beyond) - value_at(budgets, values, b)
             for b in cands]
    for i, b in enumerate(cands):
        if all(g <= points + 1e-12 for g in gains[i:]):
            return b
    return None


def crossover(budgets: list[float], first: list[float], second: list[float]) -> float | None:
    """The smallest measured budget from which ``second`` is at least ``first`` at every larger budget,
    given that ``first`` leads somewhere below it; None when there is no such switch."""
    lead = [s >= f for f, s in zip(first, second)]
    for i, b in enumerate(budgets):
        if all(lead[i:]) and i > 0 and not lead[i - 1]:
            return b
    return None


def pareto_frontier(points: list[dict], cost: str = "mean_tokens", value: str = "accuracy") -> list[dict]:
    """Points no other point beats: for each cost, the best value reachable at that cost or less.

    ``points`` are dicts with at least ``cost`` and ``value`` (and e.g. the model and budget that
    produced them); returned in increasing cost, each strictly more accurate than the one before."""
    front, best = [], -math.inf
    for p in sorted(points, key=lambda p: (p[cost], -p[value])):
        if p[value] > best:
            front.append(p)
            best = p[value]
    return front
