// The Fixtures page: an empty page in the shell until its owner fills it in (issue 19).
export async function mount(root, ctx) {
  const {h} = ctx.dom;
  root.appendChild(h('h1', null, 'Fixtures'));
  root.appendChild(h('p', {class: 'muted', 'data-test': 'page-pending'}, 'This page is not built in this version.'));
}
