// as-greeter: a mockforge response plugin in AssemblyScript.
//
// generate_response reads the request from the plugin input and answers
//   {"greeting": "<config.greeting>, <name>!", "method": ..., "path": ..., "route": ..., "body_chars": n}
// where <name> is the `name` query parameter, else the `name` path parameter, else the
// `x-user` header, else "world". ABI: docs/PLUGINS.md (exports memory, alloc, and entry
// points (ptr, len) -> i64 = (out_ptr << 32) | out_len of UTF-8 JSON).
//
// Built with `--runtime stub` (a bump allocator, nothing freed): mockforge runs every call in a
// fresh instance, so memory is reclaimed when the call ends.

export function alloc(len: i32): i32 {
  return <i32>heap.alloc(<usize>len);
}

export function generate_response(ptr: i32, len: i32): i64 {
  const input = String.UTF8.decodeUnsafe(<usize>ptr, <usize>len);
  const root = skipWs(input, 0);
  const request = findKey(input, root, "request");
  const config = findKey(input, root, "config");

  let greeting = "Hello";
  if (config >= 0) {
    const g = findKey(input, config, "greeting");
    if (g >= 0 && input.charCodeAt(g) == 0x22) greeting = readString(input, g);
  }
  let method = "";
  let path = "";
  let route = "null";
  let bodyChars = 0;
  let name = "world";
  if (request >= 0) {
    method = stringAt(input, findKey(input, request, "method"));
    path = stringAt(input, findKey(input, request, "path"));
    const r = findKey(input, request, "route");
    if (r >= 0 && input.charCodeAt(r) == 0x22) route = quote(readString(input, r));
    bodyChars = stringAt(input, findKey(input, request, "body")).length;
    const header = stringAt(input, findKeyIn(input, request, "headers", "x-user"));
    if (header.length > 0) name = header;
    const param = stringAt(input, findKeyIn(input, request, "path_params", "name"));
    if (param.length > 0) name = param;
    const query = findKeyIn(input, request, "query", "name");
    if (query >= 0 && input.charCodeAt(query) == 0x5b) {
      const first = skipWs(input, query + 1);
      if (input.charCodeAt(first) == 0x22) name = readString(input, first);
    }
  }

  const out =
    '{"status":200,"headers":{"content-type":"application/json","x-plugin":"as-greeter"},' +
    '"body":{"greeting":' + quote(greeting + ", " + name + "!") +
    ',"method":' + quote(method) +
    ',"path":' + quote(path) +
    ',"route":' + route +
    ',"body_chars":' + bodyChars.toString() + "}}";
  const buf = String.UTF8.encode(out);
  const outPtr = changetype<usize>(buf);
  return (<i64>outPtr << 32) | <i64>buf.byteLength;
}

// ---- a small JSON reader: enough to look values up by key, no tree is built ----

function skipWs(s: string, i: i32): i32 {
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c != 0x20 && c != 0x0a && c != 0x0d && c != 0x09) break;
    i++;
  }
  return i;
}

// Index just after the JSON value starting at i.
function skipValue(s: string, i: i32): i32 {
  i = skipWs(s, i);
  const c = s.charCodeAt(i);
  if (c == 0x22) return skipString(s, i);
  if (c == 0x7b || c == 0x5b) {
    let depth = 0;
    while (i < s.length) {
      const d = s.charCodeAt(i);
      if (d == 0x22) { i = skipString(s, i); continue; }
      if (d == 0x7b || d == 0x5b) depth++;
      else if (d == 0x7d || d == 0x5d) { depth--; if (depth == 0) return i + 1; }
      i++;
    }
    return i;
  }
  while (i < s.length) {
    const d = s.charCodeAt(i);
    if (d == 0x2c || d == 0x7d || d == 0x5d || d == 0x20 || d == 0x0a) break;
    i++;
  }
  return i;
}

function skipString(s: string, i: i32): i32 {
  i++;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c == 0x5c) { i += 2; continue; }
    if (c == 0x22) return i + 1;
    i++;
  }
  return i;
}

// Index of the value of `key` in the object starting at obj, or -1.
function findKey(s: string, obj: i32, key: string): i32 {
  if (obj < 0) return -1;
  let i = skipWs(s, obj);
  if (s.charCodeAt(i) != 0x7b) return -1;
  i = skipWs(s, i + 1);
  while (i < s.length && s.charCodeAt(i) == 0x22) {
    const k = readString(s, i);
    i = skipWs(s, skipString(s, i));
    if (s.charCodeAt(i) != 0x3a) return -1;
    i = skipWs(s, i + 1);
    if (k == key) return i;
    i = skipWs(s, skipValue(s, i));
    if (s.charCodeAt(i) != 0x2c) return -1;
    i = skipWs(s, i + 1);
  }
  return -1;
}

function findKeyIn(s: string, obj: i32, outer: string, key: string): i32 {
  return findKey(s, findKey(s, obj, outer), key);
}

function stringAt(s: string, i: i32): string {
  if (i < 0 || s.charCodeAt(i) != 0x22) return "";
  return readString(s, i);
}

function readString(s: string, i: i32): string {
  let out = "";
  let start = i + 1;
  let j = start;
  while (j < s.length) {
    const c = s.charCodeAt(j);
    if (c == 0x22) break;
    if (c == 0x5c) {
      out += s.substring(start, j);
      const e = s.charCodeAt(j + 1);
      if (e == 0x6e) out += "\n";
      else if (e == 0x74) out += "\t";
      else if (e == 0x72) out += "\r";
      else if (e == 0x62) out += "\b";
      else if (e == 0x66) out += "\f";
      else if (e == 0x75) {
        out += String.fromCharCode(<i32>parseInt(s.substring(j + 2, j + 6), 16));
        j += 4;
      } else out += String.fromCharCode(e);
      j += 2;
      start = j;
      continue;
    }
    j++;
  }
  return out + s.substring(start, j);
}

function quote(v: string): string {
  let out = '"';
  let start = 0;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    let esc = "";
    if (c == 0x22) esc = '\\"';
    else if (c == 0x5c) esc = "\\\\";
    else if (c == 0x0a) esc = "\\n";
    else if (c == 0x0d) esc = "\\r";
    else if (c == 0x09) esc = "\\t";
    else if (c < 0x20) esc = "\\u" + c.toString(16).padStart(4, "0");
    else continue;
    out += v.substring(start, i) + esc;
    start = i + 1;
  }
  return out + v.substring(start) + '"';
}
