// The console's shell: the nav bar, a hash router (#/<page>[/<rest>]), the login form and the
// status line. Each page is pages/<name>.js exporting `async function mount(root, ctx)`, which
// renders into root (a cleared <main>) and may return a function the shell calls on unmount.

import * as api from './api.js';
import * as dom from './dom.js';

const {h, clear} = dom;

export const PAGES = [
  ['overview', 'Overview'],
  ['traffic', 'Traffic'],
  ['misses', 'Misses'],
  ['stubs', 'Stubs'],
  ['spec', 'Spec'],
  ['fixtures', 'Fixtures'],
  ['ws', 'WebSocket'],
  ['grpc', 'gRPC'],
  ['plugins', 'Plugins'],
];
const NAMES = new Set(PAGES.map(([name]) => name));
const DEFAULT = 'overview';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const statusLine = document.getElementById('status');
const logout = document.getElementById('logout');

let unmount = null;
let generation = 0;
let stubPrefill = null;
let loginShown = false;

function parseHash() {
  const hash = location.hash.replace(/^#\/?/, '');
  let raw;
  try {
    raw = decodeURIComponent(hash);
  } catch {
    raw = hash;  // a malformed %-escape in a link: use it as typed rather than mount no page
  }
  const [name, ...rest] = raw.split('/');
  return {name: NAMES.has(name) ? name : DEFAULT, rest: rest.join('/')};
}

export function navigate(hash) {
  if (location.hash === hash) route(); else location.hash = hash;
}

export function setStatus(text, kind) {
  statusLine.textContent = text;
  statusLine.className = `status ${kind || ''}`.trim();
}

const ctx = {
  api,
  dom,
  navigate,
  setStatus,
  /** Open the stub editor (Stubs page) pre-filled with a stub definition object. */
  openStubEditor(prefill) {
    stubPrefill = prefill;
    navigate('#/stubs/new');
  },
  /** The stub editor's pre-fill, once (null when none is waiting). */
  takeStubPrefill() {
    const value = stubPrefill;
    stubPrefill = null;
    return value;
  },
  params: '',
};

function renderNav(current) {
  clear(nav);
  for (const [name, label] of PAGES) {
    nav.appendChild(h('a', {href: `#/${name}`, class: name === current ? 'active' : '', 'data-test': `nav-${name}`}, label));
  }
}

async function stopPage() {
  const fn = unmount;
  unmount = null;
  if (typeof fn === 'function') {
    try { fn(); } catch (e) { console.error('unmount failed', e); }
  }
}

async function route() {
  const my = ++generation;
  await stopPage();
  const {name, rest} = parseHash();
  renderNav(name);
  if (loginShown) return;
  clear(main);
  main.dataset.page = name;
  main.removeAttribute('data-ready');
  ctx.params = rest;
  let page;
  try {
    page = await import(`./pages/${name}.js`);
  } catch (e) {
    main.appendChild(h('p', {class: 'error', 'data-test': 'page-error'}, `The ${name} page failed to load: ${e.message}`));
    return;
  }
  if (my !== generation) return;
  try {
    const stop = await page.mount(main, ctx);
    if (my !== generation) {
      if (typeof stop === 'function') stop();
      return;
    }
    unmount = stop || null;
    main.dataset.ready = 'true';
  } catch (e) {
    if (e instanceof api.ApiError && e.status === 401) return; // the login form is up
    if (my !== generation) return;
    main.appendChild(h('p', {class: 'error', 'data-test': 'page-error'}, `The ${name} page failed: ${e.message}`));
  }
}

function showLogin(message) {
  if (loginShown) {
    const err = document.querySelector('[data-test="login-error"]');
    if (err && message) err.textContent = message;
    return;
  }
  loginShown = true;
  generation++;
  stopPage();
  clear(main);
  main.dataset.page = 'login';
  setStatus('token needed', 'warn');
  const input = h('input', {type: 'password', id: 'token', name: 'token', autocomplete: 'off',
    'data-test': 'login-token', placeholder: 'admin.token'});
  const error = h('p', {class: 'error', 'data-test': 'login-error', role: 'alert'}, message || '');
  const form = h('form', {class: 'login', 'data-test': 'login-form', onsubmit: async (ev) => {
    ev.preventDefault();
    const value = input.value.trim();
    if (!value) { error.textContent = 'Enter the admin token.'; return; }
    api.setToken(value);
    try {
      await api.get('server-info');
    } catch (e) {
      api.forgetToken();
      error.textContent = e.status === 401 ? 'That token was refused (401). Check admin.token.' : e.message;
      return;
    }
    loginShown = false;
    logout.hidden = false;
    await start();
  }},
  h('h1', null, 'mockforge console'),
  h('p', null, 'This server needs its admin token (admin.token). It is kept in this tab only (sessionStorage).'),
  h('label', {for: 'token'}, 'Admin token'), input,
  h('button', {type: 'submit', 'data-test': 'login-submit'}, 'Sign in'),
  error);
  main.appendChild(form);
  input.focus();
}

api.onUnauthorized((err) => {
  const hadToken = Boolean(api.token());
  api.forgetToken();
  showLogin(hadToken ? 'The stored token was refused; enter it again.' : '');
  return err;
});

async function start() {
  try {
    const info = await api.get('server-info');
    const version = (info && info.version) || '';
    setStatus(`connected · mockforge ${version}`.trim(), 'ok');
  } catch (e) {
    if (e.status === 401) return;
    setStatus(`not connected: ${e.message}`, 'error');
  }
  logout.hidden = !api.token();
  await route();
}

logout.addEventListener('click', () => {
  api.forgetToken();
  logout.hidden = true;
  showLogin('');
});
window.addEventListener('hashchange', () => { if (!loginShown) route(); });
start();
