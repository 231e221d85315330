// Misses: the requests nothing answered (GET /unmatched), each with its near-miss report (GET
// /near-misses: the closest stubs and, field by field, what differed), and "Create stub from this
// request", which opens the stub editor pre-filled with matchers for the request (its log entry
// gives headers and body) and the closest stub's response, or a template to edit.

import {stubFromRequest} from '../stubdraft.js';

function key(r) {
  return `${r.timestamp}|${r.method}|${r.path}`;
}

function queryText(query) {
  const pairs = [];
  for (const [k, vs] of Object.entries(query || {})) for (const v of (Array.isArray(vs) ? vs : [vs])) pairs.push([k, v]);
  return pairs.length ? '?' + new URLSearchParams(pairs).toString() : '';
}

/** "query.kind: expected equals "dog", got "cat"" -> ["query.kind", "expected ..."] */
function splitDiff(diff) {
  const text = String(diff);
  const i = text.indexOf(': ');
  return i > 0 ? [text.slice(0, i), text.slice(i + 2)] : ['', text];
}

export async function mount(root, ctx) {
  const {h, clear, fmtTime} = ctx.dom;
  const list = h('div', {'data-test': 'miss-list'});
  const count = h('span', {class: 'muted', 'data-test': 'miss-count'});

  async function entryFor(miss) {
    // the log entry of this request (headers and body): same method and path, a 404, logged
    // just before the miss was reported
    const data = await ctx.api.get(`logs?method=${encodeURIComponent(miss.method)}&status=404&limit=200`);
    const at = Date.parse(miss.timestamp);
    let best = null;
    for (const e of data.entries || []) {
      if (e.path !== miss.path || queryText(e.query) !== queryText(miss.query)) continue;
      const gap = Math.abs(at - Date.parse(e.timestamp));
      if (best === null || gap < best.gap) best = {gap, e};
    }
    return best && best.gap < 10000 ? best.e : null;
  }

  async function createStub(miss, near) {
    let expected = null;
    if (near && near.length) {
      try {
        const closest = await ctx.api.get(`stubs/${encodeURIComponent(near[0].stub)}`);
        expected = closest.response || null;
      } catch { expected = null; /* the stub is gone since: a template then */ }
    }
    const entry = (await entryFor(miss)) || {method: miss.method, path: miss.path, query: miss.query, headers: {}};
    const draft = stubFromRequest(entry, expected);
    if (!entry.id) draft.notes.push('This request is no longer in the request log: the draft matches its method, path and query only.');
    ctx.openStubEditor(draft);
  }

  function card(miss, near) {
    const body = near && near.length
      ? near.map((n, i) => h('div', {class: 'near', 'data-test': 'near-miss'},
        h('p', null, `${i + 1}. `, h('a', {href: `#/stubs/edit/${encodeURIComponent(n.stub)}`, class: 'mono', 'data-test': 'near-stub'}, n.stub),
          ' ', h('span', {class: 'muted mono'}, n.request), ' ', h('span', {class: 'badge'}, `distance ${n.distance}`)),
        h('table', {class: 'diff'}, h('thead', null, h('tr', null, h('th', null, 'field'), h('th', null, 'difference'))),
          h('tbody', null, (n.diffs || []).map((d) => {
            const [field, what] = splitDiff(d);
            return h('tr', {'data-test': 'near-diff'}, h('td', {class: 'mono'}, field), h('td', {class: 'fail'}, what));
          })))))
      : [h('p', {class: 'muted', 'data-test': 'no-near-miss'}, 'No stub is close to this request.')];
    return h('article', {class: 'card', 'data-test': 'miss'},
      h('header', null, h('strong', {class: 'mono', 'data-test': 'miss-request'}, `${miss.method} ${miss.path}${queryText(miss.query)}`),
        h('span', {class: 'muted'}, `${miss.protocol} · ${fmtTime(miss.timestamp)}`),
        h('span', {class: 'grow'}),
        miss.protocol === 'http' ? h('button', {type: 'button', class: 'primary', 'data-test': 'miss-create-stub',
          onclick: (ev) => { ev.target.disabled = true; createStub(miss, near).finally(() => { ev.target.disabled = false; }); }},
        'Create stub from this request') : null),
      body);
  }

  async function load() {
    const [unmatched, near] = await Promise.all([ctx.api.get('unmatched'), ctx.api.get('near-misses')]);
    const byKey = new Map();
    for (const report of near.near_misses || []) byKey.set(key(report.request), report.near_misses);
    const misses = (unmatched.requests || []).slice().reverse();
    clear(list);
    for (const miss of misses) list.appendChild(card(miss, byKey.get(key(miss))));
    if (!misses.length) list.appendChild(h('p', {class: 'muted', 'data-test': 'miss-empty'}, 'No unmatched requests.'));
    count.textContent = `${misses.length} unmatched (newest first; core.max_unmatched keeps the last ones)`;
  }

  root.appendChild(h('h1', null, 'Misses'));
  root.appendChild(h('div', {class: 'toolbar'},
    h('button', {type: 'button', 'data-test': 'miss-refresh', onclick: load}, 'Refresh'),
    h('button', {type: 'button', 'data-test': 'miss-clear', onclick: async () => {
      await ctx.api.send('DELETE', 'unmatched');
      await load();
    }}, 'Clear'), count));
  root.appendChild(list);
  await load();
}
