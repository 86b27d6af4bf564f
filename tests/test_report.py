"""The run report: the HTML builder on its own, and the page in headless Chromium (no network).

The browser tests build the report once from a --quick demo run (plus a small eval folder of two
models, since the quick run is not evaluated), open it in Debian's chromium through Playwright with
every non-file request blocked, and check the page's behaviour. Chromium is installed with apt-get
when it is missing; screenshots go to the run directory."""
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rlvr.world import shipped_base_path

CHROMIUM = Path("/usr/bin/chromium")


def eval_json(name: str, scale: float, knee: int) -> dict:
    budgets = [16, 32, 64, 128, 256]
    rows = []
    for i, b in enumerate(budgets):
        acc = scale * min(1.0, (i + 1) / 4)
        rows.append({"budget": b, "pass@1": acc, "mean_tokens": min(b, 20 + 25 * i * scale), "answered": 0.9,
                     "maj@1": acc, "pass@4": min(1, acc * 1.5), "maj@4": acc * 1.2})
    return {"name": name, "model": name, "sweep": {"budgets": budgets, "rows": rows,
                                                   "knee": {"pass@1": knee, "maj@4": knee}}}


def write_evals(run: Path) -> None:
    (run / "eval").mkdir(exist_ok=True)
    (run / "eval" / "base.json").write_text(json.dumps(eval_json("base", 0.3, 64)))
    (run / "eval" / "rl.json").write_text(json.dumps(eval_json("rl", 0.8, 128)))


