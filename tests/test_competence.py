import random

import pytest
from hypothesis import given, settings, strategies as st

from rlvr.algorithms.competence import Curriculum, CurriculumConfig, fill_informative, has_spread, overlong_penalty


def _draw_from(rounds):
    return lambda r: rounds[r] if r < len(rounds) else []


@settings(max_examples=200, deadline=None, derandomize=True)
@given(rounds=st.lists(st.lists(st.lists(st.sampled_from([0.0, 0.5, 1.0]), min_size=1, max_size=4),
                                min_size=0, max_size=5), min_size=1, max_size=6),
       want=st.integers(1, 6), cap=st.integers(0, 5))
def test_dynamic_sampling_never_returns_a_flat_group_while_the_cap_allows(rounds, want, cap):
    out, stats = fill_informative(_draw_from(rounds), lambda g: g, want, cap)
    if any(not has_spread(g) for g in out):           # a zero-spread group only once the cap ran out
        assert stats["rounds"] == 1 + cap
    available = sum(has_spread(g) for rnd in rounds[:1 + cap] for g in rnd)
    assert stats["informative"] == min(want, available)
    assert all(has_spread(g) for g in out[:stats["informative"]])
    assert len(out) == min(want, sum(len(rnd) for rnd in rounds[:stats["rounds"]]))
    assert stats["drawn"] == sum(len(rnd) for rnd in rounds[:stats["rounds"]])


def test_dynamic_sampling_exact_bookkeeping():
    rounds = [[[1, 1], [0, 1], [0, 0]], [[1], [1, 0], [0, 0]], [[0, 1], [1, 0], [0, 1]]]
    out, stats = fill_informative(_draw_from(rounds), lambda g: g, want=3, max_extra_rounds=5)
    assert out == [[0, 1], [1, 0], [0, 1]]            # a group of one has no spread
    assert stats == {"rounds": 3, "drawn": 9, "informative": 3, "drawn_per_kept": 3.0}
    out, stats = fill_informative(_draw_from(rounds), lambda g: g, want=3, max_extra_rounds=1)
    assert out == [[0, 1], [1, 0], [1, 1]] and stats["rounds"] == 2 and stats["informative"] == 2


def test_curriculum_moves_up_as_pass_rates_rise():
    cur = Curriculum(CurriculumConfig(enabled=True, difficulties=[2, 3, 4, 5, 6, 7], ema=1.0))
    assert cur.candidates() == [2, 3, 4, 5, 6, 7]     # nothing measured yet: all
    skill = 3.0                                       # the policy solves difficulty d with P = clip(skill - d + 1)
    means = []
    for step in range(12):
        ds = cur.draw(64, seed=step)
        rng = random.Random(step)
        correct = [rng.random() < min(1.0, max(0.0, skill - d + 1)) for d in ds]
        cur.update(ds, correct)
        means.append(sum(ds) / len(ds))
        skill += 0.4
    # step 0 measures every difficulty; then the draw sits on the one inside the band and moves up
    assert means[1:] == [4.0, 4.0, 4.0, 5.0, 5.0, 6.0, 6.0, 7.0, 7.0, 7.0, 7.0]
    assert 4 < means[0] < 5


def test_curriculum_band_rules_exact_and_state_roundtrip():
    cfg = CurriculumConfig(enabled=True, difficulties=[2, 3, 4, 5], ema=0.5)
    cur = Curriculum(cfg)
    cur.update([2, 2, 3, 3, 4, 4, 5, 5], [1, 1, 1, 1, 1, 0, 0, 0])
    assert cur.rates == {2: 1.0, 3: 1.0, 4: 0.5, 5: 0.0}
    assert cur.candidates() == [4]
    cur.update([4, 4], [1, 1])                        # 4: 0.5 * 0.5 + 0.5 * 1 = 0.75, still inside
    assert cur.rates[4] == 0.75 and cur.candidates() == [4]
    cur.update([4, 4], [1, 1])                        # 0.875: above the band; the easiest below it is 5
    assert cur.candidates() == [5]
    cur.update([5], [1])
    cur.update([5], [1])                              # 5: 0.75 inside again
    assert cur.candidates() == [5]
    twin = Curriculum(cfg)
    twin.load(cur.state())
    assert twin.rates == cur.rates and twin.draw(20, seed=7) == cur.draw(20, seed=7)
    every = Curriculum(cfg)
    every.update([2, 3, 4, 5], [1, 1, 1, 1])
    assert every.candidates() == [5]                  # all mastered: the hardest
    none = Curriculum(cfg)
    none.update([2, 3, 4, 5], [0, 0, 0, 0])
    assert none.candidates() == [2]                   # all hopeless: the easiest
    with pytest.raises(ValueError, match="difficulties"):
        Curriculum(CurriculumConfig(enabled=True))


def test_overlong_penalty_exact():
    assert [overlong_penalty(n, 20, 4) for n in (10, 16, 17, 18, 20, 25)] == [0.0, 0.0, -0.25, -0.5, -1.0, -1.0]
    assert overlong_penalty(25, 20, 0) == 0.0


def test_curriculum_spread_mode_weights_and_draws_exact():
    cfg = CurriculumConfig(enabled=True, difficulties=[2, 3, 4, 5], ema=1.0, mode="spread", explore=0.0)
    cur = Curriculum(cfg, group_size=2)
    assert cur.weights() == {2: 1.0, 3: 1.0, 4: 1.0, 5: 1.0}   # unmeasured: as informative as can be
    cur.update([2, 2, 3, 3, 4, 4, 4, 4, 5, 5], [1, 1, 1, 0, 1, 1, 1, 0, 0, 0])
    assert cur.rates == {2: 1.0, 3: 0.5, 4: 0.75, 5: 0.0}
    # 1 - p^2 - (1 - p)^2: a pair carries signal half the time at p = 0.5, 3/8 of the time at 0.75
    assert cur.weights() == {2: 0.0, 3: 0.5, 4: 0.375, 5: 0.0}
    draws = cur.draw(4000, seed=1)
    assert set(draws) == {3, 4} and abs(draws.count(3) / 4000 - 0.5 / 0.875) < 0.03
    assert draws == cur.draw(4000, seed=1)                     # a pure function of the rates and the seed
    # exploration keeps every difficulty drawn, and a curriculum with nothing to prefer draws uniformly
    explore = Curriculum(CurriculumConfig(enabled=True, difficulties=[2, 3, 4, 5], ema=1.0, mode="spread",
                                          explore=0.2), group_size=2)
    explore.load(cur.state())
    d = explore.draw(4000, seed=2)
    assert abs(d.count(2) / 4000 - 0.05) < 0.015 and abs(d.count(3) / 4000 - (0.05 + 0.8 * 0.5 / 0.875)) < 0.03
    flat = Curriculum(cfg, group_size=2)
    flat.update([2, 3, 4, 5], [1, 1, 0, 0])
    assert sorted(set(flat.draw(400, seed=3))) == [2, 3, 4, 5]
    with pytest.raises(ValueError, match="mode"):
        Curriculum(CurriculumConfig(enabled=True, difficulties=[2], mode="bands"))
