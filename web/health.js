/**
 * Health (`GET /api/v1/health`): `dfs fsck`'s summary for the whole namespace and the files
 * with a block that is not healthy, with those blocks and their replicas, paged.
 */
import { get } from './api.js';
import { bytes, fields, h, setText, setValue, time } from './dom.js';

const PAGE = 100;
const SUMMARY = [
  ['status', 'Status'],
  ['files', 'Files'],
  ['directories', 'Directories'],
  ['openFiles', 'Open files'],
  ['totalBytes', 'Total size'],
  ['blocks', 'Blocks'],
  ['healthyBlocks', 'Healthy'],
  ['underReplicatedBlocks', 'Under-replicated'],
  ['overReplicatedBlocks', 'Over-replicated'],
  ['corruptBlocks', 'Corrupt'],
  ['missingBlocks', 'Missing'],
  ['underConstructionBlocks', 'Under construction'],
];

export function create(root) {
  let offset = 0;
  let last = '';
  const rows = h('tbody', { 'data-field': 'problems' });
  const info = h('span', { class: 'muted', 'data-field': 'problemInfo' });
  const prev = h('button', { type: 'button', onclick: () => move(-PAGE) }, '‹ Prev');
  const next = h('button', { type: 'button', onclick: () => move(PAGE) }, 'Next ›');
  root.append(
    h('h1', {}, 'Health'),
    h(
      'section',
      { class: 'card wide' },
      h('h2', {}, 'Summary of / ', h('span', { class: 'muted', 'data-field': 'computedAt' })),
      h(
        'div',
        { class: 'stats' },
        ...SUMMARY.map(([k, label]) =>
          h(
            'div',
            { class: 'stat' },
            h('div', { class: 'label' }, label),
            h('div', { class: 'value', 'data-field': k }, '–'),
          ),
        ),
      ),
    ),
    h(
      'section',
      { class: 'card wide' },
      h('h2', {}, 'Problem blocks'),
      h('div', { class: 'toolbar' }, prev, info, next),
      h(
        'table',
        { class: 'blocks' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ...['File', 'Block', 'Offset', 'Health', 'Live', 'Replicas'].map((t) => h('th', {}, t)),
          ),
        ),
        rows,
      ),
    ),
  );
  const f = fields(root);
  let refreshView = async () => {};

  function move(delta) {
    offset = Math.max(0, offset + delta);
    last = '';
    void refreshView();
  }

  refreshView = async () => {
    const r = await get('health', { offset, limit: PAGE });
    const s = r.summary;
    for (const [k] of SUMMARY) setValue(f[k], s[k], k === 'totalBytes' ? bytes(s[k]) : String(s[k]));
    f.status.classList.toggle('bad', s.status !== 'HEALTHY');
    setText(f.computedAt, `(as of ${time(r.computedAtMs)})`);
    const key = JSON.stringify(r.problemFiles);
    if (key === last) return;
    last = key;
    const trs = [];
    for (const file of r.problemFiles)
      for (const b of file.problemBlocks)
        trs.push(
          h(
            'tr',
            { 'data-block': b.block, class: `health-${b.health}` },
            h('td', {}, file.path),
            h('td', {}, b.block),
            h('td', { class: 'num' }, String(b.offset)),
            h('td', {}, b.health),
            h('td', { class: 'num' }, `${b.liveReplicas}/${file.replication}`),
            h('td', {}, b.replicas.map((x) => `${x.address} (${x.state})`).join(', ') || 'none'),
          ),
        );
    rows.replaceChildren(
      ...(trs.length === 0
        ? [h('tr', {}, h('td', { colspan: 6, class: 'muted' }, 'no problem blocks'))]
        : trs),
    );
    setText(
      info,
      `files ${r.problemFiles.length === 0 ? 0 : offset + 1}–${offset + r.problemFiles.length} of ${r.problemFilesKept}${r.truncated ? '+' : ''}`,
    );
    prev.disabled = offset === 0;
    next.disabled = !r.hasMore;
  };
  return { refresh: () => refreshView() };
}
