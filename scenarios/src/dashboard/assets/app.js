// cdnlab dashboard: one EventSource (`init`, then a `tick` a second), plain
// DOM and SVG. Nothing here polls; controls POST to /api/… with the admin
// token from sessionStorage in an Authorization header.
'use strict';

const TOKEN_KEY = 'cdnlab-admin-token';
const SVG = 'http://www.w3.org/2000/svg';
const CHART_POINTS = 300;
const PALETTE = ['#2f6fdb', '#d3343a', '#2e9d5b', '#d99a1e', '#8e44ad', '#16a2b8', '#e8590c', '#5c7cfa', '#a61e4d', '#2b8a3e'];

const S = {
  topo: null, mode: 'up', tokenRequired: true, run: null,
  history: [], journal: new Map(), pos: {}, rows: {}, colors: {},
};
window.__dash = { ticks: 0, renderMs: [], initAt: 0 };

const $ = (sel) => document.querySelector(sel);
function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}
function sv(tag, attrs, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}
function set(node, text) { if (node && node.textContent !== text) node.textContent = text; }

// ---------- formatting ----------
const int = (n) => Math.round(n || 0).toLocaleString('en-US');
const pct = (r) => (r === null || r === undefined) ? '–' : (r * 100).toFixed(1) + '%';
const rate = (n) => n >= 1000 ? (n / 1000).toFixed(1) + 'k' : n >= 10 ? n.toFixed(0) : n.toFixed(1);
function bytes(n) {
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n.toFixed(0) : n.toFixed(1)) + ' ' + u[i];
}
const usd = (x) => '$' + (x || 0).toFixed(x >= 1 ? 2 : 6);
const ms = (x) => x >= 100 ? x.toFixed(0) : x.toFixed(1);
const clock = (t) => new Date(t).toISOString().substring(11, 19);

// ---------- connection ----------
function connect() {
  const es = new EventSource('/api/stream');
  es.addEventListener('init', (e) => onInit(JSON.parse(e.data)));
  es.addEventListener('tick', (e) => onTick(JSON.parse(e.data)));
  es.onopen = () => setConn('live', 'live');
  es.onerror = () => setConn('lost', 'reconnecting…');
}
function setConn(state, text) { const c = $('#conn'); c.dataset.state = state; set(c, text); }

function onInit(m) {
  S.topo = m.topology; S.mode = m.mode; S.tokenRequired = m.token_required; S.run = m.run;
  S.history = m.history.slice(-CHART_POINTS);
  S.journal = new Map(m.journal.map((e) => [e.seq, e]));
  set($('#world-name'), S.topo.world);
  set($('#mode'), m.mode === 'run' ? 'cdn run' : 'cdn up');
  document.title = 'cdnlab · ' + S.topo.world;
  S.topo.nodes.forEach((n, i) => { S.colors[n.id] = PALETTE[i % PALETTE.length]; });
  buildMap(); buildNodes(); buildControls(); buildRun();
  render(m.now);
  renderJournal(); renderCharts();
  window.__dash.initAt = performance.now();
}

function onTick(m) {
  const t0 = performance.now();
  if (m.point) { S.history.push(m.point); if (S.history.length > CHART_POINTS) S.history.shift(); }
  for (const e of m.journal) S.journal.set(e.seq, e);
  render(m);
  if (m.journal.length) renderJournal();
  renderCharts();
  window.__dash.ticks++;
  window.__dash.renderMs.push(performance.now() - t0);
  if (window.__dash.renderMs.length > 100) window.__dash.renderMs.shift();
}

// ---------- map ----------
const project = (lat, lon) => [(lon + 180) / 360 * 1000, (90 - lat) / 180 * 500];

