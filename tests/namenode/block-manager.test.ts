/**
 * The block manager (src/namenode/block-manager.ts), which keeps the block map and the
 * DataNode registry in step, driven in-process with a manual clock:
 *
 *   | test                               | checks                                                      |
 *   |------------------------------------|-------------------------------------------------------------|
 *   | counting does not rotate readers   | liveReplicaCount / firstUnderMinimalReplication leave the   |
 *   |                                    | order `locations` hands out alone; only locations rotates   |
 *   | firstUnderMinimalReplication       | returns the first lagging block, or null                    |
 *   | full reports are differences       | vanished replicas removed, invalid ones deleted, a valid    |
 *   |                                    | report cancels a queued delete; datanodeReport rows         |
 *   | deleted blocks, dead and returning | holders (corrupt too) told to delete; replicas of a dead or |
 *   | nodes                              | re-registered node stop counting                            |
 */
import { describe, expect, it } from 'vitest';
import { CommandType, type DatanodeCommand } from '../../protocol/datanode-namenode-messages.js';
import { ManualClock } from '../../src/common/clock.js';
import { silentLogger } from '../../src/common/logger.js';
import { BlockManager } from '../../src/namenode/block-manager.js';
import { FileNode, type BlockMeta } from '../../src/namenode/inode.js';

const DEAD_MS = 1000;
const storage = { capacityBytes: 100, usedBytes: 0, remainingBytes: 100, failedVolumes: 0 };
const info = (i: number) => ({ nodeId: `dn-${i}`, host: '127.0.0.1', port: 9000 + i });

function setup(nodes: number, blocks: number, minReplication = 1) {
  const clock = new ManualClock();
  const bm = new BlockManager({ deadNodeTimeoutMs: DEAD_MS, minReplication }, clock, silentLogger());
  const file = new FileNode('f', null, 0, 3, 100, null);
  const metas: BlockMeta[] = [];
  for (let i = 1; i <= blocks; i++) {
    const meta = { blockId: i, genStamp: 1, numBytes: 10 };
    file.blocks = [...file.blocks, meta];
    metas.push(meta);
    bm.blockAdded(file, meta);
  }
  for (let i = 0; i < nodes; i++) bm.register(info(i), { nodeId: `dn-${i}`, ...storage });
  const heartbeat = (i: number): DatanodeCommand[] =>
    bm.registry.heartbeat({ nodeId: `dn-${i}`, ...storage, activeTransfers: 0, volumes: [] });
  return { clock, bm, file, metas, heartbeat };
}

const order = (bm: BlockManager, blockId: number): string[] => bm.locations(blockId).map((n) => n.nodeId);

describe('BlockManager: counting replicas does not rotate the read order', () => {
  it('only locations() moves the rotation, by one per call', () => {
    const { bm, metas } = setup(3, 2);
    for (const i of [0, 1, 2]) bm.blockReceived(`dn-${i}`, [{ ...metas[0]! }], []);
    const first = order(bm, 1);
    expect(first).toHaveLength(3);
    const second = order(bm, 1);
    expect(second).not.toEqual(first);
    for (let k = 0; k < 5; k++) {
      expect(bm.liveReplicaCount(1)).toBe(3);
      expect(bm.firstUnderMinimalReplication(metas.slice(0, 1))).toBeNull();
      expect(bm.recoverableLength(1)).toBeNull();
    }
    // Same step as from the first call to the second: the counts in between moved nothing.
    const third = order(bm, 1);
    const step = (a: string[], b: string[]): number => b.indexOf(a[0]!);
    expect(step(second, third)).toBe(step(first, second));
  });
});