def fake_run(tmp: Path) -> Path:
    """A run directory written by hand: metrics, two steps of samples, a summary, evals, config."""
    run = tmp / "fake"
    (run / "samples").mkdir(parents=True)
    recs = [{"step": s, "reward/mean": 0.1 * s, "reward/correct": 0.5, "task/accuracy": 0.1 * s,
             "rollout/mean_tokens": 50 + s, "loss/entropy": 0.5, "loss/kl_ref": 0.01, "perf/step_s": 1.0,
             **{f"behaviour/style/{k}": 0.1 * s for k in ("direct", "stepwise", "check", "careful")},
             **{f"behaviour/marker/{k}": 0.05 * s for k in ("wait", "check", "abandon", "wait_fix_rate")}}
            for s in (1, 2, 3)]
    recs[-1]["eval/accuracy"] = 0.4
    (run / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in recs) + "\n")
    for s in (1, 3):
        rows = [{"step": s, "prompt": f"{s}{g}+1=\n", "completion": f"<answer>{k}</answer>", "reward": float(k == 1),
                 "advantage": 1.0 if k == 1 else -0.5, "correct": k == 1, "group": g, "finish_reason": "stop"}
                for g in range(2) for k in range(3)]
        (run / "samples" / f"step-{s}.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    (run / "summary.json").write_text(json.dumps({"base": {"accuracy": 0.1}, "rl": {"accuracy": 0.5}, "steps": 3}))
    (run / "config.yaml").write_text("steps: 3\nlr: 0.0001\n")
    write_evals(run)
    return run


def report_data(page: Path) -> dict:
    """The data a built page embeds for its script: figures (plotly JSON), groups, traces, models."""
    return json.loads(page.read_text().split('<script type="application/json" id="report-data">')[1]
                      .split("</script>")[0])


def test_builder_without_browser(tmp_path):
    from rlvr.report import build_report, pareto_points
    from rlvr.report.data import load_run

    run = fake_run(tmp_path)
    out = build_report([run], traces=0)
    assert out == run / "report.html"
    page = out.read_text()
    low = page.lower()
    assert "<script src" not in low and "<link" not in low                    # self-contained
    assert low.count("<script") == 3              # plotly once, the data, our script
    data = report_data(out)
    assert set(data["figures"]) == {"curves", "group", "budget", "pareto"}     # no final model: no scrubber
    assert sorted(data["groups"]) == ["1", "3"] and len(data["groups"]["3"]) == 2
    assert [c["advantage"] for c in data["groups"]["1"][0]["completions"]] == [-0.5, 1.0, -0.5]
    assert data["models"] == ["base", "rl"]
    curve_names = {t["name"] for t in data["figures"]["curves"]["data"]}
    assert {"reward/mean", "task/accuracy", "eval/accuracy", "rollout/mean_tokens", "perf/step_s"} <= curve_names
    pareto = data["figures"]["pareto"]["data"]
    assert [t.get("meta") for t in pareto] == ["base", "rl", "__frontier__"]
    knees = [t for t in data["figures"]["budget"]["data"] if t["name"].endswith("knee")]
    assert [(t["name"], t["x"]) for t in knees][:2] == [("base pass@1 knee", [64]), ("base maj@4 knee", [64])]
    assert "summary-table" in page and "lr: 0.0001" in page
    # the frontier: no point on it is beaten on both tokens and accuracy by another point
    pts = pareto_points(load_run(run).evals, None)
    assert pts and all(not (q["mean_tokens"] <= p["mean_tokens"] and q["accuracy"] > p["accuracy"])
                       for p in pts for q in pts)


def test_each_curve_panel_has_its_own_legend_and_colours(tmp_path):
    """Each curve panel has a legend of its own (legend, legend2, ...) under its plot area, listing just
    its curves (those its CURVE_PANELS patterns match); no two curves of a panel share a colour. One
    run, and two overlaid: the behaviour panel then holds 16 curves, twice the palette."""
    from rlvr.report import CURVE_PANELS, WATCH_PANELS, build_report

    PANELS = {t: pats for t, pats, *_ in CURVE_PANELS + WATCH_PANELS}

    run = fake_run(tmp_path)
    shutil.copytree(run, tmp_path / "other")
    for runs in ([run], [run, tmp_path / "other"]):
        fig = report_data(build_report(runs, out=tmp_path / f"{len(runs)}.html", traces=0))["figures"]["curves"]
        layout, panels = fig["layout"], {}
        for t in fig["data"]:
            panels.setdefault((t["xaxis"], t["yaxis"]), []).append(t)
        legends = sorted(lg for traces in panels.values() for lg in {t["legend"] for t in traces})  # one a panel
        assert len(legends) == len(panels) == 7 and legends == sorted(k for k in layout if k.startswith("legend"))
        for (xa, ya), traces in panels.items():
            xdom, ydom = layout["xaxis" + xa[1:]]["domain"], layout["yaxis" + ya[1:]]["domain"]
            title = next(a["text"] for a in layout["annotations"]
                         if a["x"] == pytest.approx(sum(xdom) / 2) and a["y"] == pytest.approx(ydom[1]))
            assert all(any(re.search(p, t["name"].split(": ")[-1]) for p in PANELS[title]) for t in traces)
            assert len({t["line"]["color"] for t in traces}) == len(traces), title          # colours distinct
            leg = layout[traces[0]["legend"]]
            assert leg["x"] == pytest.approx(xdom[0]) and leg["yanchor"] == "top" and leg["y"] < ydom[0]
            assert all(leg["y"] > layout[k]["domain"][1] for k in layout      # above the next row's panels
                       if k.startswith("yaxis") and layout[k]["domain"][1] < ydom[0])
        assert max(map(len, panels.values())) == 8 * len(runs) and len(fig["data"]) == 16 * len(runs)
    assert {"fake: task/accuracy", "other: task/accuracy"} <= {t["name"] for t in fig["data"]}   # runs prefixed


def test_a_run_with_tools_gets_the_tool_and_turn_panels(tmp_path):
    from rlvr.report import build_report

    run = fake_run(tmp_path)
    recs = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    for r in recs:
        r.update({"tools/call_share": 0.2 * r["step"], "tools/error_share": 0.0, "episode/observation_share": 0.1,
                  "episode/turns": 1 + 0.2 * r["step"], "tools/calls_per_rollout": 0.3 * r["step"]})
    (run / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in recs) + "\n")
    fig = report_data(build_report([run], out=tmp_path / "r.html", traces=0))["figures"]["curves"]
    titles = [a["text"] for a in fig["layout"]["annotations"]]
    assert any(t.startswith("tool calls") for t in titles) and "turns per episode, tool calls per rollout" in titles
    curve = next(t for t in fig["data"] if t["name"].endswith("tools/call_share"))
    assert curve["y"] == pytest.approx([0.2, 0.4, 0.6])