function buildMap() {
  const svg = $('#map');
  svg.replaceChildren();
  const defs = sv('defs');
  const mk = sv('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 6, markerHeight: 6, orient: 'auto-start-reverse' });
  mk.appendChild(sv('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#d3343a' }));
  defs.appendChild(mk); svg.appendChild(defs);
  const g = sv('g', { class: 'grat' });
  for (let lon = -180; lon <= 180; lon += 30) { const [x] = project(0, lon); g.appendChild(sv('line', { x1: x, y1: 0, x2: x, y2: 500 })); }
  for (let lat = -60; lat <= 60; lat += 30) { const [, y] = project(lat, 0); g.appendChild(sv('line', { x1: 0, y1: y, x2: 1000, y2: y })); }
  svg.appendChild(g);
  const regions = sv('g', { id: 'regions' });
  const centers = {};
  for (const r of S.topo.regions) {
    const [x, y] = project(r.lat, r.lon);
    centers[r.name] = [x, y];
    const rg = sv('g', { class: 'region', 'data-region': r.name });
    rg.appendChild(sv('circle', { cx: x, cy: y, r: 16 }));
    rg.appendChild(sv('text', { x: x, y: y + 27, 'text-anchor': 'middle' }, r.city));
    regions.appendChild(rg);
  }
  // Zoom to the regions (the whole world when they are spread out).
  const xs = Object.values(centers).map((c) => c[0]), ys = Object.values(centers).map((c) => c[1]);
  let x0 = Math.min(...xs) - 70, x1 = Math.max(...xs) + 70, y0 = Math.min(...ys) - 50, y1 = Math.max(...ys) + 50;
  if (x1 - x0 < 420) { const c = (x0 + x1) / 2; x0 = c - 210; x1 = c + 210; }
  const h = Math.max(y1 - y0, (x1 - x0) / 2.6);
  const cy = (y0 + y1) / 2;
  svg.setAttribute('viewBox', `${x0.toFixed(0)} ${(cy - h / 2).toFixed(0)} ${(x1 - x0).toFixed(0)} ${h.toFixed(0)}`);
  S.corner = [x0 + 30, cy - h / 2 + 20];
  svg.appendChild(regions);
  // Nodes of a region on a ring around its centre; GeoDNS in a corner.
  const byRegion = {};
  for (const n of S.topo.nodes) if (n.region) (byRegion[n.region] = byRegion[n.region] || []).push(n);
  S.pos = {};
  for (const [name, nodes] of Object.entries(byRegion)) {
    const [cx, cy] = centers[name] || [500, 250];
    nodes.forEach((n, i) => {
      const k = nodes.length;
      const a = -Math.PI / 2 + 2 * Math.PI * i / k;
      const rr = k === 1 ? 0 : Math.min(14, 5 + 3 * k);
      S.pos[n.id] = [cx + rr * Math.cos(a), cy + rr * Math.sin(a)];
    });
  }
  S.pos.geodns = S.corner;
  S.centers = centers;
  svg.appendChild(sv('g', { id: 'links' }));
  svg.appendChild(sv('g', { id: 'moves' }));
  const linkG = svg.querySelector('#links');
  for (const l of S.topo.links) {
    const [x1, y1] = S.pos[l.from] || [0, 0];
    const [x2, y2] = S.pos[l.to] || [0, 0];
    const path = sv('path', { class: 'link', 'data-link': l.id, d: curve(x1, y1, x2, y2), 'stroke-width': 1 });
    path.appendChild(sv('title', {}, l.from + ' → ' + l.to + ' (' + l.kind + ')'));
    linkG.appendChild(path);
    // The label sits near the node that fetches, so labels of links to one upstream do not pile up.
    linkG.appendChild(sv('text', { class: 'link-label', 'data-link-label': l.id, x: x1 + (x2 - x1) * 0.12, y: y1 + (y2 - y1) * 0.12 - 12, 'text-anchor': 'middle' }, ''));
  }
  const nodeG = sv('g', { id: 'nodes-g' });
  for (const n of S.topo.nodes) {
    const [x, y] = S.pos[n.id];
    const ng = sv('g', { class: 'node', 'data-node': n.id, 'data-role': n.role, 'data-health': 'unknown', transform: `translate(${x},${y})` });
    ng.appendChild(shape(n.role));
    const title = sv('title', {}, '');
    ng.appendChild(title);
    if (n.role !== 'edge' || S.topo.nodes.length <= 20) {
      ng.appendChild(sv('text', { x: 9, y: 3 }, n.role === 'edge' ? n.name : (n.external ? 'origin (yours)' : n.role)));
    }
    nodeG.appendChild(ng);
  }
  svg.appendChild(nodeG);
}

function curve(x1, y1, x2, y2) {
  const mx = (x1 + x2) / 2, my = (y1 + y2) / 2 - Math.min(80, Math.abs(x2 - x1) / 5);
  return `M${x1},${y1} Q${mx},${my} ${x2},${y2}`;
}

