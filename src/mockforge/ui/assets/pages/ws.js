// WebSocket: the live connections (GET /__mockforge/ws/connections, refreshed every 2 s) and a
// push box that sends a text frame to every client on a route or to one connection
// (POST /__mockforge/ws/send).

import {every, hasFeature, notice, table, useStyles} from './kit.js';

const REFRESH_MS = 2000;

export async function mount(root, ctx) {
  const {api, dom} = ctx;
  const {h, clear, fmtTime} = dom;
  useStyles(dom);
  root.appendChild(h('h1', null, 'WebSocket'));
  if (!(await hasFeature(api, 'websocket'))) {
    root.appendChild(notice(dom, 'No WebSocket routes are configured (websocket.routes).'));
    return null;
  }
  const first = await api.get('ws/connections');
  const routes = first.routes || [];
  const count = h('span', {class: 'muted', 'data-test': 'ws-count'});
  const listBox = h('div', {class: 'tablewrap'});
  const pathSel = h('select', {'data-test': 'ws-push-path'}, routes.map((r) => h('option', {value: r.path}, `${r.path} (${r.mode})`)));
  const targetSel = h('select', {'data-test': 'ws-push-target'});
  const text = h('textarea', {rows: 4, placeholder: 'message text (sent as one text frame)', 'data-test': 'ws-push-text'});
  const result = h('p', {class: 'muted', 'data-test': 'ws-push-result', role: 'status'});
  const send = h('button', {class: 'primary', type: 'button', 'data-test': 'ws-push-send'}, 'Send');
  root.append(
    h('div', {class: 'toolbar'}, count),
    listBox,
    h('h2', null, 'Push a message'),
    h('div', {class: 'pushbox panel'}, h('div', {class: 'toolbar'}, h('label', null, 'route '), pathSel,
      h('label', null, 'to '), targetSel), text, h('div', null, send), result));

  let conns = first.connections || [];
  function fillTargets() {
    const keep = targetSel.value;
    clear(targetSel).appendChild(h('option', {value: ''}, 'every client on the route'));
    for (const c of conns.filter((x) => x.path === pathSel.value)) {
      targetSel.appendChild(h('option', {value: c.id}, `${c.id} (${c.client})`));
    }
    if ([...targetSel.options].some((o) => o.value === keep)) targetSel.value = keep;
  }
  function render() {
    count.textContent = `${conns.length} connection${conns.length === 1 ? '' : 's'} on ${routes.length} route${routes.length === 1 ? '' : 's'}`;
    clear(listBox).appendChild(conns.length
      ? table(dom, ['id', 'path', 'client', 'connected', 'in', 'out'], conns.map((c) => [
        h('td', {class: 'mono'}, c.id), h('td', {class: 'path'}, c.path), h('td', {class: 'mono'}, c.client),
        fmtTime(c.connected_at), String(c.messages_in), String(c.messages_out)]),
      (i) => ({'data-test': 'ws-row', 'data-id': conns[i].id, onclick: () => {
        pathSel.value = conns[i].path; fillTargets(); targetSel.value = conns[i].id; }}))
      : h('p', {class: 'muted', 'data-test': 'ws-empty'}, 'No client is connected.'));
    fillTargets();
  }
  pathSel.addEventListener('change', fillTargets);
  send.addEventListener('click', async () => {
    const body = {path: pathSel.value, text: text.value};
    if (targetSel.value) body.connection_id = targetSel.value;
    send.disabled = true;
    try {
      const r = await api.send('POST', 'ws/send', body);
      result.className = 'muted';
      result.textContent = `sent to ${r.sent} client${r.sent === 1 ? '' : 's'}`;
    } catch (e) {
      result.className = 'error';
      result.textContent = e.message;
    } finally {
      send.disabled = false;
    }
  });
  render();
  return every(REFRESH_MS, async () => {
    const data = await api.get('ws/connections');
    conns = data.connections || [];
    render();
  }, ctx);
}
