// Spec: the loaded operations (method, path, operationId, what answers them: example,
// generated, stub, state or plugin; validation mode; documented statuses and named examples) and
// an answer preview: POST /__mockforge/preview runs the answer pipeline without side effects and
// shows what the mock would answer, with Prefer choices (code, example, dynamic).

import {base64Body, contentType, headerList, notice, table, useStyles} from './kit.js';

function parseHeaders(text) {
  const out = [];
  for (const line of String(text).split('\n')) {
    const s = line.trim();
    if (!s) continue;
    const colon = s.indexOf(':');
    if (colon <= 0) throw new Error(`header line "${s}" has no "name: value"`);
    out.push([s.slice(0, colon).trim(), s.slice(colon + 1).trim()]);
  }
  return out;
}

export async function mount(root, ctx) {
  const {api, dom} = ctx;
  const {h, clear, prettyBody} = dom;
  useStyles(dom);
  root.appendChild(h('h1', null, 'Spec'));
  const data = await api.get('spec/operations');
  if (!data.spec) {
    root.appendChild(notice(dom, 'No OpenAPI document is loaded (http.specs). Stubs, fixtures and state still answer.'));
    return null;
  }
  const ops = data.operations || [];
  const filter = h('input', {type: 'search', placeholder: 'filter: method, path, operationId, tag',
    'data-test': 'spec-filter', class: 'grow'});
  const count = h('span', {class: 'muted', 'data-test': 'spec-count'});
  const listBox = h('div', {class: 'tablewrap'});
  const detail = h('div', {class: 'panel', 'data-test': 'spec-detail'},
    h('p', {class: 'muted'}, 'Choose an operation to preview its answer.'));
  root.append(h('div', {class: 'toolbar'}, filter, count),
    h('div', {class: 'split'}, listBox, detail));

  let selected = null;
  function renderList() {
    const q = filter.value.trim().toLowerCase();
    const shown = ops.filter((op) => !q || [op.method, op.path, op.operation_id || '', ...(op.tags || [])]
      .some((x) => String(x).toLowerCase().includes(q)));
    count.textContent = `${shown.length} of ${ops.length} operations`;
    clear(listBox).appendChild(table(dom, ['method', 'path', 'operationId', 'answer', 'validation', 'statuses'],
      shown.map((op) => [
        h('span', {class: 'method'}, op.method),
        h('td', {class: 'path'}, op.path),
        op.operation_id || '',
        h('span', {class: `badge ${op.answer}`, 'data-test': 'spec-answer',
          title: op.stub ? `stub ${op.stub}` : (op.resource ? `resource ${op.resource}`
            : (op.fixtures ? `${op.fixtures} recorded fixture(s)` : ''))}, op.answer),
        h('span', {class: `badge ${op.validation}`, 'data-test': 'spec-validation'}, op.validation),
        (op.responses || []).map((r) => r.status).join(' '),
      ]),
      (i) => ({'data-test': 'spec-row', 'data-key': `${shown[i].method} ${shown[i].path}`,
        class: selected === shown[i] ? 'selected' : '', onclick: () => { selected = shown[i]; renderList(); openOp(shown[i]); }})));
  }
  filter.addEventListener('input', renderList);

  function openOp(op) {
    const statusSel = h('select', {'data-test': 'preview-code'},
      h('option', {value: ''}, `default (${op.default_status || 'none'})`),
      (op.responses || []).map((r) => h('option', {value: r.status}, `${r.status} ${r.description || ''}`.trim())));
    const exampleSel = h('select', {'data-test': 'preview-example'});
    const fillExamples = () => {
      const status = statusSel.value || op.default_status;
      const resp = (op.responses || []).find((r) => r.status === status);
      clear(exampleSel).appendChild(h('option', {value: ''}, '(default)'));
      for (const name of (resp && resp.examples) || []) exampleSel.appendChild(h('option', {value: name}, name));
      exampleSel.disabled = exampleSel.options.length < 2;
    };
    statusSel.addEventListener('change', fillExamples);
    fillExamples();
    const dynamic = h('input', {type: 'checkbox', 'data-test': 'preview-dynamic'});
    const path = h('input', {type: 'text', value: op.sample_path || op.path, 'data-test': 'preview-path', class: 'mono'});
    const query = h('input', {type: 'text', placeholder: 'a=1&b=2', 'data-test': 'preview-query', class: 'mono'});
    const headers = h('textarea', {rows: 3, placeholder: 'Name: value (one a line)', 'data-test': 'preview-headers'});
    const body = h('textarea', {rows: 4, placeholder: 'request body (JSON or text)', 'data-test': 'preview-body-input'});
    const out = h('div', {'data-test': 'preview-result'});
    const run = h('button', {class: 'primary', type: 'button', 'data-test': 'preview-run', onclick: async () => {
      let hdrs;
      try {
        hdrs = parseHeaders(headers.value);
      } catch (e) {
        clear(out).appendChild(h('p', {class: 'error', 'data-test': 'preview-error'}, e.message));
        return;
      }
      const prefer = [];
      if (statusSel.value) prefer.push(`code=${statusSel.value}`);
      if (exampleSel.value) prefer.push(`example=${exampleSel.value}`);
      if (dynamic.checked) prefer.push('dynamic=true');
      if (prefer.length) hdrs.push(['Prefer', prefer.join(', ')]);
      const q = query.value.trim().replace(/^\?/, '');
      const req = {method: op.method, path: q ? `${path.value}?${q}` : path.value, headers: hdrs};
      if (body.value.trim()) {
        req.body = body.value;
        if (!hdrs.some(([k]) => k.toLowerCase() === 'content-type')) hdrs.push(['Content-Type', 'application/json']);
      }
      run.disabled = true;
      try {
        showResult(out, await api.send('POST', 'preview', req));
      } catch (e) {
        const lines = (e.details || []).map((d) => h('li', null, `${d.location}: ${d.reason || d.message || ''}`));
        clear(out).append(h('p', {class: 'error', 'data-test': 'preview-error'}, e.message), h('ul', {class: 'problems'}, lines));
      } finally {
        run.disabled = false;
      }
    }}, 'Preview answer');
    clear(detail).append(
      h('h2', null, h('span', {class: 'method'}, op.method), ' ', h('span', {class: 'mono'}, op.path)),
      h('div', {class: 'kv-inline'},
        h('span', null, h('span', {class: 'k'}, 'operationId '), op.operation_id || '–'),
        h('span', null, h('span', {class: 'k'}, 'validation '), op.validation),
        h('span', null, h('span', {class: 'k'}, 'answer '), op.answer + (op.stub ? ` (stub ${op.stub})` : '')
          + (op.resource ? ` (resource ${op.resource})` : '') + (op.fixtures ? ` (${op.fixtures} fixtures)` : '')),
        h('span', null, h('span', {class: 'k'}, 'file '), op.file || '')),
      h('div', {class: 'preview-form'},
        h('label', null, 'path'), path,
        h('label', null, 'query'), query,
        h('label', null, 'Prefer code'), statusSel,
        h('label', null, 'Prefer example'), exampleSel,
        h('label', null, 'Prefer dynamic'), h('span', null, dynamic, ' generate per request'),
        h('label', null, 'headers'), headers,
        h('label', null, 'body'), body,
        h('span', null), h('span', null, run, ' ', h('span', {class: 'muted small'},
          'No side effects: nothing is logged, no stub times or scenario state used, no state written.'))),
      out);
  }

  function showResult(out, r) {
    const resp = r.response;
    const parts = [
      h('h3', null, 'Answered by'),
      h('p', null, h('span', {class: `badge ${r.source}`, 'data-test': 'preview-source'}, r.source || 'none'), ' ',
        h('span', {class: 'mono', 'data-test': 'preview-answered-by'}, r.answered_by || '')),
      h('ol', {class: 'steps', 'data-test': 'preview-steps'}, (r.steps || []).map((s) => h('li', null, `${s.step}: ${s.result}`))),
    ];
    if (r.validation) {
      const problems = r.validation.problems || [];
      parts.push(h('h3', null, `Validation (${r.validation.mode})`),
        problems.length
          ? h('ul', {class: 'problems', 'data-test': 'preview-problems'}, problems.map((p) => h('li', null, `${p.location}: ${p.reason}`)))
          : h('p', {class: 'muted', 'data-test': 'preview-problems'}, 'no problems'));
    }
    if (r.rules && (r.rules.latency || r.rules.fault)) {
      parts.push(h('h3', null, 'Latency and faults (not applied in a preview)'),
        h('pre', {class: 'body', 'data-test': 'preview-rules'}, JSON.stringify(r.rules, null, 2)));
    }
    for (const n of r.notes || []) parts.push(h('p', {class: 'notice', 'data-test': 'preview-note'}, n));
    if (resp) {
      parts.push(h('h3', null, 'Response ', h('span', {class: `s${String(resp.status)[0]}`, 'data-test': 'preview-status'},
        String(resp.status))), headerList(dom, resp.headers, 'preview-headers-out'),
      h('div', {'data-test': 'preview-response-body'}, resp.body_encoding === 'base64'
        ? base64Body(dom, resp.body) : prettyBody(resp.body, contentType(resp.headers))));
      if (resp.truncated) parts.push(h('p', {class: 'muted'}, '(cut at http.max_response_bytes)'));
    }
    clear(out).append(...parts);
  }

  renderList();
  const wanted = ctx.params || '';  // the shell already decoded the hash
  const first = ops.find((op) => `${op.method} ${op.path}` === wanted);
  if (first) { selected = first; renderList(); openOp(first); }
  return null;
}