function shape(role) {
  switch (role) {
    case 'origin': return sv('rect', { class: 'shape', x: -7, y: -7, width: 14, height: 14 });
    case 'replica': return sv('rect', { class: 'shape', x: -6, y: -6, width: 12, height: 12, 'stroke-dasharray': '2 1' });
    case 'shield': return sv('path', { class: 'shape', d: 'M0,-8 L8,0 L0,8 L-8,0 z' });
    case 'geodns': return sv('rect', { class: 'shape', x: -12, y: -8, width: 24, height: 16, rx: 4 });
    default: return sv('circle', { class: 'shape', r: 6 });
  }
}

function renderMap(m) {
  const svg = $('#map');
  for (const n of S.topo.nodes) {
    const now = m.nodes[n.id] || {};
    const g = svg.querySelector(`[data-node="${CSS.escape(n.id)}"]`);
    if (!g) continue;
    const h = now.health || 'unknown';
    if (g.dataset.health !== h) g.dataset.health = h;
    let tip = `${n.name} (${n.role}${n.region ? ', ' + n.region : ''}${n.external ? ', ' + n.external + ': not cdnlab\'s, judged by its answers to the edges' : ''}): ${h}`;
    if (now.why) tip += ' — ' + now.why;
    if (n.role === 'edge') tip += `\n${rate(now.rps || 0)} req/s, hit ${pct(now.hit_ratio)}`;
    set(g.querySelector('title'), tip);
  }
  for (const l of S.topo.links) {
    const p = svg.querySelector(`[data-link="${CSS.escape(l.id)}"]`);
    const bps = (m.nodes[l.from] || {}).origin_fetches_ps || 0;
    const w = 1 + Math.min(6, Math.log10(1 + bps));
    p.setAttribute('stroke-width', w.toFixed(2));
    const label = svg.querySelector(`[data-link-label="${CSS.escape(l.id)}"]`);
    set(label, bps > 0 && S.topo.links.length <= 20 ? rate(bps) + ' fills/s' : '');
  }
  // Clients moved by GeoDNS: an arrow from their region to the node that answers them.
  const moves = svg.querySelector('#moves');
  moves.replaceChildren();
  for (const r of (m.geodns.routes || [])) {
    if (!r.failover) continue;
    const from = S.centers[r.region]; const to = S.pos[r.to];
    if (!from || !to) continue;
    const p = sv('path', { class: 'move', 'data-move': r.region, d: curve(from[0], from[1] + 22, to[0], to[1] + 8) });
    p.appendChild(sv('title', {}, `${r.region} clients → ${r.to}`));
    moves.appendChild(p);
  }
}

// ---------- nodes table ----------
const FIELDS = ['health', 'rps', 'requests', 'hit', 'byte_hit', 'out_ps', 'bytes_out', 'origin_fetches', 'memory', 'disk', 'usd'];
function buildNodes() {
  const tb = $('#nodes tbody');
  tb.replaceChildren();
  S.rows = {};
  for (const n of S.topo.nodes) {
    const tr = el('tr', { 'data-node': n.id });
    tr.appendChild(el('td', { 'data-field': 'name' }, n.name));
    tr.appendChild(el('td', {}, n.role));
    tr.appendChild(el('td', {}, n.pop || '–'));
    const cells = {};
    for (const f of FIELDS) {
      const td = el('td', { 'data-field': f, class: f === 'health' ? 'health' : '' });
      if (f === 'health') td.appendChild(el('span', { 'data-health': 'unknown' }, 'unknown'));
      tr.appendChild(td);
      cells[f] = td;
    }
    S.rows[n.id] = { tr, cells };
    tb.appendChild(tr);
  }
}

function renderNodes(m) {
  for (const n of S.topo.nodes) {
    const row = S.rows[n.id]; const v = m.nodes[n.id] || {};
    const c = row.cells;
    const h = v.health || 'unknown';
    const span = c.health.firstChild;
    if (span.dataset.health !== h) span.dataset.health = h;
    set(span, h);
    span.title = v.why || '';
    row.tr.classList.toggle('stale', !!v.stale);
    if (n.role === 'geodns') continue;
    set(c.rps, rate(v.rps || 0));
    set(c.requests, int(v.requests));
    set(c.hit, n.role === 'edge' ? pct(v.hit_ratio) : '');
    set(c.byte_hit, n.role === 'edge' ? pct(v.byte_hit_ratio) : '');
    set(c.out_ps, bytes(v.bytes_out_ps || 0) + '/s');
    set(c.bytes_out, bytes(v.bytes_out || 0));
    set(c.origin_fetches, n.role === 'edge' ? `${int(v.origin_fetches)} (${rate(v.origin_fetches_ps || 0)}/s)` : '');
    set(c.memory, v.memory_capacity ? `${bytes(v.memory_bytes)} / ${bytes(v.memory_capacity)}` : '');
    set(c.disk, v.disk_capacity ? `${bytes(v.disk_written)} of ${bytes(v.disk_capacity)}` : '');
    set(c.usd, usd(v.usd));
  }
}

