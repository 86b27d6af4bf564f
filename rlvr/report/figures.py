"""The report's plotly figures, built from a run's data; the page's script draws them.

The training curves are one figure: a grid of panels, three to a row, each with its own legend under
it (plotly's ``legend``, ``legend2``, ...) that lists only that panel's curves, and its own colours,
taken from the palette's start in every panel, so no two curves of one panel share a colour. The
grid is laid out in pixels, so that each row leaves room for the longest legend in it.
"""
from __future__ import annotations

import html
import re

import plotly.graph_objects as go

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"]
MORE_COLORS = ["#7f7f7f", "#bcbd22", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd",
               "#31a354", "#e6550d", "#756bb1", "#636363"]      # for panels with more curves than PALETTE
DASHES = ["solid", "dash", "dot", "dashdot", "longdash", "longdashdot"]    # one per run overlaid

# Training-curve panels: title -> metric-name patterns (regex, matched in order)
CURVE_PANELS = [
    ("reward by function", [r"^reward/"]),
    ("accuracy (train T=1, validation T=1 and greedy)", [r"^task/accuracy$", r"^eval/accuracy$",
                                                          r"^eval/accuracy_greedy$"]),
    ("mean completion tokens", [r"^rollout/mean_tokens$", r"^eval/mean_tokens$"]),
    ("style and reflection-marker shares", [r"^behaviour/style/", r"^behaviour/marker/"]),
    ("zero-variance group share", [r"^rollout/zero_variance_groups$"]),
    ("entropy", [r"^loss/entropy$", r"^rollout/entropy$"]),
    ("KL", [r"^loss/kl_ref$", r"^loss/approx_kl_old$"]),
    ("clip fraction", [r"^loss/clip_fraction$", r"^loss/clip_frac$"]),
    ("tool calls: share of rollouts calling, of calls failing; environment's token share",
     [r"^tools/call_share$", r"^tools/error_share$", r"^episode/observation_share$"]),
    ("turns per episode, tool calls per rollout", [r"^episode/turns$", r"^tools/calls_per_rollout$"]),
    ("seconds per step", [r"^perf/step_s$"]),
]
# The watch's panels (train/watch.py), one per pathology: title -> patterns (the first must match for the
# panel to be drawn) and the detector whose warning is marked on it, a dotted line at the step it fired
WATCH_PANELS = [
    ("entropy collapse: sampled entropy / its first window", [r"^watch/entropy_ratio$"], "entropy_collapse"),
    ("mode collapse: groups stuck on one wrong completion", [r"^rollout/stuck_groups$", r"^watch/stuck_groups$"],
     "mode_collapse"),
    ("verifier gaming: lenient and strict accuracy", [r"^task/lenient_accuracy$", r"^task/accuracy$",
                                                      r"^watch/gaming_gap$"], "verifier_gaming"),
    ("performative reflection: check lines", [r"^behaviour/reflection/(repairs|fix_rate|fixing|false_alarm)$"],
     "performative_reflection"),
    ("forgetting: held-out probe accuracy", [r"^watch/forgetting_accuracy$", r"^watch/forgetting_drop$"],
     "forgetting"),
]

# The curve grid, in pixels: a row is the panels' titles, plot areas, x axes (ticks and "step") and
# legends. A legend entry at font size 10 is 19 px high (plotly: max(line height, 16) + 3); a
# legend adds 10 px of padding, and 10 px between the groups of overlaid runs.
CURVE_COLS, CURVE_XGAP = 3, 0.06          # columns; the gap between two, as a fraction of the width
TITLE_PX, PLOT_PX, AXIS_PX, ROW_GAP_PX = 30, 210, 45, 15
ENTRY_PX, LEGEND_PAD_PX, GROUP_GAP_PX = 19, 10, 10
CURVE_MARGIN = dict(l=50, r=20, t=10, b=10)

# Reflection moves marked in the scrubber: name -> regex over the completion text
TRACE_MARKERS = {"check": re.compile(r"\bcheck\b"), "wait": re.compile(r"\bwait\b"),
                 "no": re.compile(r"(?<![A-Za-z])no(?![A-Za-z])")}


