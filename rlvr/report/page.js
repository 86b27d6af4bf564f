// rlvr report: draws the page's plotly figures and wires the sliders and toggles.
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("report-data").textContent);
  var F = D.figures;
  var CONFIG = {responsive: true, displaylogo: false};
  window.rlvrReport = {ready: false, data: D};

  function $(id) { return document.getElementById(id); }
  function esc(s) {
    return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }
  function fmt(v) { return (v === null || v === undefined) ? "" : (+v).toFixed(3); }

  var drawn = [];
  ["curves", "pipeline", "budget", "pareto"].forEach(function (name) {
    if (F[name] && $("fig-" + name)) {
      drawn.push(Plotly.newPlot("fig-" + name, F[name].data, F[name].layout, CONFIG));
    }
  });

  // ---------------------------------------------------------------- the GRPO group at a step
  var steps = Object.keys(D.groups).map(Number).sort(function (a, b) { return a - b; });
  function drawGroup() {
    var step = steps[+$("step-slider").value];
    var groups = D.groups[String(step)];
    var gi = Math.min(+$("group-select").value || 0, groups.length - 1);
    var g = groups[gi];
    var xs = g.completions.map(function (_, i) { return "#" + (i + 1); });
    var rewards = g.completions.map(function (c) { return c.reward; });
    var advs = g.completions.map(function (c) { return c.advantage; });
    var mean = rewards.reduce(function (a, b) { return a + b; }, 0) / Math.max(1, rewards.length);
    $("step-label").textContent = "step " + step + " (" + (+$("step-slider").value + 1) + " of " + steps.length + ")";
    $("group-prompt").textContent = g.prompt;
    $("group-mean").textContent = fmt(mean);
    var layout = JSON.parse(JSON.stringify(F.group.layout));
    layout.title = {text: "step " + step + ", prompt " + (gi + 1) + ": rewards, group mean " + fmt(mean) +
                          " (dashed) and advantages"};
    layout.shapes = [{type: "line", xref: "paper", x0: 0, x1: 1, y0: mean, y1: mean,
                      line: {dash: "dash", color: "#444"}}];
    var data = JSON.parse(JSON.stringify(F.group.data));
    data[0].x = xs; data[0].y = rewards;
    data[1].x = xs; data[1].y = advs;
    var body = g.completions.map(function (c, i) {
      return "<tr class='" + (c.correct ? "correct" : "") + "'><td>" + (i + 1) + "</td><td>" + fmt(c.reward) +
        "</td><td>" + fmt(c.advantage) + "</td><td>" + (c.correct ? "yes" : "no") + "</td><td>" +
        esc(c.finish_reason || "") + "</td><td><pre>" + esc(c.completion) + "</pre></td></tr>";
    }).join("");
    $("group-table").querySelector("tbody").innerHTML = body;
    return Plotly.react("fig-group", data, layout, CONFIG);
  }
  function fillGroups() {
    var step = steps[+$("step-slider").value];
    var sel = $("group-select");
    var keep = +sel.value || 0;
    sel.innerHTML = D.groups[String(step)].map(function (g, i) {
      return "<option value='" + i + "'>" + (i + 1) + ": " + esc(g.prompt.trim()) + "</option>";
    }).join("");
    sel.value = String(Math.min(keep, D.groups[String(step)].length - 1));
  }
  if (steps.length && $("step-slider")) {
    var slider = $("step-slider");
    slider.max = String(steps.length - 1);
    slider.value = "0";
    slider.addEventListener("input", function () { fillGroups(); drawGroup(); });
    $("group-select").addEventListener("change", drawGroup);
    fillGroups();
    drawn.push(drawGroup());
  }

  // ---------------------------------------------------------------- the trace scrubber
  function shade(p) {           // probability 1 -> white, 0 -> strong orange
    var a = Math.max(0, Math.min(1, 1 - p));
    return "rgba(230, 85, 13, " + (0.85 * a).toFixed(3) + ")";
  }
  function trace() { return D.traces[+$("trace-select").value || 0]; }
  function drawTraceText() {
    var t = trace();
    $("trace-text").innerHTML = t.tokens.map(function (tok, i) {
      var cls = "tok" + (t.markers[String(i)] ? " mark" : "");
      return "<span class='" + cls + "' data-i='" + i + "' title='p=" + t.probs[i].toFixed(4) +
        "' style='background:" + shade(t.probs[i]) + "'>" + esc(tok) + "</span>";
    }).join("");
    var slider = $("token-slider");
    slider.max = String(t.tokens.length - 1);
    slider.value = "0";
    var xs = t.probs.map(function (_, i) { return i; });
    var data = JSON.parse(JSON.stringify(F.scrub.data));
    data[0].x = xs; data[0].y = t.probs;
    data[0].text = t.tokens;
    data[0].hovertemplate = "token %{x} %{text}: p=%{y:.3f}<extra></extra>";
    D.markers.forEach(function (name, k) {
      var idx = Object.keys(t.markers).filter(function (i) { return t.markers[i].indexOf(name) >= 0; }).map(Number);
      data[1 + k].x = idx;
      data[1 + k].y = idx.map(function (i) { return Math.min(1.04, t.probs[i] + 0.05); });
    });
    var last = data.length - 1;   // the running probability of the final answer
    data[last].x = xs; data[last].y = t.answer_probs || [];
    data[last].hovertemplate = "after token %{x}: p(answer " + esc(t.answer || "") + ")=%{y:.3f}<extra></extra>";
    var layout = JSON.parse(JSON.stringify(F.scrub.layout));
    layout.title = {text: "step " + t.step + " · " + esc(t.prompt.trim()) + " · reward " + fmt(t.reward) +
                          (t.correct ? " (correct)" : "")};
    return Plotly.react("fig-scrub", data, layout, CONFIG).then(moveToken);
  }
  function moveToken() {
    var t = trace();
    var i = +$("token-slider").value;
    var spans = $("trace-text").querySelectorAll("span.tok");
    for (var k = 0; k < spans.length; k++) {
      spans[k].classList.toggle("cur", k === i);
      spans[k].classList.toggle("after", k > i);
    }
    $("token-label").textContent = (i + 1) + " / " + t.tokens.length;
    $("token-current").textContent = JSON.stringify(t.tokens[i]);
    $("token-prob").textContent = t.probs[i].toFixed(4);
    var ap = (t.answer_probs || [])[i];
    $("answer-prob").textContent = t.answer === null ? "(no final answer)" :
      (ap === null || ap === undefined ? "(not scored at this token)" : ap.toFixed(4) + " for " + t.answer);
    $("token-marks").textContent = t.markers[String(i)] ? "marker: " + t.markers[String(i)].join(", ") : "";
    return Plotly.relayout("fig-scrub", {shapes: [{type: "line", xref: "x", yref: "paper", x0: i, x1: i,
                                                    y0: 0, y1: 1, line: {color: "#000", width: 1}}]});
  }
  if (D.traces.length && $("trace-select")) {
    $("trace-select").innerHTML = D.traces.map(function (t, i) {
      return "<option value='" + i + "'>" + (i + 1) + ": " + esc(t.prompt.trim()) + (t.correct ? " (correct)" : "") +
        ", " + t.tokens.length + " tokens</option>";
    }).join("");
    $("trace-select").addEventListener("change", drawTraceText);
    $("token-slider").addEventListener("input", moveToken);
    drawn.push(drawTraceText());
  }

  // ---------------------------------------------------------------- Pareto toggles
  if (F.pareto && $("model-toggles")) {
    var box = $("model-toggles");
    D.models.forEach(function (m) {
      var label = document.createElement("label");
      var cb = document.createElement("input");
      cb.type = "checkbox"; cb.checked = true; cb.value = m; cb.className = "model-toggle";
      cb.addEventListener("change", function () {
        var gd = $("fig-pareto");
        var idx = [];
        gd.data.forEach(function (tr, k) { if (tr.meta === m) idx.push(k); });
        Plotly.restyle(gd, {visible: cb.checked ? true : false}, idx);
      });
      label.appendChild(cb);
      label.appendChild(document.createTextNode(" " + m + " "));
      box.appendChild(label);
    });
  }

  Promise.all(drawn).then(function () { window.rlvrReport.ready = true; });
})();
