/**
 * Block health as the NameNode judges it for `dfs fsck` (src/namenode/block-health.ts): the
 * verdict table, paging by block index with offsets carried across pages, and the replica
 * states the block manager reports for live, silent, decommissioning and corrupt holders.
 */
import { describe, expect, it } from 'vitest';
import {
  BlockHealthState as H,
  ReplicaState as R,
  type ReplicaHealth,
  type ReplicaState,
} from '../../protocol/admin-namenode-messages.js';
import { ManualClock } from '../../src/common/clock.js';
import { silentLogger } from '../../src/common/logger.js';
import { blockHealthOf, fileBlockHealth, type ReplicaView } from '../../src/namenode/block-health.js';
import { BlockManager } from '../../src/namenode/block-manager.js';
import { FileNode } from '../../src/namenode/inode.js';

const node = (i: number) => ({ nodeId: `dn-${i}`, host: '127.0.0.1', port: 9000 + i });
const replicas = (...states: ReplicaState[]): ReplicaHealth[] =>
  states.map((state, i) => ({ node: node(i), state }));

describe('blockHealthOf', () => {
  it('follows the verdict table', () => {
    expect(blockHealthOf(replicas(R.LIVE, R.LIVE, R.LIVE), 3, false)).toBe(H.HEALTHY);
    expect(blockHealthOf(replicas(R.LIVE, R.LIVE), 3, false)).toBe(H.UNDER_REPLICATED);
    expect(blockHealthOf(replicas(R.LIVE, R.LIVE, R.LIVE, R.LIVE), 3, false)).toBe(H.OVER_REPLICATED);
    // Readable but not counted: draining nodes keep a block readable, not replicated.
    expect(blockHealthOf(replicas(R.DECOMMISSIONING, R.DECOMMISSIONED), 2, false)).toBe(H.UNDER_REPLICATED);
    expect(blockHealthOf(replicas(R.LIVE, R.LIVE, R.DECOMMISSIONED), 2, false)).toBe(H.HEALTHY);
    // A corrupt copy beside enough good ones is healthy (it is deleted); all corrupt is CORRUPT.
    expect(blockHealthOf(replicas(R.LIVE, R.CORRUPT), 1, false)).toBe(H.HEALTHY);
    expect(blockHealthOf(replicas(R.CORRUPT, R.CORRUPT), 2, false)).toBe(H.CORRUPT);
    expect(blockHealthOf(replicas(R.CORRUPT, R.STALE), 2, false)).toBe(H.CORRUPT);
    expect(blockHealthOf(replicas(R.STALE), 1, false)).toBe(H.MISSING);
    expect(blockHealthOf([], 3, false)).toBe(H.MISSING);
    expect(blockHealthOf([], 3, true)).toBe(H.UNDER_CONSTRUCTION);
  });
});

describe('fileBlockHealth', () => {
  function file(blocks: number, open = false): FileNode {
    const f = new FileNode('f', null, 0, 2, 100, open ? 'writer' : null);
    for (let i = 0; i < blocks; i++)
      f.blocks = [...f.blocks, { blockId: i + 1, genStamp: 7, numBytes: i === blocks - 1 ? 30 : 100 }];
    return f;
  }
  const view: ReplicaView = {
    replicaStates: (id) => replicas(...(id % 2 === 0 ? [R.LIVE] : [R.LIVE, R.LIVE])),
  };

  it('pages by block index, offsets continuing across pages', () => {
    const f = file(5);
    const first = fileBlockHealth(f, view, 0, 2);
    expect(first).toMatchObject({ fileLength: 430, replication: 2, underConstruction: false, hasMore: true });
    expect(first.blocks.map((b) => [b.block.blockId, b.offset, b.health])).toEqual([
      [1, 0, H.HEALTHY],
      [2, 100, H.UNDER_REPLICATED],
    ]);
    const second = fileBlockHealth(f, view, 2, 2);
    expect(second.blocks.map((b) => [b.block.blockId, b.offset])).toEqual([
      [3, 200],
      [4, 300],
    ]);
    const last = fileBlockHealth(f, view, 4, 2);
    expect(last).toMatchObject({ hasMore: false });
    expect(last.blocks.map((b) => [b.block.blockId, b.offset, b.block.numBytes])).toEqual([[5, 400, 30]]);
    expect(fileBlockHealth(f, view, 9, 2)).toMatchObject({ blocks: [], hasMore: false });
    // limit 0 is the default page: everything here.
    expect(fileBlockHealth(f, view, 0, 0).blocks).toHaveLength(5);
  });

  it('the last block of an open file is under construction, the others are judged', () => {
    const healths = fileBlockHealth(file(3, true), view, 0, 0).blocks.map((b) => b.health);
    expect(healths).toEqual([H.HEALTHY, H.UNDER_REPLICATED, H.UNDER_CONSTRUCTION]);
  });

  it('ends a page early when replicas make it large', () => {
    const many: ReplicaView = {
      replicaStates: () =>
        Array.from({ length: 32 }, (_, i) => ({
          node: { nodeId: 'n'.repeat(200) + i, host: 'h'.repeat(200), port: 1 },
          state: R.LIVE,
        })),
    };
    const page = fileBlockHealth(file(2000), many, 0, 10_000);
    expect(page.hasMore).toBe(true);
    expect(page.blocks.length).toBeGreaterThan(0);
    expect(page.blocks.length).toBeLessThan(2000);
  });
});

describe('BlockManager.replicaStates', () => {
  it('names live, silent, decommissioning and corrupt holders', () => {
    const clock = new ManualClock();
    const dn = new BlockManager({ deadNodeTimeoutMs: 1000, minReplication: 1 }, clock, silentLogger());
    const f = new FileNode('f', null, 0, 3, 100, null);
    const meta = { blockId: 1, genStamp: 1, numBytes: 10 };
    f.blocks = [...f.blocks, meta];
    dn.blockAdded(f, meta);
    const storage = { capacityBytes: 100, usedBytes: 0, remainingBytes: 100, failedVolumes: 0 };
    for (let i = 0; i < 4; i++) {
      dn.register(node(i), { nodeId: node(i).nodeId, ...storage });
      dn.blockReport(node(i).nodeId, [{ ...meta }]);
    }
    dn.setDecommissioning('dn-1', true);
    dn.markBad('dn-2', meta);
    clock.advance(600);
    for (const i of [0, 1, 2])
      dn.registry.heartbeat({ nodeId: `dn-${i}`, ...storage, activeTransfers: 0, volumes: [] });
    clock.advance(600); // dn-3 has been silent for 1.2 s
    const states = Object.fromEntries(dn.replicaStates(1).map((r) => [r.node.nodeId, r.state]));
    expect(states).toEqual({ 'dn-0': R.LIVE, 'dn-1': R.DECOMMISSIONING, 'dn-2': R.CORRUPT, 'dn-3': R.STALE });
    expect(dn.replicaStates(99)).toEqual([]);
  });
});
