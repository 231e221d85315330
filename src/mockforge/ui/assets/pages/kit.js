// Helpers shared by the Overview, Spec, Fixtures, WebSocket, gRPC and Plugins pages: their
// stylesheet (a <link> to pages.css, loaded once: the CSP allows 'self' stylesheets, never inline
// ones), the "not configured" notice for a feature whose admin endpoint answers 404, and small
// tables. Every value goes through dom.h, so it is a text node.

let styled = false;

/** Load pages.css once (the shell's app.css has the common look; this adds charts and cards). */
export function useStyles(dom) {
  if (styled) return;
  styled = true;
  document.head.appendChild(dom.h('link', {rel: 'stylesheet', href: '/__mockforge/ui/assets/pages/pages.css'}));
}

/** Whether an optional service runs (server-info's features: websocket, grpc, plugins,
 * fixtures, state, drift, spec); asked first so the page never probes an endpoint into a 404. */
export async function hasFeature(api, name) {
  const info = await api.get('server-info');
  return Boolean(info && info.features && info.features[name]);
}

export function notice(dom, text, test) {
  return dom.h('p', {class: 'notice', 'data-test': test || 'not-configured'}, text);
}

/** A table: headers, then rows of cells (strings or nodes); rowAttrs(i) gives each <tr>'s attrs. */
export function table(dom, heads, rows, rowAttrs) {
  const {h} = dom;
  return h('table', null,
    h('thead', null, h('tr', null, heads.map((x) => h('th', null, x)))),
    h('tbody', null, rows.map((cells, i) => h('tr', rowAttrs ? rowAttrs(i) : null,
      cells.map((c) => (c instanceof Node && c.tagName === 'TD' ? c : h('td', null, c)))))));
}

/** Headers as a definition list ([[name, value], ...] or {name: value}). */
export function headerList(dom, headers, test) {
  const {h, headerValue} = dom;
  const pairs = Array.isArray(headers) ? headers : Object.entries(headers || {});
  if (!pairs.length) return h('p', {class: 'muted'}, '(no headers)');
  return h('dl', {class: 'kv', 'data-test': test || 'headers'}, pairs.map(([k, v]) => [h('dt', null, k),
    h('dd', null, headerValue(v))]));
}

/** The content-type of a header list. */
export function contentType(headers) {
  const pairs = Array.isArray(headers) ? headers : Object.entries(headers || {});
  const hit = pairs.find(([k]) => String(k).toLowerCase() === 'content-type');
  return hit ? hit[1] : '';
}

/** Call fn every ms until the returned stop() is called; errors go to the status line. */
export function every(ms, fn, ctx) {
  let timer = null;
  let stopped = false;
  const loop = async () => {
    try {
      await fn();
    } catch (e) {
      if (e.status !== 401) ctx.setStatus(e.message, 'error');
    }
    if (!stopped) timer = setTimeout(loop, ms);
  };
  timer = setTimeout(loop, ms);
  return () => { stopped = true; clearTimeout(timer); };
}

/** A body given as base64 (bytes that are not UTF-8) as a hex dump <pre> of the real bytes. */
export function base64Body(dom, b64) {
  let bytes;
  try {
    bytes = Uint8Array.from(atob(b64 || ''), (c) => c.charCodeAt(0));
  } catch {
    return dom.h('pre', {class: 'body text', 'data-kind': 'text'}, '(not valid base64)');
  }
  const lines = [];
  for (let off = 0; off < bytes.length; off += 16) {
    const row = bytes.subarray(off, off + 16);
    const hex = Array.from(row, (b) => b.toString(16).padStart(2, '0')).join(' ');
    const ascii = Array.from(row, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    lines.push(`${off.toString(16).padStart(8, '0')}  ${hex.padEnd(47)}  ${ascii}`);
  }
  return dom.h('pre', {class: 'body hex', 'data-kind': 'hex'}, lines.join('\n') || '(empty)');
}
