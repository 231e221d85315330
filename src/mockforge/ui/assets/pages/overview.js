// Overview: uptime, listeners, request and error rates over the last 15 minutes (inline SVG
// built with DOM calls; the samples come from GET /__mockforge/stats/series, which starts the
// server's sampler on first use), memory, and the bounds in force with what they refused.

import {useStyles} from './kit.js';

const REFRESH_MS = 5000;
const W = 560;
const H = 140;
const PAD = {left: 44, right: 10, top: 10, bottom: 22};

function fmtUptime(s) {
  const v = Math.floor(Number(s) || 0);
  const d = Math.floor(v / 86400);
  const hh = Math.floor((v % 86400) / 3600);
  const mm = Math.floor((v % 3600) / 60);
  const ss = v % 60;
  if (d) return `${d}d ${hh}h ${mm}m`;
  if (hh) return `${hh}h ${mm}m ${ss}s`;
  return `${mm}m ${ss}s`;
}

function fmtRate(v) {
  if (v == null) return '–';
  if (v >= 100) return `${Math.round(v)}/s`;
  return `${Number(v).toFixed(v >= 10 ? 1 : 2)}/s`;
}

function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

/** A line chart of points [{t (ms), v}] over the window ending at `end` (ms). */
function lineChart(dom, {points, end, windowMs, label, test, format, cls}) {
  const {svg} = dom;
  const start = end - windowMs;
  const values = points.filter((p) => p.v != null && p.t >= start);
  const max = niceMax(Math.max(0, ...values.map((p) => p.v)));
  const x = (t) => PAD.left + ((t - start) / windowMs) * (W - PAD.left - PAD.right);
  const y = (v) => H - PAD.bottom - (v / max) * (H - PAD.top - PAD.bottom);
  const root = svg('svg', {viewBox: `0 0 ${W} ${H}`, class: `chart ${cls}`, role: 'img', 'aria-label': label,
    'data-test': test, 'data-points': String(values.length)});
  for (const frac of [0, 0.5, 1]) {
    const yy = y(max * frac);
    root.appendChild(svg('line', {x1: PAD.left, x2: W - PAD.right, y1: yy, y2: yy, class: 'grid'}));
    root.appendChild(svg('text', {x: PAD.left - 4, y: yy + 4, class: 'axis', 'text-anchor': 'end'}, format(max * frac)));
  }
  for (const minutes of [15, 10, 5, 0]) {
    const t = end - minutes * 60000;
    root.appendChild(svg('text', {x: x(t), y: H - 6, class: 'axis', 'text-anchor': minutes === 0 ? 'end' : 'middle'},
      minutes === 0 ? 'now' : `-${minutes}m`));
  }
  if (values.length) {
    const line = values.map((p) => `${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(' ');
    const area = `${x(values[0].t).toFixed(1)},${y(0)} ${line} ${x(values[values.length - 1].t).toFixed(1)},${y(0)}`;
    root.appendChild(svg('polygon', {points: area, class: 'area'}));
    root.appendChild(svg('polyline', {points: line, class: 'line'}));
    for (const p of values) root.appendChild(svg('circle', {cx: x(p.t), cy: y(p.v), r: 2, class: 'dot'},
      svg('title', null, `${new Date(p.t).toLocaleTimeString()}: ${format(p.v)}`)));
  } else {
    root.appendChild(svg('text', {x: W / 2, y: H / 2, class: 'axis', 'text-anchor': 'middle'},
      'collecting samples (one every 10 s)…'));
  }
  return root;
}

function stat(h, label, value, test) {
  return h('div', {class: 'stat'}, h('div', {class: 'stat-label'}, label),
    h('div', {class: 'stat-value', 'data-test': test}, value));
}

function flatten(obj, prefix, out) {
  for (const [k, v] of Object.entries(obj || {})) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v && typeof v === 'object' && !Array.isArray(v)) flatten(v, key, out);
    else out.push([key, v]);
  }
  return out;
}

export async function mount(root, ctx) {
  const {api, dom} = ctx;
  const {h, clear, fmtBytes} = dom;
  useStyles(dom);
  root.appendChild(h('h1', null, 'Overview'));
  const stats = h('div', {class: 'stats', 'data-test': 'overview-stats'});
  const charts = h('div', {class: 'charts'});
  const listeners = h('div', {'data-test': 'overview-listeners'});
  const bounds = h('div', {'data-test': 'overview-bounds'});
  const refused = h('div', {'data-test': 'overview-refused'});
  const note = h('p', {class: 'muted small'});
  root.append(stats, h('h2', null, 'Last 15 minutes'), note, charts,
    h('div', {class: 'split'}, h('div', null, h('h2', null, 'Listeners'), listeners),
      h('div', null, h('h2', null, 'Refused or cut by the bounds since start'), refused)),
    h('h2', null, 'Bounds in force'), bounds);

  let timer = null;
  let stopped = false;

  async function refresh() {
    const [info, st, series] = await Promise.all([api.get('server-info'), api.get('stats'), api.get('stats/series')]);
    if (stopped) return;
    const total = Object.values(st.requests_by_protocol || {}).reduce((a, b) => a + b, 0);
    const errors = Object.values(st.errors_by_protocol || {}).reduce((a, b) => a + b, 0);
    const pts = series.points || [];
    const last = [...pts].reverse().find((p) => p.request_rate != null);
    clear(stats).append(
      stat(h, 'Uptime', fmtUptime(st.uptime_s), 'overview-uptime'),
      stat(h, 'Version', String(info.version || ''), 'overview-version'),
      stat(h, 'Requests', String(total), 'overview-requests'),
      stat(h, 'Errors', String(errors), 'overview-errors'),
      stat(h, 'Request rate', last ? fmtRate(last.request_rate) : '–', 'overview-rate'),
      stat(h, 'Memory (RSS)', fmtBytes(st.rss_bytes), 'overview-rss'),
      stat(h, 'Request log', `${st.log.entries} / ${st.log.capacity}`, 'overview-log'),
    );
    const end = Date.now();
    const windowMs = (series.window_s || 900) * 1000;
    const at = (p) => Date.parse(p.at);
    note.textContent = `One sample every ${series.interval_s} s from the metrics counters since the console first ` +
      `asked; ${pts.length} sample${pts.length === 1 ? '' : 's'} so far.`;
    clear(charts).append(
      h('div', {class: 'chartbox'}, h('h3', null, 'Requests per second'),
        lineChart(dom, {points: pts.map((p) => ({t: at(p), v: p.request_rate})), end, windowMs,
          label: 'request rate', test: 'chart-requests', format: fmtRate, cls: 'requests'})),
      h('div', {class: 'chartbox'}, h('h3', null, 'Errors per second'),
        lineChart(dom, {points: pts.map((p) => ({t: at(p), v: p.error_rate})), end, windowMs,
          label: 'error rate', test: 'chart-errors', format: fmtRate, cls: 'errors'})),
      h('div', {class: 'chartbox'}, h('h3', null, 'Memory (RSS)'),
        lineChart(dom, {points: pts.map((p) => ({t: at(p), v: p.rss_bytes})), end, windowMs,
          label: 'memory', test: 'chart-rss', format: fmtBytes, cls: 'rss'})),
    );
    clear(listeners).appendChild(h('table', null,
      h('thead', null, h('tr', null, h('th', null, 'listener'), h('th', null, 'address'), h('th', null, 'serves'),
        h('th', null, 'open connections'))),
      h('tbody', null, (info.listeners || []).map((l) => h('tr', {'data-test': 'listener-row', 'data-name': l.name},
        h('td', null, l.name), h('td', {class: 'mono'}, `${l.host}:${l.port}`),
        h('td', null, (l.serves || []).map((s) => h('span', {class: 'badge'}, s))),
        h('td', null, String(((st.refused || {}).http || {})[l.name]?.connections_open ?? '–')))))));
    clear(bounds).appendChild(h('table', {class: 'compact'},
      h('thead', null, h('tr', null, h('th', null, 'config key'), h('th', null, 'value'))),
      h('tbody', null, Object.entries(st.bounds || {}).map(([k, v]) => h('tr', {'data-test': 'bound-row'},
        h('td', {class: 'mono'}, k), h('td', {class: 'mono'}, typeof v === 'object' ? JSON.stringify(v) : String(v)))))));
    // what was refused or cut; gauges (open connections and streams) are not refusals
    const counts = flatten(st.refused, '', []).filter(([k]) => !k.endsWith('_open'));
    const nonzero = counts.filter(([, v]) => v);
    clear(refused).appendChild(nonzero.length
      ? h('table', {class: 'compact'}, h('tbody', null, nonzero.map(([k, v]) =>
        h('tr', {'data-test': 'refused-row'}, h('td', {class: 'mono'}, k), h('td', {class: 'mono'}, String(v))))))
      : h('p', {class: 'muted'}, `Nothing refused since start (${counts.length} counters).`));
  }

  async function tick() {
    try {
      await refresh();
    } catch (e) {
      if (e.status === 401) return;
      ctx.setStatus(`overview: ${e.message}`, 'error');
    }
    if (!stopped) timer = setTimeout(tick, REFRESH_MS);
  }
  await refresh();
  timer = setTimeout(tick, REFRESH_MS);
  return () => { stopped = true; clearTimeout(timer); };
}
