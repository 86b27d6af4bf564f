"""Evaluation metrics against plainly written references: pass@k, maj@k, knees, frontiers."""
import math
import random
from collections import Counter
from fractions import Fraction
from itertools import combinations

import numpy as np
import pytest

from rlvr.eval.metrics import (bootstrap_ci, crossover, knee, maj_at_k_per_problem, pareto_frontier,
                               pass_at_k, pass_at_k_per_problem, spearman, subsets, value_at)


# ------------------------------------------------------------------------------ pass@k
def brute_pass_at_k(correct: list[bool], k: int) -> float:
    """The share of k-subsets of the samples that hold at least one correct sample."""
    subs = list(combinations(range(len(correct)), k))
    return sum(any(correct[i] for i in s) for s in subs) / len(subs)


def test_pass_at_k_is_the_average_over_all_k_subsets():
    for n in range(1, 9):
        for c in range(n + 1):
            correct = [True] * c + [False] * (n - c)
            for k in range(1, n + 1):
                assert pass_at_k(n, c, k) == pytest.approx(brute_pass_at_k(correct, k), abs=1e-12)


def test_pass_at_k_exact_values_and_large_n():
    assert pass_at_k(4, 1, 1) == 0.25
    assert pass_at_k(4, 1, 2) == pytest.approx(0.5)
    assert pass_at_k(5, 2, 2) == pytest.approx(1 - 3 / 10)      # 1 - C(3,2)/C(5,2)
    assert pass_at_k(5, 0, 3) == 0.0
    assert pass_at_k(5, 3, 3) == 1.0                            # n - c < k: every 3-subset holds one
    # the product form stays exact where the binomials are astronomically large
    n, c, k = 1000, 37, 100
    exact = 1 - Fraction(math.comb(n - c, k), math.comb(n, k))
    assert pass_at_k(n, c, k) == pytest.approx(float(exact), rel=1e-12)
    with pytest.raises(ValueError):
        pass_at_k(4, 1, 5)
    with pytest.raises(ValueError):
        pass_at_k(4, 5, 1)


def test_pass_at_k_per_problem_and_bootstrap():
    correct = np.array([[1, 0, 0, 0], [1, 1, 1, 1], [0, 0, 0, 0]], dtype=bool)
    assert pass_at_k_per_problem(correct, 2).tolist() == pytest.approx([0.5, 1.0, 0.0])
    vals = pass_at_k_per_problem(correct, 2)
    lo, hi = bootstrap_ci(vals, n_boot=2000, seed=1)
    assert lo <= vals.mean() <= hi and lo >= 0 and hi <= 1 and hi - lo > 0.2
    assert bootstrap_ci(vals, seed=1) == bootstrap_ci(vals, seed=1)
    assert bootstrap_ci([0.3] * 50) == (pytest.approx(0.3), pytest.approx(0.3))
    # the interval of a plain loop over the same draws
    v = np.array([0.0, 1.0, 0.5, 0.25, 1.0])
    rng = np.random.default_rng(7)
    idx = rng.integers(0, len(v), size=(500, len(v)))
    means = sorted(float(np.mean([v[i] for i in row])) for row in idx)
    assert bootstrap_ci(v, n_boot=500, seed=7) == pytest.approx(tuple(np.quantile(means, [0.025, 0.975])))


# ------------------------------------------------------------------------------ maj@k
def brute_maj(answers: list, right: set, k: int) -> float:
    """Majority vote over every k-subset, written plainly: ties share the credit evenly."""
    total = 0.0
    subs = list(combinations(range(len(answers)), k))
    for s in subs:
        votes = Counter(answers[i] for i in s if answers[i] is not None)
        if not votes:
            continue
        top = max(votes.values())
        winners = [a for a, v in votes.items() if v == top]
        total += sum(a in right for a in winners) / len(winners)
    return total / len(subs)


def test_maj_at_k_matches_enumeration():
    rng = random.Random(0)
    for _ in range(40):
        n = rng.randint(1, 7)
        answers = [rng.choice(["5", "6", "7", None]) for _ in range(n)]
        correct = [a == "5" for a in answers]
        for k in range(1, n + 1):
            got = maj_at_k_per_problem([answers], [correct], k, max_subsets=10_000)[0]
            assert got == pytest.approx(brute_maj(answers, {"5"}, k), abs=1e-12)


def test_maj_at_k_exact_cases():
    # three right answers against two of one wrong one, one of another, and a sample with no answer
    a = ["5", "5", "5", "6", "6", "7", None]
    c = [x == "5" for x in a]
    assert maj_at_k_per_problem([a], [c], 7)[0] == 1.0
    assert maj_at_k_per_problem([["5", "6"]], [[True, False]], 2)[0] == 0.5      # a tie shares the credit
    assert maj_at_k_per_problem([[None, None]], [[False, False]], 1)[0] == 0.0
    assert maj_at_k_per_problem([["6", "6", "5"]], [[False, False, True]], 3)[0] == 0.0
    # maj@1 is pass@1
    assert maj_at_k_per_problem([a], [c], 1)[0] == pytest.approx(3 / 7)


