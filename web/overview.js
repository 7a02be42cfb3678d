/**
 * Overview: the cluster at a glance (`GET /api/v1/overview`): identity, safe mode,
 * DataNodes by state, capacity, namespace size, block health counts, the edit log, and the
 * NameNode's recent notable events (rebuilt only when a new one arrives).
 */
import { get } from './api.js';
import { bytes, duration, fields, h, percent, setText, setValue, time } from './dom.js';

function stat(label, field, cls = '') {
  return h(
    'div',
    { class: `stat ${cls}` },
    h('div', { class: 'label' }, label),
    h('div', { class: 'value', 'data-field': field }, '–'),
  );
}

function card(title, ...stats) {
  return h('section', { class: 'card' }, h('h2', {}, title), h('div', { class: 'stats' }, ...stats));
}

export function create(root) {
  const events = h('ol', { class: 'events', 'data-field': 'events' });
  root.append(
    h('h1', {}, 'Overview'),
    h(
      'div',
      { class: 'cards' },
      card(
        'Cluster',
        stat('Cluster id', 'clusterId'),
        stat('Version', 'version'),
        stat('Uptime', 'uptime'),
        stat('Safe mode', 'safeMode'),
      ),
      card(
        'DataNodes',
        stat('Live', 'live'),
        stat('Dead', 'dead', 'bad-if'),
        stat('Decommissioning', 'decommissioning'),
        stat('Decommissioned', 'decommissioned'),
        stat('Failed volumes', 'failedVolumes', 'bad-if'),
      ),
      card(
        'Capacity',
        stat('Configured', 'capacityBytes'),
        stat('Used', 'usedBytes'),
        stat('Remaining', 'remainingBytes'),
        stat('Used %', 'usedPercent'),
      ),
      card('Namespace', stat('Files', 'files'), stat('Directories', 'directories'), stat('Blocks', 'blocks')),
      card(
        'Blocks',
        stat('Under-replicated', 'underReplicated', 'bad-if'),
        stat('Corrupt', 'corrupt', 'bad-if'),
        stat('Missing', 'missing', 'bad-if'),
        stat('Copies pending', 'pendingCopies'),
      ),
      card(
        'Journal',
        stat('Last txid', 'lastTxid'),
        stat('Txns since checkpoint', 'txnsSinceCheckpoint'),
        stat('Last checkpoint', 'lastCheckpoint'),
      ),
    ),
    h('section', { class: 'card wide' }, h('h2', {}, 'Recent events'), events),
  );
  const f = fields(root);
  let lastSeq = -1;
  return {
    async refresh() {
      const o = await get('overview');
      setText(f.clusterId, o.clusterId);
      setText(f.version, o.version);
      setValue(f.uptime, o.uptimeMs, duration(o.uptimeMs));
      setValue(f.safeMode, o.safeMode.on ? 'on' : 'off', o.safeMode.on ? `ON: ${o.safeMode.status}` : 'off');
      f.safeMode.classList.toggle('bad', o.safeMode.on);
      for (const k of [
        'live',
        'dead',
        'decommissioning',
        'decommissioned',
        'failedVolumes',
        'files',
        'directories',
        'blocks',
        'underReplicated',
        'corrupt',
        'missing',
        'pendingCopies',
        'lastTxid',
        'txnsSinceCheckpoint',
      ]) {
        setValue(f[k], o[k], o[k].toLocaleString('en-US'));
        if (f[k].parentElement.classList.contains('bad-if')) f[k].classList.toggle('bad', o[k] > 0);
      }
      for (const k of ['capacityBytes', 'usedBytes', 'remainingBytes']) setValue(f[k], o[k], bytes(o[k]));
      setValue(f.usedPercent, o.usedPercent, percent(o.usedPercent));
      setValue(f.lastCheckpoint, o.lastCheckpointMs, time(o.lastCheckpointMs));
      const top = o.events.length > 0 ? o.events[0].seq : 0;
      if (top !== lastSeq) {
        lastSeq = top;
        events.replaceChildren(
          ...(o.events.length === 0
            ? [h('li', { class: 'muted' }, 'nothing notable since the NameNode started')]
            : o.events.map((e) =>
                h(
                  'li',
                  { 'data-kind': e.kind },
                  h('time', {}, time(e.atMs)),
                  ' ',
                  h('span', { class: 'kind' }, e.kind),
                  ' ',
                  e.message,
                ),
              )),
        );
      }
    },
  };
}
