// gRPC: the services and methods from the protos (GET /__mockforge/grpc/services: types,
// streaming kind, how many stubs each method has), then the gRPC stubs (GET grpc/stubs).

import {hasFeature, notice, table, useStyles} from './kit.js';

function kind(m) {
  if (m.client_streaming && m.server_streaming) return 'bidirectional stream';
  if (m.client_streaming) return 'client stream';
  if (m.server_streaming) return 'server stream';
  return 'unary';
}

export async function mount(root, ctx) {
  const {api, dom} = ctx;
  const {h} = dom;
  useStyles(dom);
  root.appendChild(h('h1', null, 'gRPC'));
  if (!(await hasFeature(api, 'grpc'))) {
    root.appendChild(notice(dom, 'gRPC is not configured (grpc.proto_dir or grpc.descriptor_sets).'));
    return null;
  }
  const data = await api.get('grpc/services');
  const stubs = (await api.get('grpc/stubs')).stubs || [];
  const services = data.services || [];
  root.appendChild(h('p', {class: 'muted', 'data-test': 'grpc-summary'},
    `${services.length} services on port ${data.port ?? '?'} · ${stubs.length} stub${stubs.length === 1 ? '' : 's'}`));
  for (const svc of services) {
    root.appendChild(h('section', {class: 'service card', 'data-test': 'grpc-service', 'data-name': svc.name},
      h('header', null, h('h2', null, h('span', {class: 'mono'}, svc.name)),
        svc.builtin ? h('span', {class: 'badge'}, 'built in') : null),
      svc.methods.length
        ? table(dom, ['method', 'request', 'response', 'kind', 'stubs', 'calls'], svc.methods.map((m) => [
          h('td', {class: 'mono'}, m.name), h('td', {class: 'mono'}, m.input_type), h('td', {class: 'mono'}, m.output_type),
          kind(m), String(m.stubs), String(m.calls ?? 0)]), (i) => ({'data-test': 'grpc-method', 'data-path': svc.methods[i].path}))
        : h('p', {class: 'muted small'}, 'served by mockforge itself')));
  }
  root.appendChild(h('h2', null, 'Stubs'));
  root.appendChild(stubs.length
    ? table(dom, ['id', 'method', 'definition'], stubs.map((s) => [
      h('td', {class: 'mono'}, s.id || ''), h('td', {class: 'mono'}, `${s.service || ''}/${s.method || ''}`),
      h('td', null, h('pre', {class: 'body json'}, JSON.stringify(s, null, 2)))]), () => ({'data-test': 'grpc-stub'}))
    : h('p', {class: 'muted', 'data-test': 'grpc-no-stubs'},
      'No gRPC stubs: every method answers a message generated from its descriptor.'));
  return null;
}
