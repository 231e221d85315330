// Plugins: the loaded WASM plugins with their state, limits (memory, fuel, time, concurrency)
// and failure counts (GET /__mockforge/plugins, refreshed every 5 s), and a reload button
// (POST plugins/{id}/reload).

import {every, hasFeature, notice, table, useStyles} from './kit.js';

const REFRESH_MS = 5000;

export async function mount(root, ctx) {
  const {api, dom} = ctx;
  const {h, clear} = dom;
  useStyles(dom);
  root.appendChild(h('h1', null, 'Plugins'));
  if (!(await hasFeature(api, 'plugins'))) {
    root.appendChild(notice(dom, 'No plugins are loaded (plugins.dirs, plugins.load).'));
    return null;
  }
  const first = await api.get('plugins');
  const box = h('div', {class: 'tablewrap'});
  const result = h('p', {class: 'muted', 'data-test': 'plugin-result', role: 'status'});
  const note = h('p', {class: 'muted small'});
  root.append(note, box, result);

  function render(data) {
    const plugins = data.plugins || [];
    note.textContent = `${plugins.length} plugin${plugins.length === 1 ? '' : 's'}; a plugin is disabled after ` +
      `${data.max_failures} consecutive failures (plugins.max_failures) until it is reloaded.`;
    clear(box).appendChild(plugins.length ? table(dom,
      ['id', 'version', 'kinds', 'state', 'calls', 'failures', 'in a row', 'memory', 'fuel', 'timeout', 'concurrent', 'last error', ''],
      plugins.map((p) => {
        const lim = p.limits || {};
        return [
          h('td', {class: 'mono'}, p.id), p.version || '', (p.kinds || []).join(', '),
          h('span', {class: `badge ${p.state === 'ready' ? 'on' : 'off'}`, 'data-test': 'plugin-state'}, p.state),
          h('td', {'data-test': 'plugin-calls'}, String(p.calls)),
          h('td', {'data-test': 'plugin-failures'}, String(p.failures)),
          String(p.consecutive_failures ?? ''),
          lim.memory_mb != null ? `${lim.memory_mb} MB` : '', lim.fuel ? String(lim.fuel) : 'off',
          lim.timeout_ms != null ? `${lim.timeout_ms} ms` : '', String(lim.max_concurrent ?? ''),
          h('td', {class: 'error small', 'data-test': 'plugin-last-error'}, p.last_error || ''),
          h('button', {type: 'button', 'data-test': 'plugin-reload', onclick: async () => {
            try {
              await api.send('POST', `plugins/${encodeURIComponent(p.id)}/reload`);
              result.className = 'muted';
              result.textContent = `reloaded ${p.id}`;
              render(await api.get('plugins'));
            } catch (e) {
              result.className = 'error';
              result.textContent = e.message;
            }
          }}, 'reload'),
        ];
      }), (i) => ({'data-test': 'plugin-row', 'data-id': plugins[i].id}))
      : h('p', {class: 'muted'}, 'No plugin is loaded.'));
  }
  render(first);
  return every(REFRESH_MS, async () => render(await api.get('plugins')), ctx);
}
