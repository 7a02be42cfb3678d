/**
 * The pure output functions of the cluster views (src/cli/admin-format.ts): node totals
 * shared by df and admin report, the report's lines and table, and fsck's verdicts, lines
 * and summary. No cluster needed.
 */
import { describe, expect, it } from 'vitest';
import {
  BlockHealthState as H,
  ReplicaState as R,
  type BlockHealth,
  type BlockHealthState,
  type DatanodeReportEntry,
  type DatanodeReportState,
  type ReplicaState,
} from '../../protocol/admin-namenode-messages.js';
import {
  countFile,
  drainLine,
  emptyFsckSummary,
  formatBlockReport,
  formatFsckBlock,
  formatFsckFile,
  formatFsckSummary,
  formatReport,
  fsckBlock,
  nodeTotals,
  reportNode,
  worstHealth,
  type ClusterReport,
} from '../../src/cli/admin-format.js';

const GiB = 1024 ** 3;
function entry(port: number, state: DatanodeReportState, usedBytes = GiB): DatanodeReportEntry {
  return {
    nodeId: `dn-${port}`,
    host: '10.0.0.1',
    port,
    state,
    capacityBytes: 10 * GiB,
    usedBytes,
    remainingBytes: 10 * GiB - usedBytes,
    failedVolumes: 0,
    blockCount: 7,
    activeTransfers: 1,
    lastHeartbeatAgoMs: 1250,
    // 2026-01-01T00:00:05Z, or never for the decommissioned one.
    lastBlockReportMs: state === 4 ? 0 : 1767225605000,
    lastBlockReportBlocks: state === 4 ? 0 : 7,
    drainBlocks: state === 3 ? 2 : 0,
    drainStuckBlocks: state === 3 ? 1 : 0,
  };
}
const block = (id: number, health: BlockHealthState, ...states: ReplicaState[]): BlockHealth => ({
  block: { blockId: id, genStamp: 1, numBytes: 100 },
  offset: (id - 1) * 100,
  health,
  replicas: states.map((state, i) => ({
    node: { nodeId: `dn-${i}`, host: '10.0.0.1', port: 9000 + i },
    state,
  })),
});

describe('nodeTotals', () => {
  it('counts nodes by state and adds up the space of those not dead', () => {
    const t = nodeTotals([entry(1, 1), entry(2, 2, 5 * GiB), entry(3, 3), entry(4, 4), entry(5, 1)]);
    expect(t).toMatchObject({
      live: 2,
      dead: 1,
      decommissioning: 1,
      decommissioned: 1,
      capacityBytes: 40 * GiB,
      usedBytes: 4 * GiB,
      remainingBytes: 36 * GiB,
      failedVolumes: 0,
    });
    expect(t.usedPercent).toBe(10);
    expect(nodeTotals([]).usedPercent).toBe(0);
  });
});

/** A report of `nodes` with no block trouble unless `counts` says otherwise. */
function clusterReport(nodes: DatanodeReportEntry[], counts: Partial<ClusterReport> = {}): ClusterReport {
  const quiet = { blocks: 0, underReplicated: 0, corrupt: 0, missing: 0, pendingCopies: 0 };
  const totals = { namenode: 'nn:8020', safeMode: false, ...nodeTotals(nodes), ...quiet };
  return { ...totals, corruptBlockIds: [], missingBlockIds: [], nodes: nodes.map(reportNode), ...counts };
}

