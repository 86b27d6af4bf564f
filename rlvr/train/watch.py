"""The run's watch: detectors of the ways GRPO runs go wrong, on the metrics of every step.

    watch: {entropy_share: 0.3, gaming_gap: 0.1, fix_rate_share: 0.5, marker_rise: 0.1, window: 5}

``Watch.update(step, record)`` reads one step's metrics and returns its live figures (``watch/...``, logged
with the step) and the warnings raised at this step, each one line naming the step, printed in the log
and shown in the progress bar. A detector fires once, when its condition first holds; ``watch/<name>``
stays 1 from then on. Each compares a moving average over ``window`` steps with the run's first window:

- **entropy collapse** (``entropy_share``): the sampled tokens' entropy (``rollout/entropy``) falls below
  this share of its first-window value: the policy is collapsing onto one mode, pass@k for large k
  shrinks toward pass@1 (Yue et al. 2025);
- **mode collapse** (``stuck_share``): the share of groups whose rollouts are all one and the same wrong
  completion (``rollout/stuck_groups``) rises above this: on those problems the policy has settled on one
  wrong answer and no sample finds another. It reads the collapse that costs pass@k where entropy cannot
  (a healthy run on an easy task sharpens its entropy as far, docs/pathologies.md);
- **verifier gaming** (``gaming_gap``): for a task that declares a lenient reading of its answers
  (``task/lenient_accuracy``, e.g. the right number anywhere in the text), the lenient accuracy runs ahead
  of the strict one by more than this: the reward is being earned in ways the strict verifier rejects;
- **performative reflection** (``fix_rate_share`` with ``marker_rise``): reflection markers rise by more
  than ``marker_rise`` while their fix rate falls below ``fix_rate_share`` of its start: the markers are being
  written, not used. Where the task's traces are read check line by check line (the world's arithmetic,
  ``world/reflection.py``) the marker is the ``no`` lines per completion and the fix rate the share of them
  that fix a wrong step; otherwise the share of completions with ``wait`` and of repairs that end right;
- **forgetting** (``forgetting_drop``): greedy accuracy on a small held-out probe set of another task
  (``forgetting_probe``, measured every ``every`` steps; it costs sampling, so it is off by default) falls
  by more than this below its value before training.

A threshold of 0 turns its detector off. The detectors are pure functions of the metric stream (tested
on scripted streams); the state they keep (the first window, what has fired) is saved with checkpoints.
"""
from __future__ import annotations

import sys
from collections import deque
from dataclasses import dataclass, field

from ..config import require_number


@dataclass
class ForgettingProbe:
    task: str = ""
    """Task of the probe set (empty: no probe), e.g. countdown."""
    kwargs: dict = field(default_factory=dict)
    """Arguments of the probe's task."""
    problems: int = 50
    """Held-out problems in the probe set (greedy, one completion each)."""
    every: int = 10
    """Steps between probes."""


@dataclass
class WatchConfig:
    window: int = 5
    """Steps in each moving average the detectors compare."""
    entropy_share: float = 0.05
    """Warn when the sampled entropy falls below this share of its first window (0: off). The demo's healthy
    run sharpens to about 10% of its first window as its accuracy reaches 97%; 5% is past that."""
    stuck_share: float = 0.05
    """Warn when the share of groups stuck on one wrong completion exceeds this (0: off). Healthy runs on the
    world's arithmetic stay at 0; GRPO collapsing on Countdown reaches 0.10-0.15 (docs/pathologies.md)."""
    gaming_gap: float = 0.1
    """Warn when lenient accuracy exceeds strict accuracy by this much (tasks with a lenient reading; 0: off)."""
    fix_rate_share: float = 0.5
    """Warn when the markers' fix rate falls below this share of its first window while the markers rise by
    marker_rise (0: off). A share, not a drop: a base's fix rate may start low (the shipped base's check
    lines fix a wrong step about one time in ten they say no)."""
    marker_rise: float = 0.1
    """The rise of the reflection marker share that goes with a falling fix rate."""
    forgetting_drop: float = 0.1
    """Warn when the forgetting probe's accuracy falls this much below its value before training (0: off)."""
    forgetting_probe: ForgettingProbe = field(default_factory=ForgettingProbe)
    """A held-out probe set of another task (off unless its task is named)."""

    def check(self) -> None:
        require_number(self.window, "window", 1, fix="e.g. watch.window=5")
        for name in ("entropy_share", "stuck_share", "gaming_gap", "fix_rate_share", "marker_rise", "forgetting_drop"):
            require_number(getattr(self, name), name, 0, 1, fix=f"0 turns it off, e.g. watch.{name}=0.1")
        require_number(self.forgetting_probe.problems, "forgetting_probe.problems", 1, fix="e.g. 50")
        require_number(self.forgetting_probe.every, "forgetting_probe.every", 1, fix="e.g. 10")


