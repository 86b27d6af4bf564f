"""``rlvr report``: one self-contained HTML page that shows a run.

The page renders figures from the run directory's own files: ``metrics.jsonl`` (training curves),
``samples/step-N.jsonl`` (the GRPO group at a chosen step, and the trace scrubber, whose per-token
probabilities come from the run's final model at build time), ``eval/*.json`` (test-time compute:
pass@1 and maj@k against budget, the Pareto frontier), ``summary.json`` (the demo's before/after
table), ``config.yaml`` and ``final/run.json`` (the resolved config and environment).

Charts are plotly figures (``figures.py``; each training-curve panel has its own legend and colours);
the page embeds plotly's JavaScript once (no CDN, no network) and a small script of our own for the
sliders and toggles (``page.js``). This module gathers the data, builds the page and writes it.
"""
from __future__ import annotations

import html
import importlib.metadata as md
import json
import platform
import re
from pathlib import Path

import plotly
import torch
from plotly.offline import get_plotlyjs
from transformers import AutoModelForCausalLM, AutoTokenizer

from ..train.forward import completion_logprobs

from .data import RunData, load_run
from .figures import (CURVE_PANELS, PALETTE, WATCH_PANELS, TRACE_MARKERS, budget_figure, curves_figure,  # noqa: F401
                      group_template, pareto_figure, pareto_points, pipeline_figure, scrub_template)


# --------------------------------------------------------------------------------- per-token data
def trace_probabilities(run: RunData, n: int = 6) -> list[dict]:
    """A few sampled completions of the run, token by token, with the final model's probability of
    each token (``completion_logprobs``) and the reflection markers each token starts.

    Picks from the last step with samples: correct ones first, then ones with a check or wait, then
    the rest; at most ``n``. Empty when the run has no samples or no final model."""
    final = run.path / "final"
    if not run.samples or not (final / "config.json").exists():
        return []
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
def build_report(runs: list[str | Path], out: str | Path | None = None, traces: int = 6,
                 title: str | None = None) -> Path:
    """Write the report of one or more run directories (curves overlaid; the GRPO group, scrubber,
    summary and config come from the first run; test-time compute from every run's ``eval/``).
    Returns the path written (default ``RUN/report.html`` of the first run)."""
    datas = [load_run(r) for r in runs]
    if not datas:
        raise ValueError("give at least one run directory")
    out = Path(out) if out else datas[0].path / "report.html"
    evals, comparison = merged_evals(datas)
    figs, groups, scrub = build_figures(datas, evals, comparison, traces)
    payload = {"figures": figs, "groups": groups, "traces": scrub,
               "models": [ev["name"] for ev in evals if (ev.get("sweep") or {}).get("rows")],
               "markers": list(TRACE_MARKERS)}
    title = title or f"rlvr run: {', '.join(d.name for d in datas)}"
    page = render_page(title, build_sections(datas, figs, groups, scrub), payload)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(out)
    return out


def merged_evals(datas: list[RunData]) -> tuple[list[dict], dict | None]:
    """Every run's evaluated models (the first of each name) and the first comparison found."""
    evals, seen = [], set()
    comparison = None
    for d in datas:
        for ev in d.evals:
            if ev["name"] not in seen:
                seen.add(ev["name"])
                evals.append(ev)
        comparison = comparison or d.comparison
    return evals, comparison


def build_figures(datas: list[RunData], evals: list[dict], comparison: dict | None,
                  traces: int) -> tuple[dict, dict, list[dict]]:
    """The page's figures as plotly JSON (those with something to show), the first run's GRPO groups
    and its scrubber's traces."""
    first = datas[0]
    groups = group_data(first)
    scrub = trace_probabilities(first, traces) if traces else []
    figs = {"curves": curves_figure(datas),
            "group": group_template() if groups else None,
            "scrub": scrub_template() if scrub else None,
            "pipeline": pipeline_figure(first.pipeline),
            "budget": budget_figure(evals),
            "pareto": pareto_figure(evals, comparison)}
    return {name: _fig_json(f) for name, f in figs.items() if f is not None}, groups, scrub


def build_sections(datas: list[RunData], figs: dict, groups: dict, scrub: list[dict]) -> list[str]:
    """The page's sections, in order; a section without data is left out."""
    first = datas[0]
    sections = [_section("curves", "Training curves",
                         f"<p class='note'>Runs: {', '.join(html.escape(str(d.path)) for d in datas)}. "
                         "Metric names as in metrics.jsonl.</p>" + _fig_div("curves", figs))]
    if groups:
        sections.append(_section("group", "The GRPO group at a step", GROUP_HTML))
    if scrub:
        sections.append(_section("scrub", "Trace scrubber", SCRUB_HTML))
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
    sections.append(_section("config", "Resolved config and environment", _config_html(datas)))
    return sections


def render_page(title: str, sections: list[str], payload: dict) -> str:
    """The whole page: plotly's JavaScript, the sections, the data and our script, all inline."""
    nav = " · ".join(f"<a href='#{sid}'>{html.escape(t)}</a>" for sid, t in
                     re.findall(r"<section id='([^']+)'><h2>([^<]+)</h2>", "".join(sections)))
    js = (Path(__file__).with_name("page.js")).read_text()
    data_json = json.dumps(payload).replace("</", "<\\/")
    return f"""<!DOCTYPE html>
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
    env = {"python": platform.python_version(), "machine": platform.machine(), "system": platform.system()}
    for pkg in ("torch", "transformers", "plotly", "rlvr"):
        try:
            env[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return env


def _config_html(datas: list[RunData]) -> str:
    env = {"run (training)": datas[0].environment, "report build": build_environment()}
    cfg = "".join(f"<h3>{html.escape(d.name)}</h3><pre class='config'>{html.escape(d.config_text or '(no config.yaml)')}</pre>"
                  for d in datas)
    envt = "".join(f"<h3>{html.escape(k)}</h3><pre class='env'>{html.escape(json.dumps(v, indent=2))}</pre>"
                   for k, v in env.items() if v)
    return cfg + envt


def _fig_json(fig) -> dict:
    return json.loads(fig.to_json())


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


def _section(sid: str, title: str, body: str) -> str:
    return f"<section id='{sid}'><h2>{html.escape(title)}</h2>{body}</section>\n"


def _fig_div(name: str, figs: dict) -> str:
    if name not in figs:
        return ""
    return f"<div id='fig-{name}' class='fig'></div>"


GROUP_HTML = """
<div class="controls">step <input type="range" id="step-slider" min="0" value="0" step="1">
<span id="step-label"></span> &nbsp; prompt <select id="group-select"></select></div>
<p>prompt: <code id="group-prompt"></code> &nbsp; group mean reward: <b id="group-mean"></b></p>
<div id="fig-group" class="fig"></div>
<table class="data" id="group-table"><thead><tr><th>#</th><th>reward</th><th>advantage</th><th>correct</th>
<th>finish</th><th>completion</th></tr></thead><tbody></tbody></table>"""

SCRUB_HTML = """
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
<div id="fig-scrub" class="fig"></div>"""

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