// ---------- GeoDNS, latency, totals, run ----------
function nameOf(id) { const n = S.topo.nodes.find((x) => x.id === id); return n ? n.name : id; }

function renderGeo(m) {
  const g = m.geodns;
  const rt = $('#routes tbody');
  rt.replaceChildren();
  for (const r of g.routes || []) {
    const tr = el('tr', { 'data-region': r.region });
    tr.appendChild(el('td', {}, r.region));
    const to = el('td', { 'data-field': 'to', class: r.failover ? 'failover' : '' }, nameOf(r.to) + (r.failover ? ' (moved)' : ''));
    tr.appendChild(to);
    const by = Object.entries(r.served_by_ps || {}).filter(([, v]) => v > 0).map(([k, v]) => `${nameOf(k)} ${rate(v)}`).join(', ');
    tr.appendChild(el('td', {}, by || '–'));
    rt.appendChild(tr);
  }
  if (!(g.routes || []).length) rt.appendChild(el('tr', {}, '')).appendChild(el('td', { colspan: 3 }, 'GeoDNS not answering'));
  const at = $('#answers tbody');
  at.replaceChildren();
  for (const [id, n] of Object.entries(g.answers || {})) {
    const tr = el('tr', { 'data-answer': id });
    tr.appendChild(el('td', {}, nameOf(id)));
    tr.appendChild(el('td', {}, g.edge_state[id] || (id === 'origin' ? 'fallback' : '–')));
    tr.appendChild(el('td', {}, int(n)));
    tr.appendChild(el('td', {}, rate((g.answers_ps || {})[id] || 0)));
    at.appendChild(tr);
  }
  // Answers by client region × edge: who was sent where, so far.
  const br = g.by_region || {};
  const cols = [...new Set(Object.values(br).flatMap((x) => Object.keys(x)))].sort();
  const mh = $('#geo-matrix thead'), mb = $('#geo-matrix tbody');
  mh.replaceChildren(); mb.replaceChildren();
  if (!cols.length) return;
  const hr = el('tr', {});
  hr.appendChild(el('th', {}, 'clients in ↓ · answered →'));
  for (const c of cols) hr.appendChild(el('th', {}, nameOf(c)));
  mh.appendChild(hr);
  for (const [region, row] of Object.entries(br)) {
    const tr = el('tr', { 'data-region': region });
    tr.appendChild(el('td', {}, region));
    for (const c of cols) tr.appendChild(el('td', { 'data-answer': c }, int(row[c] || 0)));
    mb.appendChild(tr);
  }
}

function renderLatency(m) {
  set($('#lat-source'), m.latency_source === 'clients' ? '(measured by the load driver’s clients)' : '(time to first byte at the region’s edges, from /metrics)');
  const tb = $('#latency tbody');
  tb.replaceChildren();
  for (const [region, p] of Object.entries(m.latency || {})) {
    const tr = el('tr', { 'data-region': region });
    for (const v of [region, ms(p.p50), ms(p.p95), ms(p.p99), int(p.n)]) tr.appendChild(el('td', {}, v));
    tb.appendChild(tr);
  }
}

function renderTotals(m) {
  const t = m.totals;
  set($('#t-requests'), int(t.requests));
  set($('#t-rps'), rate(t.rps));
  set($('#t-hit'), pct(t.hit_ratio));
  set($('#t-origin'), rate(t.origin_rps));
  set($('#t-usd-with'), usd(t.usd_with));
  set($('#t-usd-without'), usd(t.usd_without));
}

function buildRun() {
  $('#run').hidden = !S.run;
  if (!S.run) return;
  set($('#run-name'), S.run.scenario);
  set($('#run-question'), S.run.question || '');
}

