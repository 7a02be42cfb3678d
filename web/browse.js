/**
 * Browse: one directory page at a time (`GET /api/v1/list`, PAGE entries, Prev/Next by the
 * `startAfter` cursor, so a directory of 100,000 entries costs one page), a file's details
 * with its blocks and their replicas (`GET /api/v1/file`), download (a plain link to
 * `/api/v1/content`), upload from the browser (`PUT /api/v1/content`, several files, with
 * progress), new folder, rename and delete. The URL's hash holds the place
 * (#/browse?path=/dir&after=name&file=/dir/f), so back and forward work and a page reloads
 * where it was. A refresh redraws the listing only when it changed.
 */
import { change, contentUrl, get, join, parentOf, upload } from './api.js';
import { bytes, fields, h, setText, time } from './dom.js';

const PAGE = 200;

function hashOf(path, after, file) {
  const q = new URLSearchParams({ path });
  if (after) q.set('after', after);
  if (file) q.set('file', file);
  return `#/browse?${q.toString()}`;
}

export function create(root, params, ctx) {
  let path = '/';
  let after = '';
  let file = '';
  /** startAfter cursors of the pages before this one (Prev). */
  let history = [];
  let lastListing = '';
  let lastDetails = '';
  let next = null;

  const crumbs = h('nav', { class: 'crumbs', 'data-field': 'crumbs' });
  const rows = h('tbody', { 'data-field': 'entries' });
  const pageInfo = h('span', { class: 'muted', 'data-field': 'pageInfo' });
  const prev = h(
    'button',
    { type: 'button', 'data-action': 'prev', onclick: () => go(history.at(-1) ?? '', true) },
    '‹ Prev',
  );
  const nextBtn = h(
    'button',
    { type: 'button', 'data-action': 'next', onclick: () => next !== null && go(next, false) },
    'Next ›',
  );
  const picker = h('input', {
    type: 'file',
    multiple: true,
    class: 'hidden',
    'data-field': 'uploadInput',
    onchange: () => uploadFiles(),
  });
  const uploadStatus = h('span', { class: 'muted', 'data-field': 'uploadStatus' });
  const details = h('section', { class: 'card wide details hidden', 'data-field': 'details' });
  root.append(
    h('h1', {}, 'Browse'),
    crumbs,
    h(
      'div',
      { class: 'toolbar' },
      h(
        'button',
        { type: 'button', 'data-action': 'up', onclick: () => ctx.go(hashOf(parentOf(path))) },
        '↑ Up',
      ),
      h('button', { type: 'button', 'data-action': 'mkdir', onclick: () => mkdir() }, 'New folder'),
      h('button', { type: 'button', 'data-action': 'upload', onclick: () => picker.click() }, 'Upload…'),
      picker,
      uploadStatus,
      h('span', { class: 'spacer' }),
      prev,
      pageInfo,
      nextBtn,
    ),
    h(
      'table',
      { class: 'listing' },
      h(
        'thead',
        {},
        h('tr', {}, ...['Name', 'Size', 'Replication', 'Blocks', 'Modified', ''].map((t) => h('th', {}, t))),
      ),
      rows,
    ),
    details,
  );
  fields(root);

  function go(cursor, back) {
    if (back) history = history.slice(0, -1);
    else history = [...history, after];
    ctx.go(hashOf(path, cursor, file));
  }

  async function act(what, fn) {
    try {
      await fn();
      ctx.clearNotice();
    } catch (err) {
      ctx.error(Object.assign(err, { message: `${what}: ${err.message}` }));
    }
    lastListing = '';
    await ctx.refreshNow();
  }

  function mkdir() {
    const name = prompt(`New folder in ${path}:`);
    if (name) void act('new folder', () => change('POST', 'mkdir', { path: join(path, name) }));
  }

  function rename(full) {
    const to = prompt(`Rename ${full} to:`, full);
    if (to && to !== full) void act('rename', () => change('POST', 'rename', { path: full, to }));
  }

  function remove(full, isDir) {
    if (!confirm(`Delete ${full}${isDir ? ' and everything in it' : ''}?`)) return;
    void act('delete', () => change('DELETE', 'file', { path: full, recursive: isDir ? 'true' : undefined }));
  }

  async function uploadFiles() {
    const files = [...picker.files];
    picker.value = '';
    for (const f of files) {
      const target = join(path, f.name);
      await act(`upload ${f.name}`, async () => {
        setText(uploadStatus, `uploading ${f.name}…`);
        await upload(target, f, false, (done, total) =>
          setText(
            uploadStatus,
            `uploading ${f.name}: ${total > 0 ? Math.floor((done / total) * 100) : 100}%`,
          ),
        );
        setText(uploadStatus, `uploaded ${f.name} (${bytes(f.size)})`);
      });
    }
  }

  function entryRow(e) {
    const full = join(path, e.name);
    const isDir = e.type === 'directory';
    const link = isDir
      ? h('a', { href: hashOf(full), 'data-dir': e.name }, `${e.name}/`)
      : h('a', { href: hashOf(path, after, full), 'data-file': e.name }, e.name);
    return h(
      'tr',
      { 'data-name': e.name, 'data-type': e.type },
      h('td', {}, link, e.underConstruction ? h('span', { class: 'tag' }, 'open') : null),
      h(
        'td',
        { class: 'num', 'data-col': 'length', 'data-value': e.length },
        isDir ? `${e.childCount} entries` : bytes(e.length),
      ),
      h('td', { class: 'num' }, isDir ? '' : String(e.replication)),
      h('td', { class: 'num' }, isDir ? '' : String(e.blockCount)),
      h('td', {}, time(e.mtimeMs)),
      h(
        'td',
        { class: 'actions' },
        isDir
          ? null
          : h('a', { href: contentUrl(full), download: e.name, 'data-action': 'download' }, 'download'),
        h('button', { type: 'button', 'data-action': 'rename', onclick: () => rename(full) }, 'rename'),
        h(
          'button',
          { type: 'button', 'data-action': 'delete', onclick: () => remove(full, isDir) },
          'delete',
        ),
      ),
    );
  }

  function renderCrumbs() {
    const parts = path === '/' ? [] : path.slice(1).split('/');
    const items = [h('a', { href: hashOf('/') }, '/')];
    let at = '';
    for (const p of parts) {
      at = `${at}/${p}`;
      items.push(h('a', { href: hashOf(at) }, p), '/');
    }
    crumbs.replaceChildren(...items);
    crumbs.dataset.path = path;
  }

  function renderDetails(d) {
    const s = d.status;
    const blockRows = d.blocks.map((b) =>
      h(
        'tr',
        { 'data-block': b.block, class: `health-${b.health}` },
        h('td', {}, b.block),
        h('td', { class: 'num' }, String(b.offset)),
        h('td', { class: 'num' }, bytes(b.numBytes)),
        h('td', { class: 'num' }, String(b.genStamp)),
        h('td', {}, b.health),
        h('td', { class: 'num', 'data-col': 'liveReplicas' }, `${b.liveReplicas}/${s.replication}`),
        h('td', { 'data-col': 'replicas' }, b.replicas.map((r) => `${r.address} (${r.state})`).join(', ')),
      ),
    );
    details.replaceChildren(
      h(
        'h2',
        { class: 'path-title' },
        d.path,
        ' ',
        h(
          'a',
          {
            href: contentUrl(d.path),
            download: d.path.slice(d.path.lastIndexOf('/') + 1),
            'data-action': 'download-details',
          },
          'download',
        ),
      ),
      h(
        'p',
        { class: 'muted' },
        `${bytes(s.length)} · replication ${s.replication} · block size ${bytes(s.blockBytes)} · ${s.blockCount} blocks · modified ${time(s.mtimeMs)}${s.underConstruction ? ' · open for writing' : ''}`,
      ),
      h(
        'table',
        { class: 'blocks', 'data-field': 'blocks' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ...['Block', 'Offset', 'Length', 'Gen stamp', 'Health', 'Live', 'Replicas'].map((t) =>
              h('th', {}, t),
            ),
          ),
        ),
        h('tbody', {}, ...blockRows),
      ),
      ...(d.hasMore
        ? [h('p', { class: 'muted' }, `first ${d.blocks.length} of ${s.blockCount} blocks shown`)]
        : []),
    );
    details.classList.remove('hidden');
  }

  function navigate(p) {
    const newPath = p.get('path') || '/';
    if (newPath !== path) history = [];
    path = newPath;
    after = p.get('after') || '';
    file = p.get('file') || '';
    if (after === '') history = [];
    lastListing = '';
    lastDetails = '';
    renderCrumbs();
    if (file === '') details.classList.add('hidden');
  }
  navigate(params);

  return {
    navigate,
    async refresh() {
      const [list, d] = await Promise.all([
        get('list', { path, startAfter: after, limit: PAGE }),
        file === '' ? null : get('file', { path: file, limit: 500 }),
      ]);
      const key = JSON.stringify(list);
      if (key !== lastListing) {
        lastListing = key;
        rows.replaceChildren(...list.entries.map(entryRow));
        next = list.startAfter;
        const first = history.length * PAGE;
        setText(
          pageInfo,
          list.entries.length === 0
            ? 'empty'
            : `entries ${first + 1}–${first + list.entries.length}${list.hasMore ? '+' : ''}`,
        );
        prev.disabled = after === '';
        nextBtn.disabled = !list.hasMore;
      }
      if (d !== null) {
        const dk = JSON.stringify(d);
        if (dk !== lastDetails) {
          lastDetails = dk;
          renderDetails(d);
        }
      }
    },
  };
}