# -------------------------------------------------------------------------------- training curves
def curves_figure(runs: list):
    """Training curves of every run against step: one panel per CURVE_PANELS entry with data, runs
    overlaid (one dash each), every panel with its own legend and colours."""
    panels = [(title, panel_curves(runs, names)) for title, names in curve_panels(runs)]
    if not panels:
        return None
    boxes, grid_px = curve_grid([legend_px(curves, len(runs)) for _, curves in panels])
    fig = go.Figure()
    layout = {}
    for i, ((title, curves), box) in enumerate(zip(panels, boxes)):
        n = "" if i == 0 else str(i + 1)            # plotly's ids: x, y, legend; then x2, y2, legend2 ...
        for curve, color in zip(curves, panel_colors(len(curves))):
            label = curve["name"] if len(runs) == 1 else f"{curve['run']}: {curve['name']}"
            fig.add_trace(go.Scatter(
                x=[p[0] for p in curve["points"]], y=[p[1] for p in curve["points"]], name=label,
                xaxis=f"x{n}", yaxis=f"y{n}", legend=f"legend{n}",
                legendgroup=curve["run"] if len(runs) > 1 else None,
                mode="lines+markers", marker=dict(size=4),
                line=dict(color=color, dash=DASHES[curve["run_index"] % len(DASHES)]),
                hovertemplate=f"{html.escape(label)}<br>step %{{x}}: %{{y:.4g}}<extra></extra>"))
        layout[f"xaxis{n}"] = dict(domain=box["x"], anchor=f"y{n}", title=dict(text="step"))
        layout[f"yaxis{n}"] = dict(domain=box["y"], anchor=f"x{n}")
        layout[f"legend{n}"] = dict(x=box["x"][0], y=box["legend_y"], xanchor="left", yanchor="top",
                                    orientation="v", font=dict(size=10))
        for step in fired_steps(runs, title):
            fig.add_shape(type="line", x0=step, x1=step, y0=box["y"][0], y1=box["y"][1], xref=f"x{n}",
                          yref="paper", line=dict(color="grey", dash="dot"))
    titles = [dict(text=title, x=sum(box["x"]) / 2, y=box["y"][1], xref="paper", yref="paper",
                   xanchor="center", yanchor="bottom", showarrow=False, font=dict(size=16))
              for (title, _), box in zip(panels, boxes)]
    fig.update_layout(height=grid_px + CURVE_MARGIN["t"] + CURVE_MARGIN["b"], margin=CURVE_MARGIN,
                      showlegend=True, template="plotly_white", annotations=titles, **layout)
    return fig


def curve_panels(runs: list) -> list[tuple[str, list[str]]]:
    """(title, metric names) of each panel that some run has a metric of, names in pattern order; a watch
    panel only when its first pattern matches."""
    keys = sorted({k for r in runs for rec in r.metrics for k in rec})
    panels = []
    for title, pats, *watch in CURVE_PANELS + WATCH_PANELS:
        names = []
        for p in pats:
            names += [k for k in keys if re.search(p, k) and k not in names]
        if names and (not watch or any(re.search(pats[0], k) for k in names)):
            panels.append((title, names))
    return panels


def fired_steps(runs: list, title: str) -> list[int]:
    """The steps at which the watch detector of panel ``title`` first warned, one per run that it did."""
    detector = next((d for t, _, d in WATCH_PANELS if t == title), None)
    if detector is None:
        return []
    key = f"watch/{detector}"
    return [s for s in (next((rec["step"] for rec in r.metrics if rec.get(key)), None) for r in runs) if s]


def panel_curves(runs: list, names: list[str]) -> list[dict]:
    """A panel's curves, run by run and name by name: the metrics with numbers to draw."""
    out = []
    for ri, run in enumerate(runs):
        for name in names:
            pts = [(rec["step"], rec[name]) for rec in run.metrics
                   if name in rec and isinstance(rec[name], (int, float))]
            if pts:
                out.append({"run": run.name, "run_index": ri, "name": name, "points": pts})
    return out


def panel_colors(n: int) -> list[str]:
    """n distinct colours: the palette's, then evenly spaced hues once it runs out."""
    colors = (PALETTE + MORE_COLORS)[:n]
    rest = n - len(colors)
    return colors + [f"hsl({round(360 * k / rest)}, 65%, 40%)" for k in range(rest)]


