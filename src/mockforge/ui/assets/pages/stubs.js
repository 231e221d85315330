// Stubs: the list (search, hit counts, enable/disable, delete), the editor (a form for the common
// fields plus the whole definition as JSON or YAML; the server validates and its messages are
// shown as it gives them), and scenarios with their current state and a reset.
// Routes: #/stubs, #/stubs/new (ctx.openStubEditor pre-fills it), #/stubs/edit/<id>.

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'ANY'];

export async function mount(root, ctx) {
  const [mode, ...rest] = (ctx.params || '').split('/');
  if (mode === 'new') return editor(root, ctx, null, ctx.takeStubPrefill());
  if (mode === 'edit' && rest.length) return editor(root, ctx, decodeURIComponent(rest.join('/')), null);
  return list(root, ctx);
}

function describe(stub) {
  const req = stub.request || {};
  const path = typeof req.path === 'string' ? req.path : req.path ? JSON.stringify(req.path) : '(any path)';
  return {method: req.method || 'ANY', path};
}

async function list(root, ctx) {
  const {h, clear} = ctx.dom;
  const search = h('input', {type: 'search', placeholder: 'search id, name, method, path…', 'data-test': 'stub-search', class: 'grow'});
  const message = h('div', {'data-test': 'stubs-message', role: 'status'});
  const tbody = h('tbody', {'data-test': 'stub-rows'});
  const scenarios = h('tbody', {'data-test': 'scenario-rows'});
  let stubs = [];

  function flash(text, error) {
    message.className = error ? 'notice error' : 'notice';
    message.textContent = text;
  }

  async function load() {
    stubs = (await ctx.api.get('stubs')).stubs || [];
    render();
  }

  async function toggle(stub, enabled) {
    // the stored definition with `enabled` changed, replaced whole (all or nothing)
    const definition = {...(await ctx.api.get(`stubs/${encodeURIComponent(stub.id)}`))};
    delete definition.hits;
    delete definition.source;
    definition.enabled = enabled;
    try {
      await ctx.api.send('PUT', `stubs/${encodeURIComponent(stub.id)}`, definition);
      flash(`Stub ${stub.id} ${enabled ? 'enabled' : 'disabled'}.`);
    } catch (e) {
      flash(`Could not change ${stub.id}: ${e.message}`, true);
    }
    await load();
  }

  async function remove(stub) {
    if (!window.confirm(`Delete stub ${stub.id}?`)) return;
    try {
      await ctx.api.send('DELETE', `stubs/${encodeURIComponent(stub.id)}`);
      flash(`Stub ${stub.id} deleted.`);
    } catch (e) {
      flash(`Could not delete ${stub.id}: ${e.message}`, true);
    }
    await load();
  }

  function render() {
    const q = search.value.trim().toLowerCase();
    clear(tbody);
    for (const stub of stubs) {
      const {method, path} = describe(stub);
      const hay = `${stub.id} ${stub.name || ''} ${method} ${path}`.toLowerCase();
      if (q && !hay.includes(q)) continue;
      const status = (stub.response && stub.response.status) || 200;
      tbody.appendChild(h('tr', {'data-test': 'stub-row', 'data-id': stub.id},
        h('td', null, h('input', {type: 'checkbox', checked: stub.enabled !== false, 'data-test': 'stub-enabled',
          title: stub.enabled !== false ? 'enabled: click to disable' : 'disabled: click to enable',
          onchange: (ev) => toggle(stub, ev.target.checked)})),
        h('td', {class: 'mono'}, h('a', {href: `#/stubs/edit/${encodeURIComponent(stub.id)}`, 'data-test': 'stub-id'}, stub.id),
          stub.name ? h('div', {class: 'muted'}, stub.name) : null),
        h('td', null, method),
        h('td', {class: 'path'}, path),
        h('td', null, String(status)),
        h('td', null, String(stub.priority)),
        h('td', {'data-test': 'stub-hits'}, String(stub.hits || 0)),
        h('td', null, h('span', {class: 'badge'}, stub.source || '')),
        h('td', null, h('button', {type: 'button', class: 'danger', 'data-test': 'stub-delete', onclick: () => remove(stub)}, 'Delete'))));
    }
    if (!tbody.rows.length) {
      tbody.appendChild(h('tr', null, h('td', {colspan: 9, class: 'muted'}, stubs.length ? 'No stub matches the search.' : 'No stubs yet.')));
    }
  }

  async function loadScenarios() {
    const data = await ctx.api.get('scenarios');
    clear(scenarios);
    for (const s of data.scenarios || []) {
      scenarios.appendChild(h('tr', {'data-test': 'scenario-row'}, h('td', {class: 'mono'}, s.name),
        h('td', {class: 'mono', 'data-test': 'scenario-state'}, s.state)));
    }
    if (!scenarios.rows.length) scenarios.appendChild(h('tr', null, h('td', {colspan: 2, class: 'muted'}, 'No scenarios.')));
  }

  search.addEventListener('input', render);
  root.appendChild(h('h1', null, 'Stubs'));
  root.appendChild(h('div', {class: 'toolbar'}, search,
    h('button', {type: 'button', class: 'primary', 'data-test': 'stub-new', onclick: () => ctx.navigate('#/stubs/new')}, 'New stub'),
    h('button', {type: 'button', 'data-test': 'stub-refresh', onclick: () => { load(); loadScenarios(); }}, 'Refresh')));
  root.appendChild(message);
  root.appendChild(h('div', {class: 'tablewrap'}, h('table', null, h('thead', null, h('tr', null,
    h('th', null, 'on'), h('th', null, 'id'), h('th', null, 'method'), h('th', null, 'path'), h('th', null, 'status'),
    h('th', null, 'priority'), h('th', null, 'hits'), h('th', null, 'source'), h('th', null, ''))), tbody)));
  root.appendChild(h('h2', null, 'Scenarios'));
  root.appendChild(h('div', {class: 'toolbar'}, h('button', {type: 'button', 'data-test': 'scenario-reset', onclick: async () => {
    try {
      await ctx.api.send('POST', 'scenarios/reset');
      flash('Every scenario is back in its first state.');
    } catch (e) {
      flash(`Reset failed: ${e.message}`, true);
    }
    await loadScenarios();
  }}, 'Reset all scenarios')));
  root.appendChild(h('table', {class: 'diff'}, h('thead', null, h('tr', null, h('th', null, 'scenario'), h('th', null, 'state'))), scenarios));
  await Promise.all([load(), loadScenarios()]);
}