def test_cli_report_and_view(tmp_path, capsys):
    from rlvr.cli import main

    run = fake_run(tmp_path)
    assert main(["report", str(run), "--out", str(tmp_path / "r.html"), "--traces", "0"]) == 0
    assert (tmp_path / "r.html").stat().st_size > 1_000_000                    # plotly embedded
    assert main(["view", str(run), "--no-browser"]) == 0                       # builds RUN/report.html
    assert (run / "report.html").exists() and str(run / "report.html") in capsys.readouterr().out
    assert main(["report", str(tmp_path / "missing")]) == 2


# ---------------------------------------------------------------------------------------- browser
def ensure_chromium() -> Path:
    if CHROMIUM.exists():
        return CHROMIUM
    cmds = [["apt-get", "install", "-y", "chromium"], ["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]]
    log = []
    for cmd in cmds:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        log.append(f"$ {' '.join(cmd)} -> {r.returncode}\n{r.stderr[-2000:]}")
        if cmd[1] == "install" and r.returncode == 0 and CHROMIUM.exists():
            return CHROMIUM
    pytest.fail("the browser tests need Debian's chromium and could not install it "
                "(run `apt-get install -y chromium` as root):\n" + "\n".join(log))


def test_chromium_is_installed_with_apt_get_when_missing(tmp_path, monkeypatch):
    """The install path of ensure_chromium against a stand-in apt-get on PATH: the first install
    fails (stale package lists), the update runs, the second install puts chromium in place."""
    target = tmp_path / "chromium"
    calls = tmp_path / "calls"
    fake = tmp_path / "bin" / "apt-get"
    fake.parent.mkdir()
    fake.write_text(f"""#!/bin/sh
echo "$@" >> {calls}
if [ "$1" = update ]; then touch {tmp_path}/updated; exit 0; fi
if [ -e {tmp_path}/updated ]; then touch {target}; exit 0; fi
echo "E: Unable to locate package chromium" >&2; exit 100
""")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    monkeypatch.setattr(sys.modules[__name__], "CHROMIUM", target)
    assert ensure_chromium() == target and target.exists()
    assert calls.read_text().splitlines() == ["install -y chromium", "update", "install -y chromium"]
    # when nothing can install it, the failure names the fix and carries apt-get's own message
    target.unlink()
    (tmp_path / "updated").unlink()
    fake.write_text("#!/bin/sh\necho 'E: no network' >&2\nexit 100\n")
    with pytest.raises(pytest.fail.Exception, match=r"(?s)apt-get install -y chromium.*E: no network"):
        ensure_chromium()


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    if not (shipped_base_path() / "config.json").exists():
        pytest.skip("no shipped base")
    from rlvr.cli import main

    run = tmp_path_factory.mktemp("report") / "demo"
    assert main(["demo", "--quick", f"out={run}", "test_problems=8"]) == 0
    assert (run / "report.html").exists()                     # the demo writes its report
    write_evals(run)
    from rlvr.report import build_report

    build_report([run])
    return run


@pytest.fixture(scope="module")
def page(quick_run):
    ensure_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM),
                                    args=["--headless=new", "--no-sandbox", "--disable-gpu"])
        ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
        blocked = []

        def route(r):
            if r.request.url.startswith("file://"):
                return r.continue_()
            blocked.append(r.request.url)
            return r.abort()

        ctx.route("**/*", route)
        pg = ctx.new_page()
        errors = []
        pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.goto((quick_run / "report.html").resolve().as_uri())
        pg.wait_for_selector("svg.main-svg", timeout=60_000)
        pg.wait_for_function("window.rlvrReport && window.rlvrReport.ready", timeout=60_000)
        pg.errors, pg.blocked, pg.run = errors, blocked, quick_run
        yield pg
        browser.close()


FIGURES = ["curves", "group", "scrub", "budget", "pareto"]


