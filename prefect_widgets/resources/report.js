/* prefect-widgets standalone report: the timeline canvas and the search boxes.
   Reads each section's JSON blob (script.pw-report-data); writes text only through
   textContent, never as markup. Works from file:// with no network. */
(function () {
  "use strict";
  var STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 15e3, 3e4, 6e4, 12e4,
               3e5, 6e5, 9e5, 18e5, 36e5, 72e5, 144e5, 216e5, 432e5, 864e5];
  var GUTTER = 160, AXIS = 22, TOP = 4;

  function cssVar(el, name, fallback) {
    var value = getComputedStyle(el).getPropertyValue(name).trim();
    return value || fallback;
  }

  function clock(ms, step) {  // UTC time of day, with the fractions a tick step needs
    return new Date(ms).toISOString().slice(11, step < 100 ? 23 : step < 1000 ? 21 : 19);
  }

  function duration(ms) {
    var s = ms / 1000;
    if (s < 60) return (s < 10 ? s.toFixed(2) : s.toFixed(1)) + " s";
    var m = Math.floor(s / 60);
    if (m < 60) return m + "m " + String(Math.round(s - 60 * m)).padStart(2, "0") + "s";
    return Math.floor(m / 60) + "h " + String(m % 60).padStart(2, "0") + "m";
  }

  function fit(ctx, text, width) {
    if (ctx.measureText(text).width <= width) return text;
    var lo = 0, hi = text.length;
    while (lo < hi) {
      var mid = (lo + hi + 1) >> 1;
      if (ctx.measureText(text.slice(0, mid) + "…").width <= width) lo = mid; else hi = mid - 1;
    }
    return text.slice(0, lo) + "…";
  }

  function Timeline(section, data) {
    var box = section.querySelector(".pw-timeline");
    var canvas = box.querySelector("canvas");
    var tip = box.querySelector(".pw-tip");
    var ctx = canvas.getContext("2d");
    var bars = data.bars, n = bars.length / 7;
    var critical = {};
    data.critical.forEach(function (i) { critical[i] = true; });
    var attempts = {}, last = {}, unfinished = {};
    for (var b = 0; b < n; b++) {
      attempts[bars[7 * b]] = (attempts[bars[7 * b]] || 0) + 1;
      last[bars[7 * b]] = b;
    }
    // a task run that never reached a final state: its last bar ends at the run's end
    (data.unfinished || []).forEach(function (i) { if (i in last) unfinished[last[i]] = true; });
    var byLane = [];
    for (b = 0; b < n; b++) (byLane[bars[7 * b + 1]] = byLane[bars[7 * b + 1]] || []).push(b);
    var geo = {};

    function layout() {
      geo.width = Math.max(360, box.clientWidth);
      geo.row = Math.max(3, Math.min(18, Math.floor(600 / Math.max(1, data.lanes))));
      geo.height = TOP + data.lanes * geo.row + AXIS;
      geo.plot = geo.width - GUTTER - 12;
    }
    function x(ms) { return GUTTER + (ms / data.span) * geo.plot; }

    function draw() {
      layout();
      var ratio = window.devicePixelRatio || 1;
      canvas.width = Math.round(geo.width * ratio);
      canvas.height = Math.round(geo.height * ratio);
      canvas.style.height = geo.height + "px";
      ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
      ctx.clearRect(0, 0, geo.width, geo.height);
      var fg2 = cssVar(box, "--pw-fg2", "#666"), border = cssVar(box, "--pw-border", "#ddd");
      ctx.font = "11px " + cssVar(box, "--pw-font", "sans-serif");
      ctx.textBaseline = "middle";
      var bottom = TOP + data.lanes * geo.row;
      data.groups.forEach(function (g) {
        var y = TOP + g[1] * geo.row;
        ctx.fillStyle = border;
        ctx.fillRect(0, y, geo.width, 1);
        ctx.fillStyle = fg2;
        ctx.fillText(fit(ctx, g[0], GUTTER - 10), 4, y + Math.min(g[2] * geo.row, 18) / 2);
      });
      var step = STEPS.filter(function (s) { return s / data.span * geo.plot >= 90; })[0]
        || STEPS[STEPS.length - 1];
      ctx.textAlign = "center";
      for (var t = Math.ceil(data.t0 / step) * step - data.t0; t <= data.span; t += step) {
        ctx.fillStyle = border;
        ctx.fillRect(x(t), bottom, 1, 4);
        ctx.fillStyle = fg2;
        ctx.fillText(clock(data.t0 + t, step), x(t), bottom + AXIS / 2);
      }
      ctx.textAlign = "start";
      var colours = data.keys.map(function (k) {
        return cssVar(box, "--pw-key-" + k.toLowerCase(), "#6b7280");
      });
      var pad = geo.row > 6 ? 2 : (geo.row > 3 ? 1 : 0), drawn = {}, count = 0;
      for (var i = 0; i < n; i++) {
        var o = 7 * i, x0 = x(bars[o + 2]), w = x(bars[o + 3]) - x0;
        w = w > 4 ? w - 1 : Math.max(2, w);  // a hairline between bars that touch
        ctx.fillStyle = colours[bars[o + 4]];
        ctx.fillRect(x0, TOP + bars[o + 1] * geo.row + pad, w, geo.row - 2 * pad);
        if (!drawn[bars[o]]) { drawn[bars[o]] = true; count++; }
      }
      var open = 0;
      ctx.save();
      ctx.strokeStyle = cssVar(box, "--pw-key-unfinished", "#111827");
      ctx.lineWidth = 1;
      for (i = 0; i < n; i++) {
        if (!unfinished[i]) continue;
        o = 7 * i;
        var y0 = TOP + bars[o + 1] * geo.row + pad, h = geo.row - 2 * pad;
        x0 = x(bars[o + 2]);
        w = Math.max(2, x(bars[o + 3]) - x0);
        ctx.save();
        ctx.beginPath();
        ctx.rect(x0, y0, w, h);
        ctx.clip();
        ctx.beginPath();
        for (var d = 0; d < w + h; d += 5) {  // "\" hatching: Crashed-free, colour-free mark
          ctx.moveTo(x0 + d - h, y0);
          ctx.lineTo(x0 + d, y0 + h);
        }
        ctx.stroke();
        ctx.restore();
        ctx.setLineDash([3, 2]);
        ctx.strokeRect(x0 + 0.5, y0 + 0.5, Math.max(1, w - 1), Math.max(1, h - 1));
        ctx.setLineDash([]);
        open++;
      }
      ctx.restore();
      canvas.dataset.unfinished = String(open);
      ctx.strokeStyle = cssVar(box, "--pw-key-critical", "#db2777");
      ctx.lineWidth = 1.5;
      for (i = 0; i < n; i++) {
        o = 7 * i;
        if (!critical[bars[o]]) continue;
        x0 = x(bars[o + 2]);
        ctx.strokeRect(x0, TOP + bars[o + 1] * geo.row + pad, Math.max(2, x(bars[o + 3]) - x0),
                       geo.row - 2 * pad);
      }
      canvas.dataset.bars = String(count);
      canvas.dataset.segments = String(n);
    }

    function hit(event) {
      var rect = canvas.getBoundingClientRect();
      var px = event.clientX - rect.left, py = event.clientY - rect.top;
      var lane = Math.floor((py - TOP) / geo.row);
      var best = -1, gap = 4;
      (byLane[lane] || []).forEach(function (b) {
        var x0 = x(bars[7 * b + 2]), x1 = Math.max(x0 + 2, x(bars[7 * b + 3]));
        var d = px < x0 ? x0 - px : (px > x1 ? px - x1 : 0);
        if (d <= gap) { gap = d; best = b; }
      });
      return {bar: best, x: px, y: py};
    }

    canvas.addEventListener("mousemove", function (event) {
      var found = hit(event);
      if (found.bar < 0) { tip.hidden = true; canvas.style.cursor = ""; return; }
      var o = 7 * found.bar, task = bars[o];
      var lines = [data.names[task],
                   data.labels[bars[o + 5]] + (attempts[task] > 1 ? " · attempt " + bars[o + 6]
                                               + " of " + attempts[task] : ""),
                   "start " + clock(data.t0 + bars[o + 2], 1) + " UTC · "
                   + duration(bars[o + 3] - bars[o + 2])];
      if (unfinished[found.bar]) {
        lines[2] = "start " + clock(data.t0 + bars[o + 2], 1) + " UTC · never finished";
        lines.push("no final state: drawn to the flow run's end (events may have been dropped)");
      }
      if (critical[task]) lines.push("on the critical path");
      tip.textContent = lines.join("\n");
      tip.hidden = false;
      tip.style.left = Math.min(found.x + 12, geo.width - tip.offsetWidth - 4) + "px";
      tip.style.top = (found.y + 14) + "px";
      canvas.style.cursor = "pointer";
    });
    canvas.addEventListener("mouseleave", function () { tip.hidden = true; });
    canvas.addEventListener("click", function (event) {
      var found = hit(event);
      if (found.bar >= 0) showTask(section, bars[7 * found.bar]);
    });
    draw();
    return draw;
  }

  function showTask(section, index) {
    var row = document.getElementById(section.id + "-t" + index);
    if (!row) return;
    var all = section.querySelector("details.pw-all");
    if (all) all.open = true;
    if (row.hidden) {
      section.querySelector(".pw-task-search").value = "";
      section.querySelector(".pw-state").value = "";
      section.filterTasks();
    }
    Array.prototype.forEach.call(section.querySelectorAll("tr.pw-hit"), function (r) {
      r.classList.remove("pw-hit");
    });
    row.classList.add("pw-hit");
    row.scrollIntoView({block: "center"});
  }

  function TaskFilter(section) {
    var search = section.querySelector(".pw-task-search");
    if (!search) return;
    var state = section.querySelector(".pw-state");
    var shown = section.querySelector(".pw-task-shown");
    var rows = Array.prototype.slice.call(section.querySelectorAll(".pw-all-tasks tbody tr"));
    var text = rows.map(function (r) {
      return (r.cells[1].textContent + " " + r.cells[2].textContent).toLowerCase();
    });
    section.filterTasks = function () {
      var q = search.value.trim().toLowerCase(), s = state.value, count = 0;
      rows.forEach(function (r, i) {
        var on = (!q || text[i].indexOf(q) >= 0) && (!s || r.getAttribute("data-s") === s);
        r.hidden = !on;
        if (on) count++;
      });
      shown.textContent = count + " of " + rows.length + " task runs";
    };
    search.addEventListener("input", section.filterTasks);
    state.addEventListener("change", section.filterTasks);
    search.parentNode.hidden = false;
    section.filterTasks();
  }

  function LogFilter(section, names) {
    var search = section.querySelector(".pw-log-search");
    if (!search) return;
    var level = section.querySelector(".pw-level");
    var shown = section.querySelector(".pw-log-shown");
    var only = section.querySelector(".pw-log-only");
    var lines = Array.prototype.slice.call(section.querySelectorAll(".pw-log-line"));
    var text = lines.map(function (l) { return l.textContent.toLowerCase(); });
    var task = null;
    function filter() {
      var q = search.value.trim().toLowerCase(), min = Number(level.value), count = 0;
      lines.forEach(function (l, i) {
        var on = (!q || text[i].indexOf(q) >= 0) && Number(l.getAttribute("data-l")) >= min
          && (task === null || l.getAttribute("data-t") === task);
        l.hidden = !on;
        if (on) count++;
      });
      shown.textContent = count + " of " + lines.length + " lines";
      only.hidden = task === null;
      only.textContent = task === null ? "" : "only the lines of " + names[Number(task)] + " ";
      if (task !== null) {
        var clear = document.createElement("button");
        clear.type = "button";
        clear.textContent = "show all";
        clear.addEventListener("click", function () { task = null; filter(); });
        only.appendChild(clear);
      }
    }
    search.addEventListener("input", filter);
    level.addEventListener("change", filter);
    Array.prototype.forEach.call(section.querySelectorAll(".pw-log-link"), function (a) {
      a.addEventListener("click", function () { task = a.getAttribute("data-task"); filter(); });
    });
    search.parentNode.hidden = false;
    filter();
  }

  var redraws = [];
  Array.prototype.forEach.call(document.querySelectorAll("[data-pw-report]"), function (section) {
    var blob = section.querySelector("script.pw-report-data");
    var data = blob ? JSON.parse(blob.textContent) : null;
    TaskFilter(section);
    LogFilter(section, data ? data.names : []);
    if (data && section.querySelector(".pw-timeline canvas")) {
      redraws.push(Timeline(section, data));
    }
  });
  function redraw() { redraws.forEach(function (draw) { draw(); }); }
  window.addEventListener("resize", redraw);
  if (window.matchMedia) {
    var dark = window.matchMedia("(prefers-color-scheme: dark)");
    if (dark.addEventListener) dark.addEventListener("change", redraw);
  }
})();