describe('BlockManager.firstUnderMinimalReplication', () => {
  it('returns the first block with fewer live replicas than the minimum, else null', () => {
    const { bm, metas, clock, heartbeat } = setup(3, 3, 2);
    for (const i of [0, 1]) bm.blockReceived(`dn-${i}`, [{ ...metas[0]! }, { ...metas[2]! }], []);
    bm.blockReceived('dn-2', [{ ...metas[1]! }], []);
    expect(bm.firstUnderMinimalReplication(metas)).toBe(metas[1]);
    bm.blockReceived('dn-0', [{ ...metas[1]! }], []);
    expect(bm.firstUnderMinimalReplication(metas)).toBeNull();
    // dn-1 falls silent: blocks 1 and 3 now have one live replica each.
    clock.advance(DEAD_MS + 1);
    heartbeat(0);
    heartbeat(2);
    expect(bm.liveReplicaCount(1)).toBe(1);
    expect(bm.firstUnderMinimalReplication(metas)).toBe(metas[0]);
  });
});

describe('BlockManager.blockReport', () => {
  it('removes replicas no longer reported, deletes invalid ones, and cancels a queued delete', () => {
    const { bm, metas, heartbeat } = setup(1, 3);
    expect(
      bm.blockReport(
        'dn-0',
        metas.map((m) => ({ ...m })),
      ),
    ).toEqual({ accepted: 3, invalid: 0 });
    expect(bm.report()[0]!.blockCount).toBe(3);
    bm.map.takeDirty();
    const stale = { ...metas[1]!, genStamp: 0 };
    expect(bm.blockReport('dn-0', [{ ...metas[0]! }, stale])).toEqual({ accepted: 1, invalid: 1 });
    expect(bm.report()[0]!.blockCount).toBe(1);
    expect([...bm.map.takeDirty()].sort()).toEqual([2, 3]);
    // The invalid replica is queued for deletion; a valid report of that block before the
    // next heartbeat cancels it.
    expect(bm.registry.get('dn-0')!.pendingDeletes.has(2)).toBe(true);
    bm.blockReport(
      'dn-0',
      metas.map((m) => ({ ...m })),
    );
    expect(heartbeat(0)).toEqual([]);
    expect(() => bm.blockReport('dn-9', [])).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
  });

  it('datanodeReport rows join the registry (state) and the block map (replicas held)', () => {
    const { bm, metas, clock, heartbeat } = setup(3, 2);
    bm.blockReport(
      'dn-1',
      metas.map((m) => ({ ...m })),
    );
    bm.setDecommissioning('dn-0', true);
    clock.advance(DEAD_MS + 1);
    heartbeat(0);
    heartbeat(1);
    expect(bm.report().map((r) => [r.nodeId, r.state, r.blockCount])).toEqual([
      ['dn-0', 3, 0],
      ['dn-1', 1, 2],
      ['dn-2', 2, 0],
    ]);
  });
});

describe('BlockManager: deleted blocks, dead and returning nodes', () => {
  it('a deleted block is deleted on every holder, corrupt ones too', () => {
    const { bm, file, metas, heartbeat } = setup(3, 1);
    for (const i of [0, 1, 2]) bm.blockReceived(`dn-${i}`, [{ ...metas[0]! }], []);
    bm.markBad('dn-2', metas[0]!);
    bm.fileRemoved(file);
    expect(bm.map.entry(1)).toBeUndefined();
    for (const i of [0, 1, 2]) {
      const commands = heartbeat(i);
      expect(commands.map((c) => c.type)).toEqual([CommandType.DELETE_BLOCKS]);
      expect(commands[0]!.blocks).toEqual([metas[0]]);
    }
  });

  it('replicas of a dead node stop counting; a node that registers again starts from nothing', () => {
    const { bm, metas, clock, heartbeat } = setup(2, 1);
    let died = 0;
    bm.events = { replicaAdded: () => {}, nodesDied: () => died++, copyFailed: () => {} };
    for (const i of [0, 1]) bm.blockReceived(`dn-${i}`, [{ ...metas[0]! }], []);
    clock.advance(DEAD_MS + 1);
    heartbeat(1);
    expect(bm.checkHeartbeats().map((n) => n.info.nodeId)).toEqual(['dn-0']);
    expect(died).toBe(1);
    expect([...bm.map.entry(1)!.replicas]).toEqual(['dn-1']);
    bm.register(info(1), { nodeId: 'dn-1', ...storage });
    expect(bm.map.entry(1)!.replicas.size).toBe(0);
    expect(bm.map.heldBy('dn-1').size).toBe(0);
  });
});