def legend_px(curves: list[dict], n_runs: int) -> int:
    """The height in pixels of a panel's legend (none when it has no curves)."""
    if not curves:
        return 0
    groups = len({c["run"] for c in curves}) if n_runs > 1 else 1
    return len(curves) * ENTRY_PX + LEGEND_PAD_PX + (groups - 1) * GROUP_GAP_PX


def curve_grid(legend_heights: list[int]) -> tuple[list[dict], int]:
    """Where each panel goes, in paper coordinates: its x and y domains and the top of its legend,
    which sits under its x axis; and the grid's height in pixels. Each row is as tall as its
    longest legend needs."""
    rows = [legend_heights[i:i + CURVE_COLS] for i in range(0, len(legend_heights), CURVE_COLS)]
    row_px = [TITLE_PX + PLOT_PX + AXIS_PX + max(r) + ROW_GAP_PX for r in rows]
    grid_px = sum(row_px)
    width = (1 - (CURVE_COLS - 1) * CURVE_XGAP) / CURVE_COLS
    boxes = []
    for i in range(len(legend_heights)):
        row, col = divmod(i, CURVE_COLS)
        top = sum(row_px[:row]) + TITLE_PX           # pixels from the grid's top to the plot area's
        x0 = col * (width + CURVE_XGAP)
        boxes.append({"x": [x0, x0 + width], "y": [1 - (top + PLOT_PX) / grid_px, 1 - top / grid_px],
                      "legend_y": 1 - (top + PLOT_PX + AXIS_PX) / grid_px})
    return boxes, grid_px


# ------------------------------------------------------------------------------------ other figures
def group_template():
    """The GRPO group panel's figure: the page's script fills in each step's and prompt's bars."""
    fig = go.Figure()
    fig.add_trace(go.Bar(name="reward", x=[], y=[], marker_color=PALETTE[0]))
    fig.add_trace(go.Bar(name="advantage", x=[], y=[], marker_color=PALETTE[1]))
    fig.update_layout(height=340, barmode="group", template="plotly_white",
                      margin=dict(l=50, r=20, t=40, b=40), xaxis_title="completion",
                      yaxis_title="reward / advantage", title="rewards, group mean (dashed) and advantages")
    return fig


def scrub_template():
    """The scrubber's figure: probability of each token, the markers, and the running probability of
    the final answer; the current token is marked by the script."""
    fig = go.Figure()
    fig.add_trace(go.Scatter(name="p(token)", x=[], y=[], mode="lines+markers", marker=dict(size=4),
                             line=dict(color=PALETTE[0])))
    for i, name in enumerate(TRACE_MARKERS):
        fig.add_trace(go.Scatter(name=name, x=[], y=[], mode="markers",
                                 marker=dict(size=11, symbol="triangle-down", color=PALETTE[2 + i])))
    fig.add_trace(go.Scatter(name="p(final answer)", x=[], y=[], mode="lines", connectgaps=True,
                             line=dict(color=PALETTE[1], width=2, dash="dot")))
    fig.update_layout(height=260, template="plotly_white", margin=dict(l=50, r=20, t=30, b=40),
                      xaxis_title="token", yaxis=dict(title="probability", range=[0, 1.05]))
    return fig


def pipeline_figure(pipe: dict):
    """Validation accuracy of each SFT and GRPO stage against step, with the demonstrations' accuracy
    as a dashed line: SFT's ceiling against RL's climb."""
    if not pipe or not pipe["curves"]:
        return None
    fig = go.Figure()
    for i, (name, c) in enumerate(pipe["curves"].items()):
        fig.add_trace(go.Scatter(name=f"{name} ({c['stage']})", x=c["steps"], y=c["accuracy"], mode="lines+markers",
                                 line=dict(color=PALETTE[i % len(PALETTE)])))
    for name, acc in pipe["ceilings"].items():
        if acc is not None:
            fig.add_hline(y=acc, line_dash="dash", line_color="#777",
                          annotation_text=f"{name}: demonstrations' accuracy {acc:.0%}")
    fig.update_layout(height=360, template="plotly_white", margin=dict(l=50, r=20, t=30, b=40),
                      xaxis_title="training step", yaxis=dict(title="validation accuracy", range=[0, 1.02]))
    return fig