function renderRun(m) {
  if (!S.run || !m.run) return;
  const r = m.run;
  const frac = r.planned ? Math.min(1, r.done / r.planned) : 0;
  $('#run-bar').style.width = (frac * 100).toFixed(1) + '%';
  const elapsed = Math.max(0, (m.t - S.run.start_unix_ms) / 1000);
  set($('#run-progress'), `${int(r.done)} of ${int(r.planned)} requests · ${elapsed.toFixed(0)} s of ${S.run.duration_s.toFixed(0)} s · ${int(r.errors)} errors · client hit ratio ${pct(r.hit_ratio)}${S.run.warmup_s ? ` (after the ${S.run.warmup_s.toFixed(0)} s warm-up, as the report counts)` : ''}`);
  const tb = $('#run-expect tbody');
  tb.replaceChildren();
  for (const x of r.expectations) {
    const tr = el('tr', { 'data-expect': x.field });
    tr.appendChild(el('td', {}, x.field));
    tr.appendChild(el('td', {}, x.want));
    tr.appendChild(el('td', {}, x.actual === null || x.actual === undefined ? 'judged at the end' : String(+x.actual.toFixed(4))));
    tr.appendChild(el('td', { class: x.ok === true ? 'pass' : x.ok === false ? 'fail' : '' }, x.ok === true ? 'PASS so far' : x.ok === false ? 'FAIL so far' : ''));
    tb.appendChild(tr);
  }
}

function render(m) {
  renderTotals(m); renderMap(m); renderNodes(m); renderGeo(m); renderLatency(m); renderRun(m);
}

// ---------- journal and purges ----------
function renderJournal() {
  const entries = [...S.journal.values()].sort((a, b) => b.seq - a.seq);
  const pl = $('#purges');
  pl.replaceChildren();
  for (const e of entries.filter((x) => x.kind === 'purge').slice(0, 30)) {
    const li = el('li', { 'data-seq': e.seq, 'data-source': e.source, 'data-purge-id': (e.purge && e.purge.id) || '' });
    li.appendChild(el('div', {}, `${clock(e.at_unix_ms)} ${e.source}: ${e.detail} — ${e.effect || 'in progress…'}`));
    if (e.purge) {
      // purges whose sender said when it started are timed from then; others from the first edge's arrival
      const since = e.purge.sent_unix_ms ? "the sender's start" : "the first edge's arrival";
      const max = Math.max(1, ...e.purge.edges.map((x) => x.latency_ms));
      const acks = el('div', { class: 'acks' });
      for (const x of e.purge.edges) {
        acks.appendChild(el('span', {}, x.edge));
        const bar = el('span', { class: 'bar' + (x.ok ? '' : ' failed'), 'data-edge': x.edge, 'data-ok': x.ok });
        bar.style.width = (100 * x.latency_ms / max).toFixed(1) + '%';
        bar.title = x.ok ? `acknowledged ${x.latency_ms.toFixed(1)} ms after ${since}` : (x.error || 'failed');
        acks.appendChild(bar);
        acks.appendChild(el('span', {}, x.ok ? x.latency_ms.toFixed(1) + ' ms' : 'FAILED'));
      }
      li.appendChild(acks);
    }
    pl.appendChild(li);
  }
  const jl = $('#journal');
  jl.replaceChildren();
  for (const e of entries.slice(0, 60)) {
    const li = el('li', { 'data-seq': e.seq, class: e.ok ? '' : 'bad' });
    li.appendChild(el('span', { class: 'src ' + e.source }, e.source));
    li.appendChild(document.createTextNode(` ${clock(e.at_unix_ms)} ${e.kind} ${e.detail} → ${e.effect || '…'}`));
    jl.appendChild(li);
  }
}

// ---------- charts ----------
function markers() {
  const out = [...S.journal.values()].map((e) => ({ t: e.at_unix_ms, label: e.kind }));
  if (S.run) for (const x of S.run.timeline) if (x.kind === 'flash-crowd') out.push({ t: S.run.start_unix_ms + x.at_s * 1000, label: x.kind });
  return out;
}