def probe_accuracy(sampler, tokenizer, probe: ForgettingProbe, sampling, seed: int) -> float:
    """Greedy accuracy on the forgetting probe's held-out problems (its task's test split)."""
    from ..eval.scoring import sample_once
    from ..rollout import SamplingConfig
    from ..tasks import get_task

    task = get_task(probe.task, **probe.kwargs)
    problems = task.problems("test", probe.problems, seed)
    _, correct, _ = sample_once(sampler, tokenizer, task, problems, SamplingConfig(**{**sampling.__dict__,
                                                                                       "temperature": 0.0}))
    return sum(correct) / len(correct)


ENTROPY, STUCK, LENIENT, STRICT = "rollout/entropy", "rollout/stuck_groups", "task/lenient_accuracy", "task/accuracy"
MARKER, FIX = "behaviour/marker/wait", "behaviour/marker/wait_fix_rate"
REPAIRS, FIXES = "behaviour/reflection/repairs", "behaviour/reflection/fixes"   # check lines per completion (world)
PROBE = "watch/forgetting_accuracy"


class Watch:
    """The detectors over one run's metric stream (see the module docstring)."""

    def __init__(self, cfg: WatchConfig, seed: int = 0):
        self.cfg, self.seed = cfg, seed
        self.recent: dict[str, deque] = {}
        self.first: dict[str, float] = {}
        self.fired: dict[str, int] = {}
        self.probe_start: float | None = None

    # ------------------------------------------------------------------ in a run
    def start(self, state: dict | None, sampler, tokenizer, sampling) -> None:
        """Restore a resumed run's watch; in a fresh run, measure the forgetting probe before training."""
        self.load(state)
        if self.cfg.forgetting_probe.task and self.probe_start is None:
            self.probe_start = probe_accuracy(sampler, tokenizer, self.cfg.forgetting_probe, sampling, self.seed)

    def step(self, step: int, rec: dict, sampler, tokenizer, sampling, speak: bool = True) -> str:
        """Measure the probe when due, add the live figures to ``rec``, print new warnings (when ``speak``);
        returns what the progress bar shows of the alarms raised so far ('' for none)."""
        probe = self.cfg.forgetting_probe
        if probe.task and step % probe.every == 0:
            rec[PROBE] = probe_accuracy(sampler, tokenizer, probe, sampling, self.seed)
        live, warnings = self.update(step, rec)
        rec.update(live)
        for w in warnings if speak else ():
            print(w, file=sys.stderr, flush=True)
        return f" [watch: {', '.join(n.replace('_', ' ') for n in self.fired)}]" if self.fired else ""

    # ------------------------------------------------------------------ the stream
    def _mean(self, key: str, rec: dict) -> float | None:
        """The moving average of ``key`` including this step; its first full window is kept as ``first``."""
        if not isinstance(rec.get(key), (int, float)):
            return None
        q = self.recent.setdefault(key, deque(maxlen=self.cfg.window))
        q.append(float(rec[key]))
        mean = sum(q) / len(q)
        if len(q) == self.cfg.window and key not in self.first:
            self.first[key] = mean
        return mean

    def update(self, step: int, rec: dict) -> tuple[dict, list[str]]:
        """(live figures, warnings fired at this step) after the metrics ``rec`` of ``step``."""
        cfg, live, checks = self.cfg, {}, []
        ent = self._mean(ENTROPY, rec)
        if ent is not None and ENTROPY in self.first and self.first[ENTROPY] > 0:
            live["watch/entropy_ratio"] = ent / self.first[ENTROPY]
            checks.append(("entropy_collapse", cfg.entropy_share and live["watch/entropy_ratio"] < cfg.entropy_share,
                           f"entropy at {live['watch/entropy_ratio']:.0%} of its start: the policy is collapsing "
                           f"onto one mode (measure pass@k against the base; docs/pathologies.md)"))
        stuck = self._mean(STUCK, rec)
        if stuck is not None and len(self.recent[STUCK]) == cfg.window:
            live["watch/stuck_groups"] = stuck
            checks.append(("mode_collapse", cfg.stuck_share and stuck > cfg.stuck_share,
                           f"{stuck:.0%} of the groups are one and the same wrong completion: the policy has "
                           f"collapsed onto one answer there (measure pass@k; clip-higher, harder problems)"))
        lenient, strict = self._mean(LENIENT, rec), self._mean(STRICT, rec)
        if lenient is not None and strict is not None:
            live["watch/gaming_gap"] = lenient - strict
            checks.append(("verifier_gaming", cfg.gaming_gap and live["watch/gaming_gap"] > cfg.gaming_gap,
                           f"lenient accuracy {lenient:.0%} runs ahead of strict {strict:.0%}: the reward is earned "
                           f"in ways the strict verifier rejects (read the samples; reward the strict verdict)"))
        reflection = self._reflection(rec)
        if reflection is not None:
            (marker, fix), (marker0, fix0) = reflection
            live["watch/marker_rise"] = rise = marker - marker0
            if fix0 > 0:                                   # a rate that never fixed anything cannot fall
                live["watch/fix_rate_ratio"] = ratio = fix / fix0
                checks.append(("performative_reflection", cfg.fix_rate_share and rise > cfg.marker_rise
                               and ratio < cfg.fix_rate_share, f"reflection markers up {rise:+.2f} while their fix "
                               f"rate fell to {ratio:.0%} of its start: markers are written, not used (no reward "
                               f"for markers themselves)"))
        if isinstance(rec.get(PROBE), (int, float)):
            self.probe_start = float(rec[PROBE]) if self.probe_start is None else self.probe_start
            live["watch/forgetting_drop"] = self.probe_start - float(rec[PROBE])
            checks.append(("forgetting", cfg.forgetting_drop and live["watch/forgetting_drop"] > cfg.forgetting_drop,
                           f"accuracy on the {cfg.forgetting_probe.task} probe fell {live['watch/forgetting_drop']:.0%}"
                           f" below its start: the run is forgetting (mix that task into training; docs/pathologies.md)"))
        warnings = []
        for name, bad, text in checks:
            if bad and name not in self.fired:
                self.fired[name] = step
                warnings.append(f"step {step}: {name.replace('_', ' ')}: {text}")
        live.update({f"watch/{name}": 1.0 for name in self.fired})
        return live, warnings

    def _reflection(self, rec: dict):
        """((marker, fix rate) now, (marker, fix rate) of the first window), or None before both exist.
        Where the world reads check lines, the window's fix rate is its fixing lines over its ``no`` lines
        (a ratio of sums: steps with few ``no`` lines weigh little); otherwise the mean of the shares."""
        if REPAIRS in rec or REPAIRS in self.recent:
            marker, fixes = self._mean(REPAIRS, rec), self._mean(FIXES, rec)
            if marker is None or fixes is None or REPAIRS not in self.first or FIXES not in self.first:
                return None
            first = self.first[REPAIRS]
            return (marker, fixes / marker if marker else 0.0), (first, self.first[FIXES] / first if first else 0.0)
        marker, fix = self._mean(MARKER, rec), self._mean(FIX, rec)
        if marker is None or fix is None or MARKER not in self.first or FIX not in self.first:
            return None
        return (marker, fix), (self.first[MARKER], self.first[FIX])

    # ------------------------------------------------------------------ checkpoints
    def state(self) -> dict:
        return {"recent": {k: list(v) for k, v in self.recent.items()}, "first": self.first, "fired": self.fired,
                "probe_start": self.probe_start}

    def load(self, state: dict | None) -> None:
        if not state:
            return
        self.recent = {k: deque(v, maxlen=self.cfg.window) for k, v in state["recent"].items()}
        self.first, self.fired, self.probe_start = dict(state["first"]), dict(state["fired"]), state["probe_start"]