def budget_figure(evals: list[dict]):
    """pass@1 and maj@k (largest k) against token budget for every evaluated model, knees marked."""
    fig = go.Figure()
    for i, ev in enumerate(evals):
        sweep = ev.get("sweep") or {}
        rows = sweep.get("rows") or []
        if not rows:
            continue
        color = PALETTE[i % len(PALETTE)]
        majs = sorted((k for k in rows[0] if k.startswith("maj@")), key=lambda k: int(k[4:]))
        metrics = ["pass@1"] + ([majs[-1]] if majs and majs[-1] != "maj@1" else [])
        for m, dash in zip(metrics, ("solid", "dash")):
            fig.add_trace(go.Scatter(x=[r["budget"] for r in rows], y=[r.get(m) for r in rows],
                                     name=f"{ev['name']} {m}", mode="lines+markers",
                                     line=dict(color=color, dash=dash)))
            knee = (sweep.get("knee") or {}).get(m)
            if knee is not None:
                y = next((r.get(m) for r in rows if r["budget"] == knee), None)
                fig.add_trace(go.Scatter(x=[knee], y=[y], name=f"{ev['name']} {m} knee", mode="markers",
                                         marker=dict(symbol="star", size=15, color=color,
                                                     line=dict(color="black", width=1))))
    if not fig.data:
        return None
    fig.update_layout(height=380, template="plotly_white", margin=dict(l=50, r=20, t=40, b=40),
                      title="accuracy against token budget (stars: saturation knee)",
                      xaxis=dict(title="token budget", type="log"), yaxis=dict(title="accuracy"))
    return fig


def pareto_points(evals: list[dict], comparison: dict | None, metric: str = "pass@1") -> list[dict]:
    """The Pareto frontier of accuracy against mean tokens: the comparison's when it holds one, else
    the points no other point beats on both (fewer or equal tokens and higher or equal accuracy)."""
    if comparison and comparison.get("pareto") and comparison.get("metric", "pass@1") == metric:
        return comparison["pareto"]
    pts = [{"model": ev["name"], "budget": r["budget"], "mean_tokens": r["mean_tokens"], "accuracy": r[metric]}
           for ev in evals for r in (ev.get("sweep") or {}).get("rows", []) if metric in r]
    front = [p for p in pts if not any(q is not p and q["mean_tokens"] <= p["mean_tokens"]
                                       and q["accuracy"] >= p["accuracy"]
                                       and (q["mean_tokens"], -q["accuracy"]) != (p["mean_tokens"], -p["accuracy"])
                                       for q in pts)]
    return sorted(front, key=lambda p: p["mean_tokens"])


def pareto_figure(evals: list[dict], comparison: dict | None):
    """Accuracy (pass@1) against mean tokens at each budget, one trace per model plus the frontier.
    Each model's trace is named after the model so the page's toggles can find it."""
    fig = go.Figure()
    for i, ev in enumerate(evals):
        rows = (ev.get("sweep") or {}).get("rows") or []
        if not rows:
            continue
        fig.add_trace(go.Scatter(
            x=[r["mean_tokens"] for r in rows], y=[r.get("pass@1") for r in rows], name=ev["name"],
            meta=ev["name"], mode="lines+markers+text", text=[str(r["budget"]) for r in rows],
            textposition="top center", line=dict(color=PALETTE[i % len(PALETTE)]),
            hovertemplate=f"{html.escape(ev['name'])}: budget %{{text}}, %{{x:.0f}} tokens, "
                          "pass@1 %{y:.3f}<extra></extra>"))
    if not fig.data:
        return None
    front = pareto_points(evals, comparison)
    if front:
        fig.add_trace(go.Scatter(x=[p["mean_tokens"] for p in front], y=[p["accuracy"] for p in front],
                                 name="Pareto frontier", meta="__frontier__", mode="lines",
                                 line=dict(color="black", dash="dot", shape="hv")))
    fig.update_layout(height=380, template="plotly_white", margin=dict(l=50, r=20, t=40, b=40),
                      title="pass@1 against mean tokens per budget (labels: budget)",
                      xaxis_title="mean completion tokens", yaxis_title="pass@1")
    return fig