function chart(svg, series, opts) {
  const W = 480, H = 180, L = 56, R = 8, T = 8, B = 18;
  const pts = series.flatMap((s) => s.points);
  svg.replaceChildren();
  if (!pts.length) { svg.appendChild(sv('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', class: 'tick' }, 'waiting for data…')); return; }
  const t0 = opts.t0, t1 = Math.max(t0 + 1000, opts.t1);
  let y1 = opts.yMax !== undefined ? opts.yMax : Math.max(...pts.map((p) => p[1]));
  if (!(y1 > 0)) y1 = 1;
  const X = (t) => L + (t - t0) / (t1 - t0) * (W - L - R);
  const Y = (v) => H - B - v / y1 * (H - T - B);
  svg.appendChild(sv('line', { class: 'axis', x1: L, y1: H - B, x2: W - R, y2: H - B }));
  svg.appendChild(sv('line', { class: 'axis', x1: L, y1: T, x2: L, y2: H - B }));
  for (const f of [0, 0.5, 1]) svg.appendChild(sv('text', { class: 'tick', x: L - 3, y: Y(y1 * f) + 3, 'text-anchor': 'end' }, opts.fmt(y1 * f)));
  svg.appendChild(sv('text', { class: 'tick', x: L, y: H - 4 }, clock(t0)));
  svg.appendChild(sv('text', { class: 'tick', x: W - R, y: H - 4, 'text-anchor': 'end' }, clock(t1)));
  for (const mk of markers()) {
    if (mk.t < t0 || mk.t > t1) continue;
    const x = X(mk.t);
    svg.appendChild(sv('line', { class: 'marker', x1: x, y1: T, x2: x, y2: H - B }));
    svg.appendChild(sv('text', { class: 'marker-label', x: x + 2, y: T + 14 }, mk.label));
  }
  // Legend (up to ten series; with more, hover a line for its name).
  if (series.length <= 10) {
    let lx = L + 4;
    for (const s of series) {
      svg.appendChild(sv('rect', { x: lx, y: T, width: 8, height: 3, fill: s.color }));
      const t = sv('text', { class: 'tick', x: lx + 11, y: T + 4 }, s.name);
      svg.appendChild(t);
      lx += 16 + 5.5 * s.name.length;
    }
  }
  for (const s of series) {
    if (!s.points.length) continue;
    const d = s.points.map((p, i) => (i ? 'L' : 'M') + X(p[0]).toFixed(1) + ',' + Y(Math.min(p[1], y1)).toFixed(1)).join('');
    const path = sv('path', { class: 'series', d, stroke: s.color });
    path.appendChild(sv('title', {}, s.name));
    svg.appendChild(path);
  }
}

function renderCharts() {
  const h = S.history;
  if (!h.length) return;
  const span = { t0: h[0].t, t1: h[h.length - 1].t };
  const edges = S.topo.nodes.filter((n) => n.role === 'edge');
  chart($('#c-hit'), edges.map((n) => ({
    name: n.name, color: S.colors[n.id],
    points: h.filter((p) => p.edge_hit[n.id] !== undefined).map((p) => [p.t, p.edge_hit[n.id]]),
  })), { ...span, yMax: 1, fmt: (v) => v.toFixed(1) });
  chart($('#c-origin'), [{ name: 'origin requests/s', color: PALETTE[0], points: h.map((p) => [p.t, p.origin_rps]) }], { ...span, fmt: rate });
  const lat = h.filter((p) => p.latency);
  chart($('#c-lat'), [
    { name: 'p50', color: PALETTE[2], points: lat.map((p) => [p.t, p.latency.p50]) },
    { name: 'p95', color: PALETTE[3], points: lat.map((p) => [p.t, p.latency.p95]) },
    { name: 'p99', color: PALETTE[1], points: lat.map((p) => [p.t, p.latency.p99]) },
  ], { ...span, fmt: ms });
  chart($('#c-cost'), [
    { name: 'with the CDN', color: PALETTE[0], points: h.map((p) => [p.t, p.usd_with]) },
    { name: 'origin only', color: PALETTE[1], points: h.map((p) => [p.t, p.usd_without]) },
  ], { ...span, fmt: (v) => '$' + v.toPrecision(2) });
}

// ---------- controls ----------
function msg(id, kind, text) { const m = $(id); m.className = 'msg ' + kind; set(m, text); }

function tokenState() {
  const have = !!sessionStorage.getItem(TOKEN_KEY);
  $('#token-form').hidden = !S.tokenRequired || have;
}

