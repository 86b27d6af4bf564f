"""``rlvr report``: one self-contained HTML page that shows a run.

The page renders figures from the run directory's own files: ``metrics.jsonl`` (training curves),
``samples/step-N.jsonl`` (the GRPO group at a chosen step, and the trace scrubber, whose per-token
probabilities come from the run's final model at build time), ``eval/*.json`` (test-time compute:
pass@1 and maj@k against budget, the Pareto frontier), ``summary.json`` (the demo's before/after
table), ``config.yaml`` and ``final/run.json`` (the resolved config and environment).

Charts are plotly figures built here; the page embeds plotly's JavaScript once (no CDN, no network)
and a small script of our own for the sliders and toggles (``page.js``).
"""
from __future__ import annotations

import html
import json
import platform
import re
from pathlib import Path

from .data import RunData, load_run

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"]

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
    ("seconds per step", [r"^perf/step_s$"]),
]

# Reflection moves marked in the scrubber: name -> regex over the completion text
TRACE_MARKERS = {"check": re.compile(r"\bcheck\b"), "wait": re.compile(r"\bwait\b"),
                 "no": re.compile(r"(?<![A-Za-z])no(?![A-Za-z])")}


def _fig_json(fig) -> dict:
    return json.loads(fig.to_json())


# ------------------------------------------------------------------------------------------- figures
def curves_figure(runs: list[RunData]):
    """Training curves of every run against step, one subplot per panel with data, runs overlaid."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    keys = sorted({k for r in runs for rec in r.metrics for k in rec})
    panels = []
    for title, pats in CURVE_PANELS:
        names = []
        for p in pats:
            names += [k for k in keys if re.search(p, k) and k not in names]
        if names:
            panels.append((title, names))
    if not panels:
        return None
    cols = 3
    rows = (len(panels) + cols - 1) // cols
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[t for t, _ in panels],
                        horizontal_spacing=0.06, vertical_spacing=0.12 if rows > 1 else 0.2)
    dashes = ["solid", "dash", "dot", "dashdot", "longdash", "longdashdot"]
    for i, (title, names) in enumerate(panels):
        row, col = i // cols + 1, i % cols + 1
        for ri, run in enumerate(runs):
            for ni, name in enumerate(names):
                pts = [(rec["step"], rec[name]) for rec in run.metrics
                       if name in rec and isinstance(rec[name], (int, float))]
                if not pts:
                    continue
                label = name if len(runs) == 1 else f"{run.name}: {name}"
                fig.add_trace(go.Scatter(
                    x=[p[0] for p in pts], y=[p[1] for p in pts], name=label, legendgroup=run.name,
                    mode="lines+markers", marker=dict(size=4),
                    line=dict(color=PALETTE[(ni if len(runs) == 1 else ri) % len(PALETTE)],
                              dash=dashes[(0 if len(runs) == 1 else ni) % len(dashes)]),
                    hovertemplate=f"{html.escape(label)}<br>step %{{x}}: %{{y:.4g}}<extra></extra>"),
                    row=row, col=col)
        fig.update_xaxes(title_text="step", row=row, col=col)
    fig.update_layout(height=300 * rows, margin=dict(l=50, r=20, t=40, b=40), showlegend=True,
                      legend=dict(font=dict(size=10)), template="plotly_white")
    return fig


def group_template():
    """The GRPO group panel's figure: the page's script fills in each step's and prompt's bars."""
    import plotly.graph_objects as go

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
    import plotly.graph_objects as go

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
    import plotly.graph_objects as go

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


def _measure_table(measures: dict) -> str:
    rows = []
    for stage, models in measures.items():
        for label, m in models.items():
            rows.append(f"<tr><td>{html.escape(stage)}</td><td>{html.escape(label)}</td><td>{m.get('accuracy', 0):.1%}</td>"
                        f"<td>{m.get('mean_tokens', 0):.0f}</td><td>{_pct(m.get('readable'))}</td>"
                        f"<td>{_pct(m.get('style/careful'))}</td></tr>")
    return ("<table id='measure-table' class='data'><thead><tr><th>stage</th><th>model</th><th>accuracy</th>"
            "<th>mean tokens</th><th>readable</th><th>careful styles</th></tr></thead><tbody>"
            + "".join(rows) + "</tbody></table>")


def _pct(x) -> str:
    return "" if x is None else f"{x:.1%}"


def budget_figure(evals: list[dict]):
    """pass@1 and maj@k (largest k) against token budget for every evaluated model, knees marked."""
    import plotly.graph_objects as go

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
    import plotly.graph_objects as go

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


# --------------------------------------------------------------------------------- per-token data
def trace_probabilities(run: RunData, n: int = 6) -> list[dict]:
    """A few sampled completions of the run, token by token, with the final model's probability of
    each token (``completion_logprobs``) and the reflection markers each token starts.

    Picks from the last step with samples: correct ones first, then ones with a check or wait, then
    the rest; at most ``n``. Empty when the run has no samples or no final model."""
    final = run.path / "final"
    if not run.samples or not (final / "config.json").exists():
        return []
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ..train.grpo import completion_logprobs

    step = max(run.samples)
    rows = run.samples[step]
    ranked = sorted(range(len(rows)), key=lambda i: (not rows[i].get("correct"),
                                                     not re.search(r"\b(check|wait)\b", rows[i]["completion"]), i))
    chosen = [rows[i] for i in ranked[:n] if rows[i]["completion"]]
    if not chosen:
        return []
    tok = AutoTokenizer.from_pretrained(final)
    model = AutoModelForCausalLM.from_pretrained(final)
    model.eval()
    prompt_ids = [tok(r["prompt"])["input_ids"] for r in chosen]
    comp_ids = [tok(r["completion"], add_special_tokens=False)["input_ids"] for r in chosen]
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    with torch.inference_mode():
        logp, _, mask = completion_logprobs(model, prompt_ids, comp_ids, pad)
    out = []
    for i, r in enumerate(chosen):
        ids = comp_ids[i]
        pieces = [tok.decode([t], skip_special_tokens=False) for t in ids]
        starts, pos = [], 0
        for p in pieces:
            starts.append(pos)
            pos += len(p)
        marks = {}
        for name, pat in TRACE_MARKERS.items():
            for m in pat.finditer(r["completion"]):
                j = max(k for k, s in enumerate(starts) if s <= m.start())
                marks.setdefault(str(j), []).append(name)
        answer = re.search(r"<answer>(.*?)</answer>", r["completion"], re.S)
        with torch.inference_mode():
            running = answer_probabilities(model, tok, prompt_ids[i], ids, pieces, answer.group(1)) if answer else []
        out.append({"step": r["step"], "prompt": r["prompt"], "reward": r.get("reward"),
                    "correct": bool(r.get("correct")), "tokens": pieces,
                    "probs": [round(float(x), 5) for x in logp[i, :len(ids)].exp()],
                    "answer": answer.group(1) if answer else None, "answer_probs": running,
                    "markers": marks})
    return out


def answer_probabilities(model, tok, prompt_ids: list[int], comp_ids: list[int], pieces: list[str], answer: str,
                         max_points: int = 120, batch: int = 64) -> list[float | None]:
    """The model's running probability of the trace's final answer: after each completion token t,
    the probability that, made to answer right there (``<answer>`` appended, on a new line unless the
    prefix ends one), it writes ``answer`` and closes the tag. One forward per scored prefix; with more
    than ``max_points`` tokens every k-th prefix is scored (and the last), the others are None."""
    from ..train.grpo import completion_logprobs

    n = len(comp_ids)
    stride = max(1, -(-n // max_points))
    points = sorted(set(range(0, n, stride)) | {n - 1}) if n else []
    forced = {nl: tok(("\n" if nl else "") + f"<answer>{answer}</answer>", add_special_tokens=False)["input_ids"]
              for nl in (True, False)}
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    out: list[float | None] = [None] * n
    for k in range(0, len(points), batch):
        chunk = points[k:k + batch]
        prefixes = [prompt_ids + comp_ids[:t + 1] for t in chunk]
        targets = [forced[not pieces[t].endswith("\n")] for t in chunk]
        logp, _, mask = completion_logprobs(model, prefixes, targets, pad)
        for t, lp, m in zip(chunk, logp, mask):
            out[t] = round(float((lp * m).sum().exp()), 5)
    return out


def group_data(run: RunData) -> dict:
    """{step: [{prompt, completions: [{completion, reward, advantage, correct, finish_reason}]}]}."""
    out = {}
    for step, rows in sorted(run.samples.items()):
        groups: dict[int, dict] = {}
        for r in rows:
            g = groups.setdefault(r.get("group", 0), {"prompt": r["prompt"], "completions": []})
            g["completions"].append({k: r.get(k) for k in ("completion", "reward", "advantage", "correct",
                                                            "finish_reason")})
        out[str(step)] = [groups[k] for k in sorted(groups)]
    return out


# ------------------------------------------------------------------------------------------ page
def _summary_table(summary: dict) -> str:
    b, a = summary.get("base", {}), summary.get("rl", {})
    pct = lambda v: "" if v is None else f"{v:.1%}"  # noqa: E731
    num = lambda v: "" if v is None else f"{v:.1f}"  # noqa: E731
    rows = [("accuracy (T=1)", pct(b.get("accuracy")), pct(a.get("accuracy"))),
            ("accuracy (greedy)", pct(b.get("accuracy_greedy")), pct(a.get("accuracy_greedy"))),
            ("mean completion tokens", num(b.get("mean_completion_tokens")), num(a.get("mean_completion_tokens")))]
    for s in sorted(set(b.get("style_share", {})) | set(a.get("style_share", {}))):
        rows.append((f"{s} style share", pct(b.get("style_share", {}).get(s)), pct(a.get("style_share", {}).get(s))))
    rows += [("wait share", pct(b.get("wait_share")), pct(a.get("wait_share"))),
             ("wait-fix rate", pct(b.get("wait_fix_rate")), pct(a.get("wait_fix_rate"))),
             ("Spearman(digits, length)", num(b.get("spearman_difficulty_length")),
              num(a.get("spearman_difficulty_length")))]
    for d in sorted(set(b.get("by_difficulty", {})) | set(a.get("by_difficulty", {}))):
        f = lambda s: (f"{s['accuracy']:.1%} / {s['mean_tokens']:.0f}" if s else "")  # noqa: E731
        rows.append((f"{d} digits: accuracy / tokens", f(b.get("by_difficulty", {}).get(d)),
                     f(a.get("by_difficulty", {}).get(d))))
    body = "".join(f"<tr><td>{html.escape(r[0])}</td><td>{r[1]}</td><td>{r[2]}</td></tr>" for r in rows)
    foot = (f"<p class='note'>{summary.get('test_problems', '?')} held-out test problems; "
            f"{summary.get('steps', '?')} GRPO steps; wall time {summary.get('wall_seconds', '?')} s"
            f"{' (quick run)' if summary.get('quick') else ''}.</p>")
    return (f"<table id='summary-table' class='data'><thead><tr><th></th><th>base</th><th>after RL</th></tr></thead>"
            f"<tbody>{body}</tbody></table>{foot}")


def build_environment() -> dict:
    import importlib.metadata as md

    env = {"python": platform.python_version(), "machine": platform.machine(), "system": platform.system()}
    for pkg in ("torch", "transformers", "plotly", "rlvr"):
        try:
            env[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return env


def build_report(runs: list[str | Path], out: str | Path | None = None, traces: int = 6,
                 title: str | None = None) -> Path:
    """Write the report of one or more run directories (curves overlaid; the GRPO group, scrubber,
    summary and config come from the first run; test-time compute from every run's ``eval/``).
    Returns the path written (default ``RUN/report.html`` of the first run)."""
    import plotly
    from plotly.offline import get_plotlyjs

    datas = [load_run(r) for r in runs]
    if not datas:
        raise ValueError("give at least one run directory")
    first = datas[0]
    out = Path(out) if out else first.path / "report.html"
    evals, seen = [], set()
    comparison = None
    for d in datas:
        for ev in d.evals:
            if ev["name"] not in seen:
                seen.add(ev["name"])
                evals.append(ev)
        comparison = comparison or d.comparison

    figs = {}
    f = curves_figure(datas)
    if f is not None:
        figs["curves"] = _fig_json(f)
    groups = group_data(first)
    if groups:
        figs["group"] = _fig_json(group_template())
    scrub = trace_probabilities(first, traces) if traces else []
    if scrub:
        figs["scrub"] = _fig_json(scrub_template())
    f = pipeline_figure(first.pipeline)
    if f is not None:
        figs["pipeline"] = _fig_json(f)
    f = budget_figure(evals)
    if f is not None:
        figs["budget"] = _fig_json(f)
    f = pareto_figure(evals, comparison)
    if f is not None:
        figs["pareto"] = _fig_json(f)

    payload = {"figures": figs, "groups": groups, "traces": scrub,
               "models": [ev["name"] for ev in evals if (ev.get("sweep") or {}).get("rows")],
               "markers": list(TRACE_MARKERS)}
    env = {"run (training)": first.environment, "report build": build_environment()}
    title = title or f"rlvr run: {', '.join(d.name for d in datas)}"
    sections = []
    sections.append(_section("curves", "Training curves",
                             f"<p class='note'>Runs: {', '.join(html.escape(str(d.path)) for d in datas)}. "
                             "Metric names as in metrics.jsonl.</p>" + _fig_div("curves", figs)))
    if groups:
        sections.append(_section("group", "The GRPO group at a step", """
<div class="controls">step <input type="range" id="step-slider" min="0" value="0" step="1">
<span id="step-label"></span> &nbsp; prompt <select id="group-select"></select></div>
<p>prompt: <code id="group-prompt"></code> &nbsp; group mean reward: <b id="group-mean"></b></p>
<div id="fig-group" class="fig"></div>
<table class="data" id="group-table"><thead><tr><th>#</th><th>reward</th><th>advantage</th><th>correct</th>
<th>finish</th><th>completion</th></tr></thead><tbody></tbody></table>"""))
    if scrub:
        sections.append(_section("scrub", "Trace scrubber", """
<div class="controls">completion <select id="trace-select"></select> &nbsp;
token <input type="range" id="token-slider" min="0" value="0" step="1" style="width:40em">
<span id="token-label"></span></div>
<p class="note">Each token is shaded by the final model's probability of it (darker: less likely);
the current token is outlined, tokens after it faded; check / wait / no are underlined. The dotted
curve is the running probability of the trace's final answer: made to answer right after each token,
how likely the model writes that answer.</p>
<pre id="trace-text" class="trace"></pre>
<p>current token: <code id="token-current"></code> p = <b id="token-prob"></b> <span id="token-marks"></span>
&nbsp; p(final answer) = <b id="answer-prob"></b></p>
<div id="fig-scrub" class="fig"></div>"""))
    if "budget" in figs or "pareto" in figs:
        sections.append(_section("compute", "Test-time compute",
                                 "<p class='note'>From eval/*.json (rlvr eval).</p>" + _fig_div("budget", figs)
                                 + "<div class='controls' id='model-toggles'>models: </div>"
                                 + _fig_div("pareto", figs)))
    if first.pipeline and (figs.get("pipeline") or first.pipeline["measures"]):
        sections.append(_section("pipeline", "SFT, RL and their stages",
                                 "<p class='note'>Validation accuracy of each SFT and GRPO stage of this "
                                 "experiment against step; dashed: the demonstrations' own accuracy. The table: "
                                 "the measure stages, every model on the same held-out problems.</p>"
                                 + _fig_div("pipeline", figs) + _measure_table(first.pipeline["measures"])))
    if first.summary:
        sections.append(_section("summary", "Before and after RL (demo)", _summary_table(first.summary)))
    cfg = "".join(f"<h3>{html.escape(d.name)}</h3><pre class='config'>{html.escape(d.config_text or '(no config.yaml)')}</pre>"
                  for d in datas)
    envt = "".join(f"<h3>{html.escape(k)}</h3><pre class='env'>{html.escape(json.dumps(v, indent=2))}</pre>"
                   for k, v in env.items() if v)
    sections.append(_section("config", "Resolved config and environment", cfg + envt))
    nav = " · ".join(f"<a href='#{sid}'>{html.escape(t)}</a>" for sid, t in
                     re.findall(r"<section id='([^']+)'><h2>([^<]+)</h2>", "".join(sections)))
    js = (Path(__file__).with_name("page.js")).read_text()
    data_json = json.dumps(payload).replace("</", "<\\/")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{CSS}</style>
<script type="text/javascript">{get_plotlyjs()}</script>
</head><body>
<h1>{html.escape(title)}</h1>
<p class="note">Built by rlvr report with plotly {plotly.__version__}; self-contained, no network. {nav}</p>
{''.join(sections)}
<script type="application/json" id="report-data">{data_json}</script>
<script type="text/javascript">{js}</script>
</body></html>
"""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(out)
    return out


def _section(sid: str, title: str, body: str) -> str:
    return f"<section id='{sid}'><h2>{html.escape(title)}</h2>{body}</section>\n"


def _fig_div(name: str, figs: dict) -> str:
    if name not in figs:
        return ""
    return f"<div id='fig-{name}' class='fig'></div>"


CSS = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1300px; color: #222; }
h1 { font-size: 1.5em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; }
.note { color: #666; font-size: .9em; }
.controls { margin: .6em 0; }
table.data { border-collapse: collapse; font-size: .9em; }
table.data td, table.data th { border: 1px solid #ddd; padding: 2px 8px; vertical-align: top; text-align: left; }
table.data td pre { margin: 0; white-space: pre-wrap; max-width: 60em; }
pre.trace { white-space: pre-wrap; font-size: 1.05em; line-height: 1.7; padding: .5em; border: 1px solid #ddd; }
pre.trace span.tok { border: 1px solid transparent; }
pre.trace span.cur { border: 2px solid #000; }
pre.trace span.after { opacity: .35; }
pre.trace span.mark { text-decoration: underline; text-decoration-thickness: 2px; }
pre.config, pre.env { background: #f6f6f6; padding: .5em; font-size: .85em; max-height: 30em; overflow: auto; }
tr.correct td { background: #eaf7ea; }
"""