def test_page_draws_every_figure(page):
    for name in FIGURES:
        n = page.evaluate(f"document.getElementById('fig-{name}').querySelectorAll('svg.main-svg').length")
        assert n >= 1, name
        points = page.evaluate(f"Array.from(document.querySelectorAll('#fig-{name} .point, #fig-{name} "
                               f".scatterlayer path.js-line')).length")
        assert points > 0, name
        ntr = page.evaluate(f"document.getElementById('fig-{name}').data.filter(t => (t.x||[]).length).length")
        assert ntr > 0, name
    assert page.evaluate("document.querySelectorAll('#summary-table tbody tr').length") >= 5
    assert "steps: 3" in page.inner_text("section#config")
    page.screenshot(path=str(page.run / "report-full.png"), full_page=True)
    assert page.errors == [] and page.blocked == []


def test_step_slider_changes_group(page):
    state = "() => [document.getElementById('step-label').textContent, " \
            "document.getElementById('group-prompt').textContent, " \
            "JSON.stringify(document.getElementById('fig-group').data.map(t => t.y)), " \
            "document.querySelector('#group-table tbody').innerText]"
    slider = page.locator("#step-slider")
    assert slider.get_attribute("max") == "2"                      # steps 1, 2, 3 have samples
    before = page.evaluate(state)
    assert before[0].startswith("step 1")
    slider.fill("2")                                               # fires input
    after = page.evaluate(state)
    assert after[0].startswith("step 3")
    assert after[1] != before[1] and after[3] != before[3]        # another prompt and completions
    assert page.locator("#group-table tbody tr").count() == 4     # group_size 4
    page.locator("#fig-group").screenshot(path=str(page.run / "report-group.png"))
    assert page.errors == []


def fake_pipeline_run(tmp_path: Path) -> Path:
    """A run of chained stages written by hand: demonstrations, SFT and GRPO curves, a measure stage."""
    run = tmp_path / "sft_vs_rl"
    stages = {"demos": "demonstrate", "sft": "sft", "grpo": "grpo", "test": "measure"}
    for name in stages:
        (run / name).mkdir(parents=True)
    (run / "demos" / "summary.json").write_text(json.dumps({"accuracy": 0.85}))
    for name, accs in (("sft", [0.1, 0.3, 0.31]), ("grpo", [0.1, 0.4, 0.6])):
        recs = [{"step": 10 * (i + 1), "eval/accuracy": a} for i, a in enumerate(accs)] + [{"step": 5, "loss": 1.0}]
        (run / name / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in recs) + "\n")
    models = {"base": {"accuracy": 0.1, "mean_tokens": 90.0, "readable": 1.0, "style/careful": 0.3},
              "sft": {"accuracy": 0.31, "mean_tokens": 60.0, "readable": 1.0, "style/careful": 0.5},
              "grpo": {"accuracy": 0.6, "mean_tokens": 140.0, "readable": 0.98, "style/careful": 0.97}}
    (run / "summary.json").write_text(json.dumps({
        "stages": {n: {"stage": k, "output": str(run / n), "seconds": 1.0} for n, k in stages.items()},
        "test": models}))
    return run


def test_pipeline_run_gets_the_sft_against_rl_panel(tmp_path):
    """A run of chained stages (rlvr/pipeline.py): the SFT and GRPO validation curves with the
    demonstrations' accuracy as a line, and the measure stage's table."""
    from rlvr.report import build_report

    run = fake_pipeline_run(tmp_path)
    page = build_report([run], traces=0).read_text()
    fig = report_data(run / "report.html")["figures"]["pipeline"]
    assert [t["name"] for t in fig["data"]] == ["sft (sft)", "grpo (grpo)"]
    assert fig["data"][1]["y"] == [0.1, 0.4, 0.6] and fig["data"][1]["x"] == [10, 20, 30]
    assert [sh["y0"] for sh in fig["layout"]["shapes"]] == [0.85]                  # the demonstrations' line
    table = page.split("id='measure-table'")[1].split("</table>")[0]
    assert table.count("<tr>") == 4 and "<td>grpo</td><td>60.0%</td><td>140</td><td>98.0%</td><td>97.0%</td>" in table
    assert "Before and after RL" not in page          # a pipeline summary is not the demo's


