"use strict";
// The dashboard's page: it follows the view over server-sent events (or
// polls it) and draws it. Everything it needs is in this page.
(function () {
  const token = new URLSearchParams(location.search).get("token");
  const q = token ? "?token=" + encodeURIComponent(token) : "";
  const SVG = "http://www.w3.org/2000/svg";
  const $ = (id) => document.getElementById(id);
  let final = false;

  function el(name, attrs, text) {
    const e = document.createElementNS(SVG, name);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function td(text, cls) {
    const c = document.createElement("td");
    c.textContent = text;
    if (cls) c.className = cls;
    return c;
  }
  function secs(s) {
    if (!s && s !== 0) return "";
    if (s < 1) return Math.round(s * 1000) + "ms";
    if (s < 60) return s.toFixed(s < 10 ? 1 : 0) + "s";
    if (s < 3600) return Math.floor(s / 60) + "m" + String(Math.round(s % 60)).padStart(2, "0") + "s";
    return Math.floor(s / 3600) + "h" + String(Math.floor((s % 3600) / 60)).padStart(2, "0") + "m";
  }
  function clock(ms) { return ms ? new Date(ms).toLocaleTimeString() : ""; }
  function setLive(state, text) { const l = $("live"); l.dataset.live = state; l.textContent = text; }

  function render(v) {
    const run = v.run;
    $("run-name").textContent = run.name || "run";
    $("run-id").textContent = run.id ? run.id.slice(0, 12) : "";
    const ph = $("phase");
    ph.textContent = run.phase + (run.err ? ": failed" : "");
    ph.dataset.phase = run.phase;
    ph.classList.toggle("failed", !!run.err);
    document.title = "ebb " + (run.name || "run") + " · " + run.phase;

    const p = v.progress, states = v.states || {};
    const counts = { done: p.done, cached: p.cached, running: p.running, ready: p.ready, waiting: p.waiting,
      failed: states.failed || 0, retried: p.retried, lost: p.lost };
    for (const k in counts) $("count-" + k).textContent = counts[k];
    const bar = $("progress-bar");
    bar.replaceChildren();
    const total = Math.max(1, p.tasks);
    for (const k of ["done", "cached", "running", "ready", "waiting", "failed"]) {
      const n = states[k] || 0;
      if (!n) continue;
      const d = document.createElement("div");
      d.className = "s-" + k;
      d.style.width = (100 * n / total) + "%";
      d.title = n + " " + k;
      bar.appendChild(d);
    }
    let note = p.tasks + " tasks";
    if (run.created) note += " · started " + clock(run.created);
    const end = run.completion || v.now;
    if (run.created) note += " · " + (run.completion ? "took " : "running for ") + secs((end - run.created) / 1000);
    note += " · allocs taken: " + run.allocs;
    if (run.held) note += " · held " + run.held + " (resource-minutes)";
    if (run.err) note += " · error: " + run.err;
    $("run-note").textContent = note;

    timeline(v);
    capacity(v);
    kinds(v.kinds || []);
    workers(v);
    decisions(v.decisions || []);
    $("footer").textContent = v.events + " events" + (v.dropped ? ", " + v.dropped + " lost (the dashboard fell behind)" : "") +
      " · " + v.viewers + " viewer" + (v.viewers === 1 ? "" : "s") + " · updated " + clock(v.now);
  }

  function span(v) {
    let t0 = Infinity, t1 = v.now;
    for (const a of v.allocs || []) { t0 = Math.min(t0, a.start || Infinity); if (a.end) t1 = Math.max(t1, a.end); }
    const pts = (v.capacity && v.capacity.points) || [];
    if (pts.length) t0 = Math.min(t0, pts[0][0]);
    if (v.run.created) t0 = Math.min(t0, v.run.created);
    if (v.run.completion) t1 = v.run.completion;
    if (!isFinite(t0)) t0 = v.now - 1000;
    return [t0, Math.max(t1, t0 + 1000)];
  }

  function axis(svg, x, t0, t1, y, left, right) {
    const n = 5;
    for (let i = 0; i <= n; i++) {
      const t = t0 + (t1 - t0) * i / n, px = x(t);
      svg.appendChild(el("line", { x1: px, x2: px, y1: 4, y2: y, class: "grid" }));
      svg.appendChild(el("text", { x: px, y: y + 13, "text-anchor": i === 0 ? "start" : i === n ? "end" : "middle" }, secs((t - t0) / 1000)));
    }
  }

  function timeline(v) {
    const svg = $("timeline"), allocs = v.allocs || [];
    const W = Math.max(svg.clientWidth || 0, 600), row = 22, top = 6, label = 330;
    const H = top + Math.max(1, allocs.length) * row + 20;
    svg.setAttribute("height", H);
    svg.setAttribute("viewBox", "0 0 " + W + " " + H);
    svg.replaceChildren();
    const [t0, t1] = span(v);
    const x = (t) => label + (W - label - 8) * (t - t0) / (t1 - t0);
    axis(svg, x, t0, t1, H - 18);
    allocs.forEach((a, i) => {
      const y = top + i * row;
      const g = el("g", { class: "alloc", "data-id": a.id, "data-role": a.role, "data-ended": a.ended || "" });
      const what = [a.role, a.engine, a.shape, a.resources].filter(Boolean).join(" · ");
      g.appendChild(el("text", { x: 4, y: y + 14, class: "label" }, a.id.length > 26 ? "…" + a.id.slice(-25) : a.id));
      g.appendChild(el("text", { x: 200, y: y + 14 }, [a.engine, a.shape].filter(Boolean).join(" · ")));
      const x0 = x(a.start || t0), x1 = x(a.end || v.now);
      const bar = el("rect", { x: x0, y: y + 3, width: Math.max(2, x1 - x0), height: row - 8, rx: 3,
        fill: a.role === "primary" ? "var(--primary)" : "var(--aux)", "fill-opacity": a.end ? 0.45 : 0.9 });
      bar.appendChild(el("title", {}, what + "\n" + a.tasks + " tasks run" + (a.running ? ", " + a.running + " running" : "") +
        "\nfrom " + clock(a.start) + (a.end ? " to " + clock(a.end) + " (" + a.ended + ")" : ", held")));
      g.appendChild(bar);
      if (x1 - x0 > 70) g.appendChild(el("text", { x: x0 + 6, y: y + 14, fill: "#fff", style: "fill:#fff" }, a.tasks + " tasks" + (a.end ? " · " + a.ended : "")));
      svg.appendChild(g);
    });
    if (!allocs.length) svg.appendChild(el("text", { x: 4, y: 20 }, "no alloc yet"));
  }

  function capacity(v) {
    const svg = $("capacity"), pts = (v.capacity && v.capacity.points) || [];
    const W = Math.max(svg.clientWidth || 0, 600), H = 220, left = 40, bottom = H - 20;
    svg.setAttribute("viewBox", "0 0 " + W + " " + H);
    svg.dataset.points = pts.length;
    svg.replaceChildren();
    $("capacity-unit").textContent = (v.capacity ? v.capacity.resource : "cpu") + " held against demand";
    const [t0, t1] = span(v);
    let top = 1;
    for (const p of pts) top = Math.max(top, p[1], p[2], p[3]);
    top = Math.ceil(top * 1.1);
    const x = (t) => left + (W - left - 8) * (t - t0) / (t1 - t0);
    const y = (c) => bottom - (bottom - 8) * c / top;
    axis(svg, x, t0, t1, bottom);
    for (const c of [0, top / 2, top]) {
      svg.appendChild(el("line", { x1: left, x2: W - 8, y1: y(c), y2: y(c), class: "grid" }));
      svg.appendChild(el("text", { x: left - 4, y: y(c) + 4, "text-anchor": "end" }, +c.toFixed(1)));
    }
    const series = [[1, "held", "var(--held)", ""], [2, "demand", "var(--demand)", ""], [3, "running", "var(--running)", "4 3"]];
    for (const [i, name, color, dash] of series) {
      let d = "";
      pts.forEach((p, j) => {
        d += j === 0 ? x(p[0]) + "," + y(p[i]) : " " + x(p[0]) + "," + y(pts[j - 1][i]) + " " + x(p[0]) + "," + y(p[i]);
      });
      svg.appendChild(el("polyline", { id: "line-" + name, points: d, fill: "none", stroke: color, "stroke-width": 2, "stroke-dasharray": dash }));
    }
  }

  function kinds(ks) {
    const body = $("kinds").tBodies[0];
    body.replaceChildren();
    for (const k of ks) {
      const tr = document.createElement("tr");
      const s = k.states || {};
      tr.append(td(k.kind), td(k.tasks, "num"), td(s.waiting || 0, "num"), td(s.ready || 0, "num"), td(s.running || 0, "num"),
        td((s.done || 0) + (s.cached ? " +" + s.cached + " cached" : ""), "num"), td(s.failed || 0, "num"),
        td(k.estimate ? (k.at_least ? "≥ " : "") + secs(k.estimate) : "unknown", "num"),
        td(k.finished ? secs(k.mean) + " (" + secs(k.min) + "–" + secs(k.max) + ")" : "", "num"));
      body.appendChild(tr);
    }
  }

  function workers(v) {
    const ws = v.workers || [], body = $("workers").tBodies[0];
    body.replaceChildren();
    for (const w of ws) {
      const tr = document.createElement("tr");
      tr.dataset.state = w.state;
      tr.append(td(w.id, "mono"), td(w.engine), td(w.shape), td(w.state + (w.adopted ? " (adopted)" : "")), td(w.allocs, "num"), td(clock(w.last_busy)));
      body.appendChild(tr);
    }
    $("no-workers").hidden = ws.length > 0;
    const pend = v.pending || {};
    const parts = [];
    if ((pend.launching || []).length) parts.push(pend.launching.length + " launching (" + pend.launching.join(", ") + ")");
    if (pend.waiting) parts.push(pend.waiting + " requests waiting");
    $("pending").textContent = parts.join(" · ");
  }

  function decisions(ds) {
    const list = $("decisions");
    list.replaceChildren();
    for (const d of ds) {
      const li = document.createElement("li");
      li.className = "decision";
      li.dataset.kind = d.kind;
      const t = document.createElement("span"); t.className = "mono"; t.textContent = clock(d.time);
      const k = document.createElement("span"); k.className = "kind " + d.kind; k.textContent = d.kind;
      const r = document.createElement("span"); r.className = "reason"; r.textContent = d.reason;
      if (d.err) { const e = document.createElement("span"); e.className = "err"; e.textContent = " — " + d.err; r.appendChild(e); }
      li.append(t, k, r);
      list.appendChild(li);
    }
    if (!ds.length) {
      const li = document.createElement("li"); li.className = "note"; li.textContent = "No decision yet (a run without auxiliary allocs makes none).";
      list.appendChild(li);
    }
  }

  function show(data) {
    const v = JSON.parse(data);
    render(v);
    if (v.final) { final = true; setLive("final", "final: the run is over"); }
  }

  function poll() {
    fetch("view" + q, { cache: "no-store" }).then((r) => r.ok ? r.text() : Promise.reject(r.status)).then((t) => {
      show(t);
      if (!final) setLive("live", "live (polling)");
    }).catch(() => setLive("lost", "no answer")).finally(() => { if (!final) setTimeout(poll, 1000); });
  }

  if (!window.EventSource) { poll(); return; }
  const es = new EventSource("events" + q);
  es.onmessage = (e) => { show(e.data); if (!final) setLive("live", "live"); };
  es.addEventListener("end", () => { es.close(); final = true; setLive("final", "final: the run is over"); });
  es.onerror = () => { if (final) { es.close(); return; } setLive("lost", "reconnecting"); };
})();
