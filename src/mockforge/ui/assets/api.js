// The admin API from the console: JSON in and out, the token from sessionStorage (never a
// cookie, never in a URL), ApiError on a non-2xx answer, and the live feed read with fetch()
// (EventSource cannot send the Authorization header).

const BASE = '/__mockforge/';
const TOKEN_KEY = 'mockforge.token';

export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.body = body;
    // server-side validation messages ({error: {details: [{location, message}]}})
    this.details = (body && body.error && Array.isArray(body.error.details)) ? body.error.details : [];
  }
}

let unauthorized = null;
/** Called with the ApiError of every 401 (the shell shows its login form). */
export function onUnauthorized(fn) { unauthorized = fn; }

export function token() { return sessionStorage.getItem(TOKEN_KEY); }
export function setToken(value) { sessionStorage.setItem(TOKEN_KEY, value); }
export function forgetToken() { sessionStorage.removeItem(TOKEN_KEY); }

function headers(contentType) {
  const out = {Accept: 'application/json'};
  if (contentType) out['Content-Type'] = contentType;
  const t = token();
  if (t) out.Authorization = `Bearer ${t}`;
  return out;
}

async function fail(resp) {
  const text = await resp.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch { body = null; }
  const message = (body && body.error && body.error.message) || `${resp.status} ${resp.statusText}`.trim();
  const err = new ApiError(resp.status, message, body);
  if (resp.status === 401 && unauthorized) unauthorized(err);
  return err;
}

async function call(method, path, body, contentType) {
  const init = {method, headers: headers(body === undefined ? null : contentType),
    cache: 'no-store', credentials: 'omit', redirect: 'error'};
  if (body !== undefined) init.body = body;
  let resp;
  try {
    resp = await fetch(BASE + path, init);
  } catch (e) {
    throw new ApiError(0, `mockforge did not answer (${e.message})`, null);
  }
  if (!resp.ok) throw await fail(resp);
  const text = await resp.text();
  if (!text) return null;
  try { return JSON.parse(text); } catch { return text; }
}

/** GET /__mockforge/<path> as JSON. */
export function get(path) { return call('GET', path); }

/** METHOD /__mockforge/<path> with a JSON body (none when body is undefined). */
export function send(method, path, body) {
  return call(method, path, body === undefined ? undefined : JSON.stringify(body), 'application/json');
}

/** METHOD /__mockforge/<path> with a text body as given (the stub editor's YAML or JSON). */
export function sendText(method, path, text, contentType) { return call(method, path, text, contentType); }

function parseEvent(block) {
  let event = 'message';
  let id = null;
  const data = [];
  for (const line of block.split('\n')) {
    if (!line || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
    else if (field === 'id') id = value;
  }
  if (!data.length) return null;
  const text = data.join('\n');
  let parsed = text;
  try { parsed = JSON.parse(text); } catch { /* a plain text event */ }
  return {event, id, data: parsed};
}

/** Follow the SSE stream at /__mockforge/<path>: onEvent({event, id, data}) per event.
 * Resolves when the stream ends (server stopped) or the signal aborts; throws ApiError. */
export async function stream(path, onEvent, signal) {
  let resp;
  try {
    resp = await fetch(BASE + path, {headers: {...headers(null), Accept: 'text/event-stream'},
      cache: 'no-store', credentials: 'omit', signal});
  } catch (e) {
    if (signal && signal.aborted) return;
    throw new ApiError(0, `mockforge did not answer (${e.message})`, null);
  }
  if (!resp.ok) throw await fail(resp);
  const reader = resp.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for (;;) {
      const {value, done} = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, {stream: true}).replace(/\r\n?/g, '\n');
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const ev = parseEvent(block);
        if (ev) onEvent(ev);
      }
    }
  } catch (e) {
    if (!(signal && signal.aborted)) throw new ApiError(0, `the live feed broke (${e.message})`, null);
  } finally {
    reader.releaseLock();
  }
}