async function call(method, url, body) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (S.tokenRequired && !token) {
    $('#token-form').hidden = false;
    msg('#token-msg', 'error', 'Enter the admin token first.');
    $('#token').focus();
    return null;
  }
  const headers = { 'Content-Type': 'application/json' };
  if (token) headers.Authorization = 'Bearer ' + token;
  msg('#control-msg', '', 'working…');
  let r;
  try {
    r = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    msg('#control-msg', 'error', 'No answer from the dashboard: ' + e.message);
    return null;
  }
  let j = null;
  try { j = await r.json(); } catch (e) { j = null; }
  if (r.status === 401) {
    sessionStorage.removeItem(TOKEN_KEY);
    tokenState();
    msg('#token-msg', 'error', 'Refused: ' + ((j && j.error) || 'wrong admin token') + '. Enter the token again.');
    msg('#control-msg', 'error', 'Refused: wrong admin token.');
    return null;
  }
  if (!r.ok) { msg('#control-msg', 'error', (j && j.error) || (j && j.failed && 'not acknowledged by: ' + j.failed.join(', ')) || ('HTTP ' + r.status)); return null; }
  return j || {};
}

function buildControls() {
  const sel = $('#edge-name');
  sel.replaceChildren();
  for (const n of S.topo.nodes.filter((x) => x.role === 'edge')) sel.appendChild(el('option', { value: n.name }, n.name));
  // Bump and outage act on cdnlab's own origin; yours (--origin) is not cdnlab's to change.
  const yours = S.topo.nodes.find((x) => x.role === 'origin' && x.external);
  for (const id of ['#bump-path', '#bump-go', '#outage-mode', '#outage-start', '#outage-stop']) $(id).disabled = !!yours;
  const note = $('#origin-note');
  note.hidden = !yours;
  if (yours) set(note, `Bump and origin outage are off: they act on cdnlab's own origin, and this world runs with yours (${yours.external}), which cdnlab does not change. Change or stop your server itself.`);
  tokenState();
}

function wire() {
  $('#token-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const t = $('#token').value.trim();
    if (!t) { msg('#token-msg', 'error', 'The token is empty.'); return; }
    const r = await fetch('/api/auth', { method: 'POST', headers: { Authorization: 'Bearer ' + t } });
    if (r.status === 204) {
      sessionStorage.setItem(TOKEN_KEY, t);
      $('#token').value = '';
      msg('#token-msg', 'ok', 'Token accepted for this browser session.');
      tokenState();
      $('#token-form').hidden = false; // keep the confirmation visible …
      setTimeout(tokenState, 2500); // … for a moment
    } else {
      let j = null; try { j = await r.json(); } catch (e) { j = null; }
      msg('#token-msg', 'error', 'Refused: ' + ((j && j.error) || 'HTTP ' + r.status) + '.');
    }
  });
  $('#purge-kind').addEventListener('change', () => { $('#purge-value').disabled = $('#purge-kind').value === 'all'; });
  $('#purge-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const kind = $('#purge-kind').value, value = $('#purge-value').value.trim();
    const body = { soft: $('#purge-soft').checked };
    if (kind === 'all') body.all = true; else if (!value) { msg('#control-msg', 'error', 'Say what to purge.'); return; } else body[kind] = value;
    const j = await call('POST', '/api/purge', body);
    if (j) msg('#control-msg', 'ok', `Purged: all ${j.acknowledged} edges acknowledged in ${j.all_acknowledged_ms.toFixed(1)} ms, ${j.objects} objects.`);
  });
  $('#bump-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const p = $('#bump-path').value.trim();
    if (!p) { msg('#control-msg', 'error', 'Say which path to bump.'); return; }
    const j = await call('POST', '/api/bump', { path: p });
    if (j) msg('#control-msg', 'ok', 'Bumped: ' + j.effect);
  });
  $('#edge-kill').addEventListener('click', async () => {
    const n = $('#edge-name').value;
    const j = await call('POST', `/api/edges/${encodeURIComponent(n)}/kill`);
    if (j) msg('#control-msg', 'ok', `Edge ${n}: ${j.effect}.`);
  });
  $('#edge-restart').addEventListener('click', async () => {
    const n = $('#edge-name').value;
    const j = await call('POST', `/api/edges/${encodeURIComponent(n)}/restart`);
    if (j) msg('#control-msg', 'ok', `Edge ${n}: ${j.effect}.`);
  });
  $('#outage-start').addEventListener('click', async () => {
    const j = await call('POST', '/api/origin/outage', { mode: $('#outage-mode').value });
    if (j) msg('#control-msg', 'ok', 'Origin outage started.');
  });
  $('#outage-stop').addEventListener('click', async () => {
    const j = await call('DELETE', '/api/origin/outage');
    if (j) msg('#control-msg', 'ok', 'Origin faults cleared.');
  });
}

wire();
connect();
