/**
 * DataNodes (`GET /api/v1/datanodes`): totals, a storage heatmap (one cell a node, coloured
 * by its use; dead nodes grey; the NameNode learns node totals, not volumes) and a virtual
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
      h('h2', {}, 'Storage heatmap (use per node)'),
      heatmap,
      h(
        'div',
        { class: 'legend' },
        h('span', { class: 'swatch lo' }),
        ' 0% ',
        h('span', { class: 'swatch hi' }),
        ' 100% ',
        h('span', { class: 'swatch dead' }),
        ' dead',
      ),
    ),
    h('section', { class: 'card wide' }, h('div', { class: 'toolbar' }, filter), table.el),
  );
  const f = fields(root);
  const cells = new Map();
  return {
    async refresh() {
      const d = await get('datanodes');
      for (const k of ['live', 'dead', 'decommissioning', 'decommissioned']) setValue(f[k], d[k]);
      for (const k of ['capacityBytes', 'usedBytes', 'remainingBytes']) setValue(f[k], d[k], bytes(d[k]));
      table.setRows(d.nodes);
      // Heatmap: one pooled cell a node, restyled only when its use or state changed.
      const seen = new Set();
      for (const n of d.nodes) {
        seen.add(n.address);
        let cell = cells.get(n.address);
        if (cell === undefined) {
          cell = h('div', { class: 'cell', 'data-node': n.address });
          cells.set(n.address, cell);
          heatmap.append(cell);
        }
        const look = n.state === 'dead' ? 'dead' : `${n.state}:${n.usedPercent}`;
        if (cell.dataset.look !== look) {
          cell.dataset.look = look;
          cell.dataset.state = n.state;
          cell.style.background = n.state === 'dead' ? '' : heatColor(n.usedPercent / 100);
          cell.title = `${n.address} ${n.state} ${percent(n.usedPercent)} of ${bytes(n.capacityBytes)}`;
        }
      }
      for (const [address, cell] of cells)
        if (!seen.has(address)) {
          cell.remove();
          cells.delete(address);
        }
    },
  };
}
