"""The run's watch on scripted metric streams: each detector fires at the step its condition first holds,
once, and never when its threshold is 0; its state carries across a resume; a run logs its figures."""
import json

import pytest

from rlvr.train.watch import FIX, FIXES, LENIENT, MARKER, PROBE, REPAIRS, Watch, WatchConfig

ENT = "rollout/entropy"


def run(stream: list[dict], cfg: WatchConfig = WatchConfig()) -> tuple[list[dict], list[tuple[int, str]]]:
    watch, lives, fired = Watch(cfg), [], []
    for step, rec in enumerate(stream, 1):
        live, warnings = watch.update(step, rec)
        lives.append(live)
        fired += [(step, w) for w in warnings]
    return lives, fired


def test_entropy_collapse_fires_when_the_window_falls_below_its_share():
    # 5 steps at 2.0 (the first window), then 1.0, 0.5, 0.25, ...: window means 1.8, 1.5, 1.1, 0.75, 0.475...
    stream = [{ENT: 2.0}] * 5 + [{ENT: 2.0 * 0.5 ** k} for k in range(1, 11)]
    lives, fired = run(stream, WatchConfig(entropy_share=0.3))
    ratios = [x.get("watch/entropy_ratio") for x in lives]
    assert ratios[4] == 1.0
    first_low = next(i for i, r in enumerate(ratios) if r is not None and r < 0.3) + 1
    assert [s for s, _ in fired] == [first_low] and "entropy collapse" in fired[0][1] and f"step {first_low}" in fired[0][1]
    assert all(x.get("watch/entropy_collapse") == 1.0 for x in lives[first_low - 1:])
    assert run(stream, WatchConfig(entropy_share=0.0))[1] == []


def test_mode_collapse_fires_when_stuck_groups_pass_their_share():
    stuck = [0.0] * 5 + [0.05 * k + 0.01 for k in range(1, 16)]        # 0.06, 0.11, ... from step 6
    lives, fired = run([{"rollout/stuck_groups": x} for x in stuck], WatchConfig(stuck_share=0.25))
    means = [x.get("watch/stuck_groups") for x in lives]
    assert means[:4] == [None] * 4 and means[4] == 0.0                 # a full window first
    expected = next(i for i, m in enumerate(means) if m is not None and m > 0.25) + 1
    assert expected == 12 and means[10] == pytest.approx(0.21) and means[11] == pytest.approx(0.26)
    assert [s for s, _ in fired] == [expected] and "mode collapse" in fired[0][1]
    assert run([{"rollout/stuck_groups": x} for x in stuck], WatchConfig(stuck_share=0.0))[1] == []


def test_gaming_fires_on_the_gap_between_lenient_and_strict():
    strict = [0.3] * 20
    lenient = [0.3] * 8 + [0.3 + 0.05 * k for k in range(1, 13)]       # the gap opens from step 9
    stream = [{LENIENT: a, "task/accuracy": b} for a, b in zip(lenient, strict)]
    lives, fired = run(stream, WatchConfig(gaming_gap=0.1))
    gaps = [x["watch/gaming_gap"] for x in lives]
    assert gaps[:8] == pytest.approx([0.0] * 8)
    expected = next(i for i, g in enumerate(gaps) if g > 0.1) + 1
    assert [s for s, _ in fired] == [expected] and "verifier gaming" in fired[0][1]
    honest = [{LENIENT: 0.3 + 0.02 * k, "task/accuracy": 0.3 + 0.02 * k} for k in range(20)]
    assert run(honest, WatchConfig(gaming_gap=0.1))[1] == []


def test_performative_reflection_needs_markers_up_and_fixes_down():
    up = [0.1] * 5 + [0.1 + 0.05 * k for k in range(1, 11)]
    down = [0.8] * 5 + [0.8 - 0.06 * k for k in range(1, 11)]
    both = [{MARKER: m, FIX: f} for m, f in zip(up, down)]
    lives, fired = run(both, WatchConfig(fix_rate_share=0.5, marker_rise=0.1))
    expected = next(i for i, x in enumerate(lives) if x.get("watch/marker_rise", 0) > 0.1
                    and x.get("watch/fix_rate_ratio", 1) < 0.5) + 1
    assert [s for s, _ in fired] == [expected] and "performative reflection" in fired[0][1]
    useful = [{MARKER: m, FIX: 0.8} for m in up]                         # more markers, still working
    assert run(useful, WatchConfig(fix_rate_share=0.5, marker_rise=0.1))[1] == []
    never = [{MARKER: m, FIX: 0.0} for m in up]                          # nothing fixed from the start: no fall
    lives, fired = run(never, WatchConfig(fix_rate_share=0.5, marker_rise=0.1))
    assert fired == [] and all("watch/fix_rate_ratio" not in x for x in lives)


