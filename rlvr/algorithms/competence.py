"""Keeping training at the edge of competence: groups that carry signal, problems the policy can just do.

- ``fill_informative``: DAPO's dynamic sampling (Yu et al. 2025): drop groups whose rewards have zero
  spread (all right or all wrong: their advantages are 0 and they teach nothing), draw more prompts
  until the batch is full of informative groups, with a cap on the extra rounds.
- ``Curriculum``: track each difficulty's recent pass rate and draw the difficulties whose rate lies in a
  target band (``band``), or each in proportion to the chance that a group of its problems carries
  signal (``spread``), so the mix moves up as the policy improves.
- ``overlong_penalty``: DAPO's soft overlong punishment, a reward that falls linearly from 0 to -1 over
  the last ``buffer`` tokens of the budget.
Pure functions and one small class whose whole state is ``state()`` (saved in checkpoints).
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Callable, Sequence


# ------------------------------------------------------------------------------ dynamic sampling
def has_spread(rewards: Sequence[float]) -> bool:
    """Whether a group's rewards differ (a group of one never does)."""
    return len(rewards) > 1 and max(rewards) != min(rewards)


def fill_informative(draw: Callable[[int], list], rewards_of: Callable[[object], Sequence[float]],
                     want: int, max_extra_rounds: int):
    """DAPO dynamic sampling over groups.

    ``draw(round)`` returns a list of groups (any objects); ``rewards_of(group)`` their rewards. Rounds are
    drawn until ``want`` groups with reward spread are kept or ``max_extra_rounds`` rounds beyond the first
    have run. Returns (groups, stats): the first ``want`` informative groups; when the cap runs out first,
    the informative groups found followed by as many zero-spread groups as make up ``want`` (so the batch
    size stays fixed). ``stats``: rounds, groups drawn, informative kept, and drawn per kept group."""
    kept, flat, drawn, rounds = [], [], 0, 0
    for r in range(1 + max(0, max_extra_rounds)):
        batch = draw(r)
        rounds += 1
        drawn += len(batch)
        for g in batch:
            (kept if has_spread(rewards_of(g)) else flat).append(g)
        if len(kept) >= want:
            break
    informative = min(len(kept), want)
    out = kept[:want] + flat[:want - informative]
    stats = {"rounds": rounds, "drawn": drawn, "informative": informative,
             "drawn_per_kept": drawn / max(informative, 1)}
    return out, stats


# ------------------------------------------------------------------------------ curriculum
@dataclass
class CurriculumConfig:
    enabled: bool = False
    """Draw each step's problems by difficulty from the pass rates (off: the task's own mix)."""
    difficulties: list = field(default_factory=list)
    """The difficulties to draw from, easiest first (arithmetic: digit counts, e.g. [2, 3, 4, 5, 6, 7])."""
    band_low: float = 0.2
    """Lower edge of the target pass-rate band."""
    band_high: float = 0.8
    """Upper edge of the target pass-rate band."""
    ema: float = 0.5
    """Weight of the newest step's pass rate in each difficulty's running rate."""
    mode: str = "band"
    """``band``: draw uniformly among the difficulties whose rate lies in [band_low, band_high] (one at a
    time once the band empties, moving up). ``spread``: draw every difficulty in proportion to the chance
    that a group of ``group_size`` rollouts of it has reward spread, ``1 - p^K - (1 - p)^K`` at pass rate
    ``p`` (1 for a difficulty not yet measured): the expected share of its groups that carry signal."""
    explore: float = 0.0
    """With ``mode=spread``: share of each step's problems drawn uniformly over all the difficulties, so
    that every rate stays measured (a difficulty whose rate is 0 or 1 gets no other draw)."""


class Curriculum:
    """Adaptive curriculum over difficulties.

    ``mode=spread`` draws by ``weights()`` (see ``CurriculumConfig.mode``); what follows is ``band``.
    Each difficulty keeps a running pass rate (an exponential moving average of the per-step share of
    correct rollouts; unseen: none). A step draws each problem's difficulty uniformly from the candidates:
    the difficulties with no rate yet or a rate inside [band_low, band_high]. When none qualifies, it
    draws the easiest difficulty still below band_high (moving up), or the hardest when all are above,
    or the easiest when all are below. The whole state is the rates; ``state()`` / ``load()`` carry it
    through checkpoints."""

    def __init__(self, cfg: CurriculumConfig, group_size: int = 8):
        if not cfg.difficulties:
            raise ValueError("curriculum.difficulties must list the difficulties to draw from")
        if cfg.mode not in ("band", "spread"):
            raise ValueError(f"curriculum.mode must be 'band' or 'spread', got {cfg.mode!r}")
        self.cfg = cfg
        self.group_size = group_size
        self.rates: dict[int, float | None] = {int(d): None for d in cfg.difficulties}

    def weights(self) -> dict[int, float]:
        """``mode=spread``: each difficulty's chance that a group of its rollouts has reward spread."""
        k = self.group_size
        return {d: 1.0 if p is None else 1.0 - p ** k - (1.0 - p) ** k for d, p in self.rates.items()}

    def candidates(self) -> list[int]:
        c = self.cfg
        ds = list(self.rates)
        inside = [d for d in ds if self.rates[d] is None or c.band_low <= self.rates[d] <= c.band_high]
        if inside:
            return inside
        below_top = [d for d in ds if self.rates[d] < c.band_high]
        if not below_top:
            return [ds[-1]]
        return [min(below_top, key=ds.index)]

    def draw(self, n: int, seed: int) -> list[int]:
        """The difficulties of the next ``n`` problems, a pure function of the rates and ``seed``."""
        rng = random.Random(f"curriculum:{seed}")
        if self.cfg.mode == "spread":
            ds, w = list(self.rates), list(self.weights().values())
            if sum(w) <= 0:                            # every rate is 0 or 1: nothing to prefer
                w = [1.0] * len(ds)
            return [rng.choice(ds) if rng.random() < self.cfg.explore else rng.choices(ds, weights=w)[0]
                    for _ in range(n)]
        cand = self.candidates()
        return [rng.choice(cand) for _ in range(n)]

    def update(self, difficulties: Sequence[int], correct: Sequence[bool]) -> None:
        """Fold one step's outcomes (one entry per rollout) into the running rates."""
        seen: dict[int, list[bool]] = {}
        for d, ok in zip(difficulties, correct):
            if int(d) in self.rates:
                seen.setdefault(int(d), []).append(bool(ok))
        for d, oks in seen.items():
            rate = sum(oks) / len(oks)
            old = self.rates[d]
            self.rates[d] = rate if old is None else (1 - self.cfg.ema) * old + self.cfg.ema * rate

    def state(self) -> dict:
        return {"rates": dict(self.rates)}

    def load(self, state: dict) -> None:
        self.rates = {int(d): r for d, r in state["rates"].items()}


# ------------------------------------------------------------------------------ overlong
def overlong_penalty(length: int, max_tokens: int, buffer: int) -> float:
    """DAPO's soft overlong punishment (Yu et al. 2025, eq. 13): 0 up to max_tokens - buffer tokens,
    then ((max_tokens - buffer) - length) / buffer, falling linearly to -1 at the budget, and -1 beyond.
    ``buffer`` 0 turns it off."""
    if buffer <= 0:
        return 0.0
    free = max_tokens - buffer
    if length <= free:
        return 0.0
    if length <= max_tokens:
        return (free - length) / buffer
    return -1.0
