// The site page's flow chart (uPlot, vendored): counts per window on the site's own clock,
// the normal band, coverage shading and anomaly bands that open their detail on click.
// The data comes from the page's json_script (#flow-data): a file, not inline code, so the
// Content-Security-Policy can forbid inline scripts. The table under the chart holds every
// value for screen readers and keyboards.
(function () {
  "use strict";
  var box = document.getElementById("flow-chart");
  var source = document.getElementById("flow-data");
  if (!box || !source || typeof uPlot === "undefined") return;
  var d = JSON.parse(source.textContent);
  var n = d.start.length;
  if (!n) return;
  var SHADES = { no_data: "rgba(150,158,170,0.35)", partial: "rgba(47,111,219,0.13)" };
  var ANOMALY = "rgba(214,40,57,0.20)";

  // Stepped lines hold each window's value up to its end: repeat the last value at the end.
  function stepped(values) {
    return values === null ? null : values.concat([values[n - 1]]);
  }
  var xs = d.start.concat([d.end[n - 1]]);
  var data = [xs, stepped(d.high), stepped(d.median), stepped(d.low), stepped(d.count)];
  var step = uPlot.paths.stepped({ align: 1 });
  var whole = function (u, v) { return v === null || v === undefined ? "–" : Math.round(v); };
  var series = [
    {},
    { label: "Normal, 3rd quartile", stroke: "rgba(194,124,14,0.5)", width: 1, paths: step, value: whole },
    { label: "Normal (median)", stroke: "#a86a0a", width: 1.5, dash: [6, 4], paths: step, value: whole },
    { label: "Normal, 1st quartile", stroke: "rgba(194,124,14,0.5)", width: 1, paths: step, value: whole },
    { label: "Counted", stroke: "#2f6fdb", width: 2, paths: step,
      value: function (u, v) { return v === null || v === undefined ? "no data" : v; } },
  ];
  if (d.compared) {
    data.push(stepped(d.compared));
    series.push({ label: "Compared period", stroke: "#6b3fa0", width: 1.5, paths: step,
                  value: whole });
  }

  function x(u, t) { return u.valToPos(t, "x", true); }

  function shade(u) {
    var ctx = u.ctx, top = u.bbox.top, height = u.bbox.height;
    ctx.save();
    for (var i = 0; i < n; i++) {
      var fill = SHADES[d.status[i]];
      if (!fill) continue;
      ctx.fillStyle = fill;
      ctx.fillRect(x(u, d.start[i]), top, x(u, d.end[i]) - x(u, d.start[i]), height);
    }
    ctx.fillStyle = ANOMALY;
    d.anomalies.forEach(function (a) {
      var left = x(u, Math.max(a.start, xs[0])), right = x(u, Math.min(a.end, xs[n]));
      if (right > left) ctx.fillRect(left, top, right - left, height);
    });
    ctx.restore();
  }

  var tip = document.createElement("div");
  tip.className = "flow-tip";
  tip.hidden = true;
  var stamp = function (t) {
    return uPlot.fmtDate("{WWW} {D} {MMM} {HH}:{mm}")(uPlot.tzDate(new Date(t * 1e3), d.zone));
  };

  function windowAt(u) {
    var idx = u.cursor.idx;
    return idx === null || idx === undefined || idx >= n ? null : idx;
  }

  function tell(u) {
    var i = windowAt(u);
    if (i === null) { tip.hidden = true; return; }
    var lines = [stamp(d.start[i]) + " to " + stamp(d.end[i]).slice(-5)];
    if (d.count[i] === null) lines.push("no data (not zero traffic)");
    else lines.push(d.count[i] + " road users, " + Math.round(d.coverage[i] * 100) + "% analysed" +
                    (d.status[i] === "partial" ? " (partial)" : ""));
    if (d.median[i] !== null) lines.push("normal " + Math.round(d.median[i]) + " (" +
                                         Math.round(d.low[i]) + "–" + Math.round(d.high[i]) + ")");
    if (d.pending[i]) lines.push("late data being rolled up");
    d.anomalies.forEach(function (a) {
      if (a.start < d.end[i] && a.end > d.start[i]) lines.push("anomaly: " + a.kind + " (click)");
    });
    tip.textContent = lines.join(" · ");
    tip.hidden = false;
    var left = Math.min(u.cursor.left + 12, u.over.clientWidth - tip.offsetWidth);
    tip.style.left = Math.max(0, left) + "px";
    tip.style.top = Math.max(0, u.cursor.top - 40) + "px";
  }

  function size() {
    var narrow = box.clientWidth < 600;
    return { width: box.clientWidth, height: narrow ? 260 : 320 };
  }

  var options = Object.assign(size(), {
    tzDate: function (t) { return uPlot.tzDate(new Date(t * 1e3), d.zone); },
    series: series,
    bands: [{ series: [1, 3], fill: "rgba(243,201,139,0.35)" }],
    scales: { y: { range: function (u, min, max) { return [0, Math.max(1, max) * 1.1]; } } },
    axes: [{}, { label: d.unit, size: 56, labelSize: 20 }],
    cursor: { drag: { x: false, y: false } },
    hooks: { drawClear: [shade], setCursor: [tell] },
  });
  var chart = new uPlot(options, data, box);
  chart.over.appendChild(tip);
  chart.over.addEventListener("click", function () {
    var t = chart.posToVal(chart.cursor.left, "x");
    var hit = d.anomalies.filter(function (a) { return a.start <= t && t < a.end; })[0];
    if (hit) window.location.href = hit.url;
  });
  chart.over.addEventListener("mouseleave", function () { tip.hidden = true; });
  window.addEventListener("resize", function () { chart.setSize(size()); });
  window.junctionFlow = chart;  // for the browser tests
})();