def test_running_answer_probability_matches_plain_forwards():
    """Every scored prefix against one plain forward of prefix + forced answer, summed by hand."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from rlvr.report import answer_probabilities

    base = shipped_base_path()
    tok, model = AutoTokenizer.from_pretrained(base), AutoModelForCausalLM.from_pretrained(base).eval()
    prompt = tok("4821+9921=\n")["input_ids"]
    comp = tok("work 4821+9921 1+1+0=2", add_special_tokens=False)["input_ids"]
    pieces = [tok.decode([t]) for t in comp]
    with torch.inference_mode():
        got = answer_probabilities(model, tok, prompt, comp, pieces, "14742", max_points=8, batch=3)
    assert len(got) == len(comp) and got[-1] is not None
    scored = [t for t, p in enumerate(got) if p is not None]
    assert 5 <= len(scored) <= 9 and len(scored) < len(comp) and scored[0] == 0
    for t in scored:
        forced = tok("\n<answer>14742</answer>", add_special_tokens=False)["input_ids"]
        ids = prompt + comp[:t + 1] + forced
        with torch.inference_mode():
            logp = model(input_ids=torch.tensor([ids])).logits[0].log_softmax(-1)
        start = len(ids) - len(forced)
        want = sum(logp[start - 1 + j, forced[j]].item() for j in range(len(forced)))
        assert got[t] == pytest.approx(float(torch.tensor(want).exp()), rel=1e-3, abs=1e-6)


def test_scrubber_moves_token_by_token(page):
    slider = page.locator("#token-slider")
    n = int(slider.get_attribute("max")) + 1
    assert n > 3
    seen = []
    for i in range(4):
        slider.fill(str(i))
        cur = page.evaluate("Array.from(document.querySelectorAll('#trace-text span.tok'))"
                            ".findIndex(s => s.classList.contains('cur'))")
        after = page.evaluate("document.querySelectorAll('#trace-text span.after').length")
        x0 = page.evaluate("document.getElementById('fig-scrub').layout.shapes[0].x0")
        seen.append((cur, after, x0, page.inner_text("#token-label")))
    assert seen == [(i, n - 1 - i, i, f"{i + 1} / {n}") for i in range(4)]
    probs = page.evaluate("window.rlvrReport.data.traces[0].probs")
    assert len(probs) == n and all(0 < p <= 1 for p in probs)
    # the running probability of the final answer: one value per token (None where not scored), drawn
    running = page.evaluate("window.rlvrReport.data.traces[0].answer_probs")
    assert len(running) == n and running[-1] is not None and all(p is None or 0 <= p <= 1 for p in running)
    drawn = page.evaluate("document.getElementById('fig-scrub').data.slice(-1)[0].y")
    assert drawn == running
    slider.fill("0")
    shown = page.inner_text("#answer-prob")
    assert shown.endswith(page.evaluate("'for ' + window.rlvrReport.data.traces[0].answer"))
    page.locator("section#scrub").screenshot(path=str(page.run / "report-scrubber.png"))
    assert page.errors == []


def test_model_toggles_change_pareto(page):
    visible = "() => document.querySelectorAll('#fig-pareto .scatterlayer .trace').length"
    vis_flags = "() => document.getElementById('fig-pareto').data.map(t => t.visible === undefined ? true : t.visible)"
    toggles = page.locator("input.model-toggle")
    assert toggles.count() == 2
    n0 = page.evaluate(visible)
    toggles.nth(1).uncheck()
    assert page.evaluate(vis_flags) == [True, False, True]
    assert page.evaluate(visible) == n0 - 1
    page.locator("#fig-pareto").screenshot(path=str(page.run / "report-pareto.png"))
    toggles.nth(1).check()
    assert page.evaluate(vis_flags) == [True, True, True] and page.evaluate(visible) == n0
    assert page.errors == []


def test_each_curve_panel_shows_its_own_legend(page):
    """The curves' legends as drawn: each lists exactly its panel's curves and lies under that panel's
    plot area from its left edge, overlapping no plot area and no other legend."""
    got = page.evaluate("""() => {
      const gd = document.getElementById('fig-curves'), plots = {}, legends = {};
      const box = el => { const r = el.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
      gd.querySelectorAll('.draglayer .nsewdrag').forEach(r => { plots[r.parentNode.classList[0]] = box(r); });
      gd.querySelectorAll('.infolayer > g[class^=legend]').forEach(g => { legends[g.getAttribute('class')] =
        [box(g.querySelector('rect.bg')), Array.from(g.querySelectorAll('g.traces text'), t => t.textContent)]; });
      return {plots, legends, traces: gd.data.map(t => [t.xaxis + t.yaxis, t.legend || 'legend', t.name])};
    }""")
    plots, legends, panel_of = got["plots"], got["legends"], {}
    for subplot, legend, _ in got["traces"]:
        assert panel_of.setdefault(legend, subplot) == subplot                 # a legend serves one panel
    assert set(legends) == set(panel_of) and len(set(panel_of.values())) == len(plots) >= 6
    overlap = lambda a, b: a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]  # noqa: E731
    for legend, (box, names) in legends.items():
        left, _, _, bottom = plots[panel_of[legend]]                            # under its plot, from its left
        assert abs(box[0] - left) < 2 and box[1] > bottom and names == [n for _, g, n in got["traces"] if g == legend]
        assert not any(overlap(box, b) for b in [*plots.values(), *(v[0] for k, v in legends.items() if k != legend)])
    page.locator("#fig-curves").screenshot(path=str(page.run / "report-curves.png"))
    assert page.errors == []


def test_pipeline_panel_in_the_browser(page, tmp_path):
    """Last in the file: it navigates the shared page to a pipeline run's report."""
    from rlvr.report import build_report

    out = build_report([fake_pipeline_run(tmp_path)], traces=0)
    page.errors.clear()
    page.goto(out.resolve().as_uri())
    page.wait_for_function("window.rlvrReport && window.rlvrReport.ready", timeout=60_000)
    lines = page.evaluate("document.querySelectorAll('#fig-pipeline .scatterlayer .trace').length")
    assert lines == 2 and page.locator("#fig-pipeline .shapelayer path").count() == 1
    assert page.locator("#measure-table tbody tr").count() == 3
    page.locator("section#pipeline").screenshot(path=str(page.run / "report-pipeline.png"))
    assert page.errors == [] and page.blocked == []


def test_watch_panels_show_each_pathology_and_the_step_its_detector_warned(tmp_path):
    """A run whose watch fired gets a panel per pathology it has figures of, the detector's step marked by a
    dotted line in that panel; the gaming panel needs the lenient reading, so a plain run has none."""
    from rlvr.report import build_report

    run = fake_run(tmp_path)
    recs = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    for r in recs:
        r.update({"task/lenient_accuracy": 0.2 * r["step"], "watch/gaming_gap": 0.1 * r["step"],
                  "watch/entropy_ratio": 1.0 / r["step"], "behaviour/reflection/repairs": 0.5 * r["step"],
                  "rollout/stuck_groups": 0.1 * r["step"],
                  **({"watch/verifier_gaming": 1.0} if r["step"] >= 2 else {}),
                  **({"watch/mode_collapse": 1.0} if r["step"] >= 3 else {})})
    (run / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in recs) + "\n")
    fig = report_data(build_report([run], out=tmp_path / "w.html", traces=0))["figures"]["curves"]
    titles = {a["text"] for a in fig["layout"]["annotations"]}
    assert {"entropy collapse: sampled entropy / its first window", "verifier gaming: lenient and strict accuracy",
            "mode collapse: groups stuck on one wrong completion", "performative reflection: check lines"} <= titles
    assert "forgetting: held-out probe accuracy" not in titles
    shapes = fig["layout"]["shapes"]
    assert sorted((s["x0"], s["x1"]) for s in shapes) == [(2, 2), (3, 3)]      # gaming at step 2, collapse at 3
    for step, name in ((2, "task/lenient_accuracy"), (3, "rollout/stuck_groups")):
        trace = next(t for t in fig["data"] if t["name"] == name)
        assert next(s for s in shapes if s["x0"] == step)["xref"] == trace["xaxis"]
