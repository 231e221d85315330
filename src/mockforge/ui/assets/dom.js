// Building the page safely: every value from traffic becomes a text node (textContent), never
// markup. The app never uses innerHTML, insertAdjacentHTML or outerHTML; h() is the one way to
// make elements, and it refuses attributes that could run code (on* strings, style, srcdoc) or
// leave the origin (href/src that are not "#..." or same-origin paths).

const SVG_NS = 'http://www.w3.org/2000/svg';
const URL_ATTRS = new Set(['href', 'src', 'action', 'formaction', 'xlink:href']);
const PROPS = new Set(['value', 'checked', 'disabled', 'selected', 'hidden', 'readOnly', 'open']);
const NAME_OK = /^[a-zA-Z][a-zA-Z0-9:_-]*$/;

/** "#..." or a same-origin absolute path ("/x", never "//host"); anything else becomes "#". */
export function safeUrl(value) {
  const s = String(value);
  if (s.startsWith('#')) return s;
  if (s.startsWith('/') && !s.startsWith('//') && !s.startsWith('/\\')) return s;
  return '#';
}

function setAttrs(el, attrs, svg) {
  if (!attrs) return;
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) {
      if (typeof value !== 'function') throw new Error(`h(): ${key} must be a function`);
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === 'class') {
      const cls = Array.isArray(value) ? value.filter(Boolean).join(' ') : String(value);
      if (svg) el.setAttribute('class', cls); else el.className = cls;
    } else if (key === 'style' || key === 'srcdoc' || !NAME_OK.test(key)) {
      throw new Error(`h(): attribute ${key} is not allowed (use classes or el.style.x)`);
    } else if (URL_ATTRS.has(key)) {
      el.setAttribute(key, safeUrl(value));
    } else if (PROPS.has(key) && !svg) {
      el[key] = key === 'value' ? String(value) : Boolean(value);
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
}

function appendChildren(el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) appendChildren(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

/** h('tr', {class: 'row', 'data-id': id, onclick: fn}, 'text', otherNode, [more]) */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs, false);
  appendChildren(el, children);
  return el;
}

/** The same for SVG elements (charts): svg('path', {d: 'M0 0L10 10', class: 'line'}). */
export function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs, true);
  appendChildren(el, children);
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

/** An ISO timestamp as local "HH:MM:SS.mmm" (the text itself when it does not parse). */
export function fmtTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const p = (n, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

export function fmtBytes(n) {
  const v = Number(n) || 0;
  if (v < 1024) return `${v} B`;
  if (v < 1024 * 1024) return `${(v / 1024).toFixed(1)} kB`;
  if (v < 1024 * 1024 * 1024) return `${(v / 1024 / 1024).toFixed(1)} MB`;
  return `${(v / 1024 / 1024 / 1024).toFixed(1)} GB`;
}

const BINARY_TYPES = /^(application\/(octet-stream|grpc|protobuf|x-protobuf|pdf|zip|gzip)|image\/(?!svg)|audio\/|video\/|font\/)/i;

function looksBinary(text) {
  // U+FFFD: bytes that were not UTF-8 when the log decoded them; C0 controls other than \t\r\n
  return /[\uFFFD\u0000-\u0008\u000E-\u001F]/.test(text);
}

/** A hex dump (16 bytes a line) of the UTF-8 bytes of ``text``. */
export function hexDump(text) {
  const bytes = new TextEncoder().encode(text);
  const lines = [];
  for (let off = 0; off < bytes.length; off += 16) {
    const row = bytes.subarray(off, off + 16);
    const hex = Array.from(row, (b) => b.toString(16).padStart(2, '0')).join(' ');
    const ascii = Array.from(row, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    lines.push(`${off.toString(16).padStart(8, '0')}  ${hex.padEnd(47)}  ${ascii}`);
  }
  return lines.join('\n');
}

/** A body for reading: pretty JSON, a hex dump for binary, the text otherwise; a <pre>. */
export function prettyBody(text, contentType) {
  const body = text == null ? '' : String(text);
  const type = String(contentType || '');
  if (!body) return h('pre', {class: 'body empty', 'data-kind': 'empty'}, '(empty)');
  if (BINARY_TYPES.test(type) || looksBinary(body)) {
    return h('pre', {class: 'body hex', 'data-kind': 'hex',
      title: 'bytes as the request log kept them (bytes that were not UTF-8 show as ef bf bd)'}, hexDump(body));
  }
  if (/json/i.test(type) || /^\s*[[{]/.test(body)) {
    try {
      return h('pre', {class: 'body json', 'data-kind': 'json'}, JSON.stringify(JSON.parse(body), null, 2));
    } catch { /* not JSON after all (or cut by the log's excerpt limit): shown as text */ }
  }
  return h('pre', {class: 'body text', 'data-kind': 'text'}, body);
}

/** A header value the log redacted ("<redacted>") as a marked element; other values as text. */
export function headerValue(value) {
  if (value === '<redacted>') return h('span', {class: 'redacted', title: 'redacted by the request log'}, 'redacted');
  return String(value);
}