// ---- the editor ------------------------------------------------------------------------------
async function editor(root, ctx, id, prefill) {
  const {h, clear} = ctx.dom;
  let draft;
  const notes = [];
  if (id !== null) {
    draft = await ctx.api.get(`stubs/${encodeURIComponent(id)}`);
    delete draft.hits;
    delete draft.source;
  } else if (prefill && prefill.stub) {
    draft = prefill.stub;
    notes.push(...(prefill.notes || []));
  } else {
    draft = prefill || {request: {method: 'GET', path: '/'}, response: {status: 200, body: {}}};
  }
  draft.request = draft.request || {};
  draft.response = draft.response || {};

  const fields = {
    id: h('input', {type: 'text', 'data-test': 'edit-id', placeholder: 'generated when empty', disabled: id !== null}),
    method: h('select', {'data-test': 'edit-method'}, METHODS.map((m) => h('option', {value: m}, m))),
    path: h('input', {type: 'text', 'data-test': 'edit-path', class: 'mono'}),
    status: h('input', {type: 'number', min: 100, max: 599, 'data-test': 'edit-status'}),
    priority: h('input', {type: 'number', 'data-test': 'edit-priority'}),
    headers: h('textarea', {rows: 3, 'data-test': 'edit-headers', placeholder: 'name: value (one a line)'}),
    body: h('textarea', {rows: 6, 'data-test': 'edit-body', placeholder: 'JSON, or text'}),
  };
  const source = h('textarea', {rows: 18, 'data-test': 'edit-source', spellcheck: 'false'});
  const errors = h('div', {'data-test': 'edit-errors', role: 'alert'});
  const syncNote = h('p', {class: 'muted', 'data-test': 'edit-sync'});

  function fillForm() {
    fields.id.value = draft.id || '';
    const method = String(draft.request.method || 'ANY').toUpperCase();
    fields.method.value = METHODS.includes(method) ? method : 'ANY';
    const path = draft.request.path;
    fields.path.value = typeof path === 'string' ? path : path ? JSON.stringify(path) : '';
    fields.path.disabled = path !== undefined && typeof path !== 'string';
    fields.status.value = String(draft.response.status || 200);
    fields.priority.value = draft.priority === undefined ? '' : String(draft.priority);
    fields.headers.value = Object.entries(draft.response.headers || {}).map(([k, v]) => `${k}: ${v}`).join('\n');
    const r = draft.response;
    fields.body.value = r.body !== undefined ? JSON.stringify(r.body, null, 2) : r.body_text !== undefined ? String(r.body_text) : '';
    fields.body.disabled = r.body_file !== undefined || r.body_base64 !== undefined;
  }
  function writeSource() {
    source.value = JSON.stringify(draft, null, 2);
    syncNote.textContent = '';
  }
  function fromForm() {
    if (!fields.id.disabled) {
      if (fields.id.value.trim()) draft.id = fields.id.value.trim(); else delete draft.id;
    }
    if (fields.method.value === 'ANY') delete draft.request.method; else draft.request.method = fields.method.value;
    if (!fields.path.disabled) draft.request.path = fields.path.value;
    draft.response.status = Number(fields.status.value) || 200;
    if (fields.priority.value.trim() === '') delete draft.priority; else draft.priority = Number(fields.priority.value);
    const headers = {};
    for (const line of fields.headers.value.split('\n')) {
      const i = line.indexOf(':');
      if (i > 0) headers[line.slice(0, i).trim()] = line.slice(i + 1).trim();
    }
    if (Object.keys(headers).length) draft.response.headers = headers; else delete draft.response.headers;
    if (!fields.body.disabled) {
      const text = fields.body.value;
      delete draft.response.body;
      delete draft.response.body_text;
      if (text.trim()) {
        try { draft.response.body = JSON.parse(text); } catch { draft.response.body_text = text; }
      }
    }
    writeSource();
  }
  function fromSource() {
    try {
      const parsed = JSON.parse(source.value);
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
        draft = parsed;
        draft.request = draft.request || {};
        draft.response = draft.response || {};
        fillForm();
        syncNote.textContent = '';
        return;
      }
    } catch { /* YAML, or JSON being typed */ }
    syncNote.textContent = 'The definition is not a JSON object (YAML?): the form is not updated; saving sends the text as YAML.';
  }
  for (const el of Object.values(fields)) el.addEventListener('input', fromForm);
  source.addEventListener('input', fromSource);

  function showErrors(e) {
    clear(errors);
    errors.className = 'notice error';
    errors.appendChild(h('p', {'data-test': 'edit-error-message'}, `${e.status || ''} ${e.message}`.trim()));
    if (e.details && e.details.length) {
      errors.appendChild(h('ul', {class: 'problems'}, e.details.map((d) =>
        h('li', {'data-test': 'edit-error-detail'}, h('span', {class: 'mono'}, d.location || ''), ' ', d.reason || d.message || ''))));
    }
  }

  async function save() {
    clear(errors);
    errors.className = '';
    const text = source.value;
    let json = null;
    try { json = JSON.parse(text); } catch { json = null; }
    const path = id === null ? 'stubs' : `stubs/${encodeURIComponent(id)}`;
    const method = id === null ? 'POST' : 'PUT';
    try {
      const saved = json !== null ? await ctx.api.send(method, path, json)
        : await ctx.api.sendText(method, path, text, 'application/yaml');
      const savedId = id !== null ? id : (saved && saved.stubs && saved.stubs[0] && saved.stubs[0].id);
      ctx.navigate(savedId ? `#/stubs/edit/${encodeURIComponent(savedId)}` : '#/stubs');
      ctx.setStatus(`saved stub ${savedId || ''}`.trim(), 'ok');
    } catch (e) {
      showErrors(e);
    }
  }

  root.appendChild(h('h1', {'data-test': 'editor-title'}, id === null ? 'New stub' : `Stub ${id}`));
  for (const note of notes) root.appendChild(h('p', {class: 'notice', 'data-test': 'edit-note'}, note));
  root.appendChild(h('div', {class: 'split'},
    h('section', {class: 'panel'}, h('h2', null, 'Common fields'),
      h('div', {class: 'form'},
        h('label', null, 'id'), fields.id,
        h('label', null, 'method'), fields.method,
        h('label', null, 'path'), fields.path,
        h('label', null, 'status'), fields.status,
        h('label', null, 'priority'), fields.priority,
        h('label', null, 'response headers'), fields.headers,
        h('label', null, 'response body'), fields.body),
      h('p', {class: 'muted'}, 'Other keys (query, header and body matchers, scenario, times, delay, fault...) are edited in the definition.')),
    h('section', {class: 'panel'}, h('h2', null, 'Definition (JSON or YAML)'), source, syncNote,
      h('p', {class: 'muted'}, 'The server checks it when you save; its messages show below.'))));
  root.appendChild(errors);
  root.appendChild(h('div', {class: 'toolbar'},
    h('button', {type: 'button', class: 'primary', 'data-test': 'edit-save', onclick: save}, id === null ? 'Create stub' : 'Save'),
    h('button', {type: 'button', 'data-test': 'edit-cancel', onclick: () => ctx.navigate('#/stubs')}, 'Back to the list')));
  fillForm();
  writeSource();
}
