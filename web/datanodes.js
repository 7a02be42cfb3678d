/**
 * DataNodes (`GET /api/v1/datanodes`): totals, a storage heatmap (one cell a volume, grouped
 * by node, coloured by its use; dead nodes grey, failed volumes outlined; a node whose volumes
 * are not known yet, before its first heartbeat, gets one cell for its totals) and a virtual
 * table of every node (table.js), sortable and filterable, that stays quick at 1,000 nodes.
 */
import { get } from './api.js';
import { bytes, duration, fields, h, heatColor, percent, setValue } from './dom.js';
import { VirtualTable } from './table.js';

const COLUMNS = [
  { key: 'address', label: 'Address', text: (n) => n.address },
  { key: 'state', label: 'State', text: (n) => n.state },
  {
    key: 'capacity',
    label: 'Capacity',
    num: true,
    text: (n) => bytes(n.capacityBytes),
    value: (n) => n.capacityBytes,
  },
  { key: 'used', label: 'Used', num: true, text: (n) => bytes(n.usedBytes), value: (n) => n.usedBytes },
  {
    key: 'remaining',
    label: 'Remaining',
    num: true,
    text: (n) => bytes(n.remainingBytes),
    value: (n) => n.remainingBytes,
  },
  {
    key: 'usedPercent',
    label: 'Use',
    num: true,
    text: (n) => percent(n.usedPercent),
    value: (n) => n.usedPercent,
  },
  {
    key: 'blocks',
    label: 'Blocks',
    num: true,
    text: (n) => String(n.blockCount),
    value: (n) => n.blockCount,
  },
  {
    key: 'heartbeat',
    label: 'Last heartbeat',
    num: true,
    text: (n) => `${duration(n.lastHeartbeatAgoMs)} ago`,
    value: (n) => n.lastHeartbeatAgoMs,
  },
  {
    key: 'transfers',
    label: 'Transfers',
    num: true,
    text: (n) => String(n.activeTransfers),
    value: (n) => n.activeTransfers,
  },
  {
    key: 'failedVolumes',
    label: 'Failed vols',
    num: true,
    text: (n) => String(n.failedVolumes),
    value: (n) => n.failedVolumes,
  },
];

export function create(root) {
  const table = new VirtualTable(COLUMNS, { key: (n) => n.address, rowClass: (n) => `state-${n.state}` });
  const heatmap = h('div', { class: 'heatmap', 'data-field': 'heatmap' });
  const filter = h('input', {
    type: 'search',
    placeholder: 'filter (address, state...)',
    oninput: () => table.setFilter(filter.value),
  });
  const total = (label, field) =>
    h('span', { class: 'total' }, `${label} `, h('b', { 'data-field': field }, '–'));
  root.append(
    h('h1', {}, 'DataNodes'),
    h(
      'p',
      { class: 'totals' },
      total('live', 'live'),
      total('dead', 'dead'),
      total('decommissioning', 'decommissioning'),
      total('decommissioned', 'decommissioned'),
      total('capacity', 'capacityBytes'),
      total('used', 'usedBytes'),
      total('remaining', 'remainingBytes'),
    ),
    h(
      'section',
      { class: 'card wide' },
      h('h2', {}, 'Storage heatmap (use per node and volume)'),
      heatmap,
      h(
        'div',
        { class: 'legend' },
        h('span', { class: 'swatch lo' }),
        ' 0% ',
        h('span', { class: 'swatch hi' }),
        ' 100% ',
        h('span', { class: 'swatch dead' }),
        ' dead ',
        h('span', { class: 'swatch failed' }),
        ' failed volume',
      ),
    ),
    h('section', { class: 'card wide' }, h('div', { class: 'toolbar' }, filter), table.el),
  );
  const f = fields(root);
  /** address -> {group, cells: path -> cell}; pooled, restyled only when a look changed. */
  const groups = new Map();

  function paint(n, group, key, v) {
    let cell = group.cells.get(key);
    if (cell === undefined) {
      cell = h('div', { class: 'cell', 'data-node': n.address, 'data-volume': key });
      group.cells.set(key, cell);
      group.el.append(cell);
    }
    const pct = v.capacityBytes > 0 ? (100 * v.usedBytes) / v.capacityBytes : 0;
    const state = n.state === 'dead' ? 'dead' : v.failed ? 'failed' : n.state;
    const look = `${state}:${pct.toFixed(1)}`;
    if (cell.dataset.look === look) return;
    cell.dataset.look = look;
    cell.dataset.state = state;
    cell.style.background = state === 'dead' || state === 'failed' ? '' : heatColor(pct / 100);
    const what = key === '' ? '' : ` ${key}`;
    cell.title = `${n.address}${what} ${state} ${percent(pct)} of ${bytes(v.capacityBytes)}`;
  }

  return {
    async refresh() {
      const d = await get('datanodes');
      for (const k of ['live', 'dead', 'decommissioning', 'decommissioned']) setValue(f[k], d[k]);
      for (const k of ['capacityBytes', 'usedBytes', 'remainingBytes']) setValue(f[k], d[k], bytes(d[k]));
      table.setRows(d.nodes);
      const seen = new Set();
      for (const n of d.nodes) {
        seen.add(n.address);
        let group = groups.get(n.address);
        if (group === undefined) {
          group = { el: h('div', { class: 'group', 'data-node': n.address }), cells: new Map() };
          groups.set(n.address, group);
          heatmap.append(group.el);
        }
        // One cell a volume; the node's totals ('' key) until its first heartbeat names them.
        const volumes = n.volumes && n.volumes.length > 0 ? n.volumes : [{ ...n, path: '', failed: false }];
        const keys = new Set();
        for (const v of volumes) {
          keys.add(v.path);
          paint(n, group, v.path, v);
        }
        for (const [key, cell] of group.cells)
          if (!keys.has(key)) {
            cell.remove();
            group.cells.delete(key);
          }
      }
      for (const [address, group] of groups)
        if (!seen.has(address)) {
          group.el.remove();
          groups.delete(address);
        }
    },
  };
}