def test_check_lines_read_one_by_one_take_the_place_of_the_marker_shares():
    """Where the world logs its check lines (no lines and fixing lines per completion), the detector reads
    those, the window's fix rate a ratio of sums: here the marker shares say nothing, the lines say performance."""
    up = [0.1] * 5 + [0.1 + 0.2 * k for k in range(1, 11)]
    down = [0.9] * 5 + [0.9 - 0.08 * k for k in range(1, 11)]
    stream = [{MARKER: 0.1, FIX: 0.8, REPAIRS: m, FIXES: m * f} for m, f in zip(up, down)]
    lives, fired = run(stream, WatchConfig(fix_rate_share=0.5, marker_rise=0.1))
    expected = next(i for i, x in enumerate(lives) if x.get("watch/marker_rise", 0) > 0.1
                    and x.get("watch/fix_rate_ratio", 1) < 0.5) + 1
    assert [s for s, _ in fired] == [expected] and expected > 5
    last = slice(-5, None)
    assert lives[-1]["watch/marker_rise"] == pytest.approx(sum(up[last]) / 5 - 0.1)
    ratio = sum(m * f for m, f in zip(up[last], down[last])) / sum(up[last])      # not the mean of the rates
    assert lives[-1]["watch/fix_rate_ratio"] == pytest.approx(ratio / 0.9)
    assert run([{MARKER: 0.1, FIX: 0.8, REPAIRS: m, FIXES: 0.9 * m} for m in up],      # more lines, still fixing
               WatchConfig(fix_rate_share=0.5, marker_rise=0.1))[1] == []


def test_forgetting_compares_the_probe_with_its_start():
    stream = [{PROBE: 0.6}] + [{}] * 9 + [{PROBE: 0.55}] + [{}] * 9 + [{PROBE: 0.45}]
    lives, fired = run(stream, WatchConfig(forgetting_drop=0.1))
    assert lives[10]["watch/forgetting_drop"] == pytest.approx(0.05)
    assert [s for s, _ in fired] == [21] and "forgetting" in fired[0][1]


def test_a_resumed_watch_continues_as_one_never_interrupted():
    stream = [{ENT: 2.0 * 0.8 ** k, LENIENT: 0.2 + 0.03 * k, "task/accuracy": 0.2} for k in range(20)]
    whole = run(stream)
    watch = Watch(WatchConfig())
    first = [watch.update(s, r) for s, r in enumerate(stream[:9], 1)]
    saved = json.loads(json.dumps(watch.state()))                       # as a checkpoint holds it
    again = Watch(WatchConfig())
    again.load(saved)
    rest = [again.update(s, r) for s, r in enumerate(stream[9:], 10)]
    assert [x for x, _ in first + rest] == whole[0]
    assert [(s, w) for s, (_, ws) in enumerate(first + rest, 1) for w in ws] == whole[1]


def test_a_grpo_run_logs_the_watch_and_the_lenient_accuracy(tmp_path, tiny_dir):
    from rlvr.rollout import SamplingConfig
    from rlvr.train.grpo import GRPOConfig, train_grpo
    from rlvr.train.watch import ForgettingProbe

    cfg = GRPOConfig(out=str(tmp_path / "run"), model=str(tiny_dir), steps=3, prompts_per_step=2, group_size=2,
                     eval_every=0, verify_workers=0, sampling=SamplingConfig(max_new_tokens=8),
                     watch=WatchConfig(window=2, forgetting_probe=ForgettingProbe(task="countdown", problems=4, every=2)))
    train_grpo(cfg)
    recs = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert all("task/lenient_accuracy" in r for r in recs)
    assert "watch/entropy_ratio" in recs[1] and PROBE in recs[1] and "watch/forgetting_drop" in recs[1]