describe('formatReport', () => {
  it('totals as key: value lines, then one aligned row per node', () => {
    const nodes = [entry(9866, 1), entry(9867, 4)];
    const trouble = { blocks: 12, underReplicated: 1, corrupt: 2, pendingCopies: 1, corruptBlockIds: [5, 6] };
    const lines = formatReport(clusterReport(nodes, trouble));
    expect(lines).toContain('dataNodes:       1 live, 0 dead, 0 decommissioning, 1 decommissioned');
    expect(lines).toContain('corrupt:         2 (blk_5, blk_6)');
    expect(lines).toContain('missing:         0');
    const table = lines.slice(lines.indexOf('') + 1);
    expect(table).toEqual([
      'NODE    ADDRESS       STATE          CAPACITY USED REMAINING  USE% BLOCKS XFERS FAILED VOLS LAST HEARTBEAT LAST BLOCK REPORT',
      'dn-9866 10.0.0.1:9866 live                10G 1.0G      9.0G 10.0%      7     1           0 1.3s ago       2026-01-01T00:00:05Z, 7 blocks',
      'dn-9867 10.0.0.1:9867 decommissioned      10G 1.0G      9.0G 10.0%      7     1           0 1.3s ago       never',
    ]);
  });

  it('a decommissioning node gets a line of its own: blocks left to copy, and those that cannot be placed', () => {
    const lines = formatReport(clusterReport([entry(9866, 1), entry(9868, 3)], { blocks: 2 }));
    expect(lines.slice(-2)).toEqual([
      '',
      'dn-9868 decommissioning: 2 blocks still to copy elsewhere; 1 cannot be placed (their files want more replicas than there are live in-service DataNodes: add DataNodes or lower their replication)',
    ]);
    expect(drainLine({ nodeId: 'dn-1', drainBlocks: 1, drainStuckBlocks: 0 })).toBe(
      'dn-1 decommissioning: 1 block still to copy elsewhere',
    );
  });

  it('a last block report: UTC time to the second and replicas listed, or never', () => {
    expect(formatBlockReport(0, 0)).toBe('never');
    expect(formatBlockReport(1767225605999, 1)).toBe('2026-01-01T00:00:05Z, 1 block');
    expect(formatBlockReport(1767225605000, 0)).toBe('2026-01-01T00:00:05Z, 0 blocks');
  });
});

describe('fsck output', () => {
  it('a file is as bad as its worst block; an open last block is no problem', () => {
    expect(
      worstHealth([block(1, H.HEALTHY), block(2, H.UNDER_REPLICATED), block(3, H.OVER_REPLICATED)]),
    ).toBe(H.UNDER_REPLICATED);
    expect(worstHealth([block(1, H.CORRUPT), block(2, H.MISSING)])).toBe(H.MISSING);
    expect(worstHealth([block(1, H.HEALTHY), block(2, H.UNDER_CONSTRUCTION)])).toBe(H.UNDER_CONSTRUCTION);
    expect(worstHealth([])).toBe(H.HEALTHY);
  });

  it('names blocks, counts live replicas and shows each replica with its state', () => {
    const b = fsckBlock(block(2, H.UNDER_REPLICATED, R.LIVE, R.CORRUPT, R.DECOMMISSIONING));
    expect(b).toMatchObject({
      block: 'blk_2',
      blockId: 2,
      offset: 100,
      health: 'under-replicated',
      liveReplicas: 1,
    });
    expect(formatFsckBlock(b, 3, true)).toBe(
      '  blk_2 offset 100 len 100 live 1/3 under-replicated [10.0.0.1:9000 live, 10.0.0.1:9001 corrupt, 10.0.0.1:9002 decommissioning]',
    );
    expect(formatFsckBlock(b, 3, false)).toBe('  blk_2 offset 100 len 100 live 1/3 under-replicated');
    expect(
      formatFsckFile({
        path: '/a',
        length: 2048,
        replication: 3,
        underConstruction: true,
        health: 'missing',
        blocks: [b, b],
      }),
    ).toBe('/a 2.0K, 2 blocks, replication 3, open for writing: missing');
  });

  it('the summary is CORRUPT once a block is corrupt or missing, not for replication shortfalls', () => {
    const s = emptyFsckSummary('/');
    countFile(s, 300, false, [
      block(1, H.HEALTHY),
      block(2, H.UNDER_REPLICATED),
      block(3, H.OVER_REPLICATED),
    ]);
    expect(s).toMatchObject({
      status: 'HEALTHY',
      files: 1,
      blocks: 3,
      totalBytes: 300,
      healthyBlocks: 1,
      underReplicatedBlocks: 1,
      overReplicatedBlocks: 1,
    });
    countFile(s, 100, true, [block(4, H.UNDER_CONSTRUCTION)]);
    expect(s).toMatchObject({ status: 'HEALTHY', files: 2, openFiles: 1, underConstructionBlocks: 1 });
    countFile(s, 100, false, [block(5, H.MISSING)]);
    expect(s).toMatchObject({ status: 'CORRUPT', missingBlocks: 1 });
    const text = formatFsckSummary(s);
    expect(text).toContain('files:             3 (1 open for writing)');
    expect(text[text.length - 1]).toBe("The filesystem under path '/' is CORRUPT");
  });
});
