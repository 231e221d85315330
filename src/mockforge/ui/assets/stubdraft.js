// Turning a logged request into a stub definition for the stub editor ("Create stub from this
// request"): matchers for what identifies the request, and a response, either the one that was
// expected (the closest stub's) or a clearly marked template the user edits before saving.

const SKIP_HEADERS = new Set(['host', 'user-agent', 'accept', 'accept-encoding', 'accept-language',
  'connection', 'content-length', 'cache-control', 'pragma', 'origin', 'referer', 'cookie',
  'authorization', 'proxy-authorization', 'te', 'upgrade', 'keep-alive', 'traceparent', 'tracestate',
  'transfer-encoding', 'priority', 'dnt']);

/** The headers worth matching on: the request's own (x-*, content-type with a body, api
 * versions...), never browser or transport noise, never a redacted value. */
export function relevantHeaders(headers, hasBody) {
  const out = {};
  for (const [name, value] of Object.entries(headers || {})) {
    const lower = name.toLowerCase();
    if (value === '<redacted>' || SKIP_HEADERS.has(lower) || lower.startsWith('sec-')
        || lower.startsWith('x-forwarded-') || lower.startsWith('x-real-ip')) continue;
    if (lower === 'content-type') {
      if (hasBody) out[lower] = {contains: String(value).split(';')[0].trim()};
      continue;
    }
    out[lower] = String(value);
  }
  return out;
}

function jsonBody(entry) {
  const text = entry.body_excerpt || '';
  if (!text || entry.body_truncated) return undefined;
  const type = String((entry.headers || {})['content-type'] || '');
  if (!/json/i.test(type) && !/^\s*[[{]/.test(text)) return undefined;
  try { return JSON.parse(text); } catch { return undefined; }
}

/** A stub definition for the request of a log entry (or an /unmatched summary). With
 * `expected` (a stub's response definition) the response is that one; otherwise a 200 JSON
 * template that says it is one. Returns {stub, notes}: notes say what the draft could not keep. */
export function stubFromRequest(entry, expected) {
  const notes = [];
  const request = {method: entry.method || 'GET', path: entry.path || '/'};
  const query = {};
  for (const [name, values] of Object.entries(entry.query || {})) {
    const list = Array.isArray(values) ? values : [values];
    if (list.length) query[name] = String(list[0]);
  }
  if (Object.keys(query).length) request.query = query;
  const hasBody = Boolean(entry.body_excerpt);
  const headers = relevantHeaders(entry.headers, hasBody);
  if (Object.keys(headers).length) request.headers = headers;
  const body = jsonBody(entry);
  if (body !== undefined) request.body = {equals_json: body};
  else if (hasBody && entry.body_truncated) notes.push('The request body was cut by the request log (core.max_logged_body_bytes), so the draft does not match on it.');
  else if (hasBody) request.body = {equals: entry.body_excerpt};
  let response;
  if (expected) {
    response = JSON.parse(JSON.stringify(expected));
    notes.push('The response is the closest stub\'s; check it before saving.');
  } else {
    response = {status: 200, headers: {'content-type': 'application/json'},
      body: {TEMPLATE: 'replace this body with the answer this stub should give'}};
    notes.push('The response is a template: replace its body before saving.');
  }
  return {stub: {request, response}, notes, template: !expected};
}

/** What answered a log entry, as one of the Traffic filter's sources. */
export function sourceKind(matched, status) {
  const m = String(matched || '');
  if (m.startsWith('stub:')) return 'stub';
  if (m.startsWith('fixture:')) return 'fixture';
  if (m.startsWith('record:') || m === 'proxy') return 'proxy';
  if (m.startsWith('state')) return 'state';
  if (m === 'spec') return 'spec';
  if (m.startsWith('plugin:')) return 'plugin';
  if (status === 404 && (m === 'mockforge' || m === '')) return 'unmatched';
  return m || 'other';
}
