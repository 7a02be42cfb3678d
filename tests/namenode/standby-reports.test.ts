/**
 * Replica reports ahead of a standby's journal (src/namenode/standby-reports.ts, issue 14):
 * a replica of a block the standby has not applied yet, or at a newer stamp, is held rather
 * than judged invalid (which would queue its deletion for when the standby becomes active);
 * it is accepted once the block arrives (replay after a journal batch), and on promotion what
 * is still held is judged as any report (a block that never came is deleted then). Driven
 * in-process with a real BlockManager, as tests/namenode/block-manager.test.ts does.
 */
import { describe, expect, it } from 'vitest';
import { CommandType } from '../../protocol/datanode-namenode-messages.js';
import { ManualClock } from '../../src/common/clock.js';
import { silentLogger } from '../../src/common/logger.js';
import { BlockManager } from '../../src/namenode/block-manager.js';
import { FileNode } from '../../src/namenode/inode.js';
import { StandbyReports } from '../../src/namenode/standby-reports.js';

const storage = { capacityBytes: 100, usedBytes: 0, remainingBytes: 100, failedVolumes: 0 };

function setup() {
  const bm = new BlockManager(
    { deadNodeTimeoutMs: 1000, minReplication: 1 },
    new ManualClock(),
    silentLogger(),
  );
  bm.register({ nodeId: 'dn-0', host: '127.0.0.1', port: 9000 }, { nodeId: 'dn-0', ...storage });
  const file = new FileNode('f', null, 0, 3, 100, null);
  const known = { blockId: 1, genStamp: 1, numBytes: 10 };
  file.blocks = [...file.blocks, known];
  bm.blockAdded(file, known);
  const heartbeat = () =>
    bm.registry.heartbeat({ nodeId: 'dn-0', ...storage, activeTransfers: 0, volumes: [] });
  return { bm, file, heartbeat, reports: new StandbyReports(bm, silentLogger()) };
}

describe('StandbyReports', () => {
  it('holds a replica of a block not applied yet, and accepts it once the block arrives', () => {
    const { bm, file, heartbeat, reports } = setup();
    const ahead = { blockId: 2, genStamp: 1, numBytes: 10 };
    const now = reports.judgeable('dn-0', [{ blockId: 1, genStamp: 1, numBytes: 10 }, ahead]);
    expect(now.map((b) => b.blockId)).toEqual([1]);
    bm.blockReceived('dn-0', now, []);
    expect(reports.size).toBe(1);
    reports.replay(false); // the journal has not brought block 2 yet: still held
    expect(reports.size).toBe(1);
    // The journal brings the addBlock: the held replica is accepted, nothing is deleted.
    const meta = { ...ahead };
    file.blocks = [...file.blocks, meta];
    bm.blockAdded(file, meta);
    reports.replay(false);
    expect(reports.size).toBe(0);
    expect(bm.liveReplicaCount(2)).toBe(1);
    expect(heartbeat().filter((c) => c.type === CommandType.DELETE_BLOCKS)).toEqual([]);
  });

  it('holds a replica at a newer stamp; on promotion what never came is judged (deleted)', () => {
    const { heartbeat, reports } = setup();
    expect(reports.judgeable('dn-0', [{ blockId: 1, genStamp: 2, numBytes: 10 }])).toEqual([]);
    expect(reports.judgeable('dn-0', [{ blockId: 7, genStamp: 1, numBytes: 10 }])).toEqual([]);
    expect(reports.knownUnfinished([{ blockId: 8, genStamp: 1, numBytes: 0 }])).toEqual([]);
    reports.replay(true);
    expect(reports.size).toBe(0);
    const deletes = heartbeat().filter((c) => c.type === CommandType.DELETE_BLOCKS);
    expect(deletes.flatMap((c) => c.blocks.map((b) => b.blockId))).toContain(7);
  });

  it('a standby heartbeat carries no commands; they wait for the active', () => {
    const { bm, heartbeat, reports } = setup();
    reports.judgeable('dn-0', [{ blockId: 7, genStamp: 1, numBytes: 10 }]);
    reports.replay(true);
    expect(
      bm.registry.heartbeat({ nodeId: 'dn-0', ...storage, activeTransfers: 0, volumes: [] }, false),
    ).toEqual([]);
    expect(heartbeat().some((c) => c.type === CommandType.DELETE_BLOCKS)).toBe(true);
  });
});