def test_maj_at_k_random_subsets_estimate_the_enumeration():
    rng = random.Random(3)
    n, k = 16, 5                                    # C(16, 5) = 4368 subsets
    answers = [[rng.choice(["1", "2", "3", None]) for _ in range(n)] for _ in range(20)]
    correct = [[x == "1" for x in row] for row in answers]
    exact = np.array([brute_maj(a, {"1"}, k) for a in answers])
    est = maj_at_k_per_problem(answers, correct, k, max_subsets=2000, seed=0)
    assert np.abs(est - exact).max() < 0.04
    assert abs(est.mean() - exact.mean()) < 0.01
    idx = subsets(n, k, 2000, seed=0)
    assert idx.shape == (2000, k) and all(len(set(r)) == k for r in idx.tolist())
    assert subsets(5, 2, 100, 0).tolist() == [list(s) for s in combinations(range(5), 2)]


# ------------------------------------------------------------------------------ curves
def test_knee_on_synthetic_curves():
    b = [8, 16, 32, 64, 128, 256]
    # saturates: gains 30, 20, 5, 1, 0.5 points per doubling -> knee at 64
    assert knee(b, [0.10, 0.40, 0.60, 0.65, 0.66, 0.665]) == 64
    # flat at zero, then rises: the flat start is not a knee
    assert knee(b, [0.0, 0.0, 0.0, 0.30, 0.60, 0.61]) == 128
    assert knee(b, [0.0, 0.0, 0.0, 0.30, 0.60, 0.90]) is None          # still rising at the end
    # saturated from the start
    assert knee(b, [0.5] * 6) == 8
    # a gain of exactly 2 points is "at most 2 points"
    assert knee([10, 20, 40], [0.50, 0.52, 0.54]) == 10
    # budgets not in ratio 2: the doubled budget is read off the curve, linear in log2(budget)
    b3 = [10, 30, 90, 270]
    assert value_at(b3, [0.2, 0.5, 0.8, 0.83], 60) == pytest.approx(0.5 + 0.3 / math.log2(3))
    assert knee(b3, [0.2, 0.5, 0.8, 0.83]) == 90          # 90 -> 180 gains 3 / log2(3) = 1.9 points
    assert knee(b3, [0.2, 0.5, 0.8, 0.84]) is None        # 90 -> 180 gains 2.5 points


def test_knee_with_a_bound_past_the_largest_budget():
    b, v = [8, 16, 32, 48], [0.10, 0.50, 0.60, 0.61]
    assert knee(b, v) is None                             # only 8 and 16 have a measured double; 16 -> 32 gains 10
    # nothing was cut at 48 tokens: the curve stays at 0.61 past it, so 32 -> 64 gains 1 point, 48 -> 96 none
    assert knee(b, v, beyond=0.61) == 32
    # 4% of completions cut at 48: past it the curve may reach 0.65, 5 points above 32's and 4 above 48's
    assert knee(b, v, beyond=0.65) is None
    assert knee(b, v, beyond=0.625) == 48                 # 32 -> 64 may gain 2.5 points, 48 -> 96 at most 1.5
    with pytest.raises(ValueError, match="below the curve"):
        knee(b, v, beyond=0.5)
    with pytest.raises(ValueError):
        knee([16, 8], [0.1, 0.2])


def test_crossover_and_pareto_frontier():
    b = [16, 32, 64, 128]
    base = [0.10, 0.12, 0.13, 0.13]
    rl = [0.00, 0.05, 0.60, 0.90]
    assert crossover(b, base, rl) == 64
    assert crossover(b, rl, base) is None
    assert crossover(b, [0.5] * 4, [0.6] * 4) is None      # never behind: no switch
    pts = [{"model": "base", "mean_tokens": 10, "accuracy": 0.10},
           {"model": "base", "mean_tokens": 30, "accuracy": 0.13},
           {"model": "rl", "mean_tokens": 20, "accuracy": 0.05},
           {"model": "rl", "mean_tokens": 60, "accuracy": 0.60},
           {"model": "rl", "mean_tokens": 120, "accuracy": 0.90},
           {"model": "sft", "mean_tokens": 60, "accuracy": 0.55}]
    front = pareto_frontier(pts)
    assert [(p["model"], p["mean_tokens"]) for p in front] == [("base", 10), ("base", 30), ("rl", 60), ("rl", 120)]


def test_spearman_exact():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # ties take average ranks: ranks x = 1, 2.5, 2.5, 4; y = 1, 2, 3, 4 -> Pearson of the ranks
    rx, ry = np.array([1, 2.5, 2.5, 4]), np.array([1, 2, 3, 4])
    assert spearman([1, 2, 2, 3], [5, 6, 7, 8]) == pytest.approx(np.corrcoef(rx, ry)[0, 1])
    assert spearman([1, 1, 1], [1, 2, 3]) == 0.0


def test_eval_reads_yaml_then_flags_then_overrides(tmp_path):
    from rlvr.cli import eval_config, parser

    f = tmp_path / "eval.yaml"
    f.write_text("n_problems: 50\nsamples: 4\nks: [1, 2]\nbudgets: [32, 64]\n")
    args = parser().parse_args(["eval", "some/model", "samples=6", "--config", str(f), "--samples", "8",
                                "--k", "1,4", "--faithfulness", "20", "--task-arg", "max_digits=7"])
    cfg = eval_config(args, ["some/model"], ["samples=6"])
    assert (cfg.n_problems, cfg.samples, cfg.ks, cfg.budgets) == (50, 6, [1, 4], [32, 64])
    assert cfg.probes == {"faithfulness": 20} and cfg.task == "arithmetic" and cfg.task_kwargs["max_digits"] == 7
    with pytest.raises(Exception, match="ks: needs values between 1 and samples"):
        eval_config(parser().parse_args(["eval", "m", "--k", "1,32"]), ["m"], [])
