/**
 * When the NameNode asks a DataNode for a full block report (BLOCK_REPORT with a heartbeat
 * answer; src/namenode/datanode-registry.ts, safe-mode.ts), driven by a manual clock:
 *
 *   | test                          | checks                                                          |
 *   |-------------------------------|-----------------------------------------------------------------|
 *   | requestBlockReport            | BLOCK_REPORT last in each heartbeat answer until a full report  |
 *   |                               | arrives; NOT_FOUND; DATANODE_DEAD for a silent or dead node     |
 *   | the record of the last report | time and size per node, reset by re-registration                |
 *   | safe mode left by an operator | only live nodes without a report since registering are asked    |
 *
 * The real-process path (dfs admin trigger-block-report) is in tests/cli/dfs-trigger-report.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { CommandType, type DatanodeCommand } from '../../protocol/datanode-namenode-messages.js';
import { ManualClock } from '../../src/common/clock.js';
import { silentLogger } from '../../src/common/logger.js';
import { BlockManager } from '../../src/namenode/block-manager.js';
import { FileNode } from '../../src/namenode/inode.js';
import { SafeMode } from '../../src/namenode/safe-mode.js';

const DEAD_NODE_TIMEOUT_MS = 1000;
const storage = { capacityBytes: 100, usedBytes: 0, remainingBytes: 100, failedVolumes: 0 };
const node = (i: number) => ({ nodeId: `dn-${i}`, host: '127.0.0.1', port: 9000 + i });

function setup(nodes: number) {
  const clock = new ManualClock();
  const dn = new BlockManager(
    { deadNodeTimeoutMs: DEAD_NODE_TIMEOUT_MS, minReplication: 1 },
    clock,
    silentLogger(),
  );
  const file = new FileNode('f', null, 0, 3, 100, null);
  const metas = [1, 2].map((blockId) => ({ blockId, genStamp: 1, numBytes: 10 }));
  for (const meta of metas) {
    file.blocks = [...file.blocks, meta];
    dn.blockAdded(file, meta);
  }
  for (let i = 0; i < nodes; i++) dn.register(node(i), { nodeId: node(i).nodeId, ...storage });
  const heartbeat = (i: number): DatanodeCommand[] =>
    dn.registry.heartbeat({ nodeId: `dn-${i}`, ...storage, activeTransfers: 0, volumes: [] });
  const report = (i: number): void =>
    void dn.blockReport(
      `dn-${i}`,
      metas.map((m) => ({ ...m })),
    );
  const entry = (i: number) => dn.report().find((e) => e.nodeId === `dn-${i}`)!;
  return { clock, dn, metas, heartbeat, report, entry };
}

const types = (commands: DatanodeCommand[]): number[] => commands.map((c) => c.type);

describe('requestBlockReport', () => {
  it('BLOCK_REPORT goes last in each heartbeat answer until a full report arrives, once per answer', () => {
    const { dn, clock, heartbeat, report } = setup(2);
    report(0);
    expect(heartbeat(0)).toEqual([]);
    const asked = dn.requestBlockReport('127.0.0.1:9000');
    expect(asked).toEqual({ nodeId: 'dn-0', lastBlockReportMs: clock.nowMs() });
    dn.requestBlockReport('dn-0'); // asking twice changes nothing
    // A replica of no known block is scheduled for deletion: DELETE_BLOCKS comes first.
    dn.blockReceived('dn-0', [{ blockId: 99, genStamp: 1, numBytes: 1 }], []);
    expect(types(heartbeat(0))).toEqual([CommandType.DELETE_BLOCKS, CommandType.BLOCK_REPORT]);
    expect(types(heartbeat(1))).toEqual([]); // only the node asked
    // The request stands until a report is processed (a DataNode sends it before its next heartbeat).
    expect(types(heartbeat(0))).toEqual([CommandType.BLOCK_REPORT]);
    clock.advance(10);
    report(0);
    expect(heartbeat(0)).toEqual([]);
    // A report that came before the heartbeat satisfies a request too.
    dn.requestBlockReport('dn-0');
    report(0);
    expect(heartbeat(0)).toEqual([]);
  });

  it('NOT_FOUND for a node never registered; DATANODE_DEAD for a silent or dead one', () => {
    const { dn, clock, heartbeat } = setup(2);
    expect(() => dn.requestBlockReport('127.0.0.1:1')).toThrow(
      expect.objectContaining({ code: 'NOT_FOUND' }),
    );
    clock.advance(DEAD_NODE_TIMEOUT_MS + 1);
    heartbeat(1);
    // Silent past the timeout but not yet declared dead, then declared dead.
    expect(() => dn.requestBlockReport('dn-0')).toThrow(expect.objectContaining({ code: 'DATANODE_DEAD' }));
    dn.checkHeartbeats();
    expect(() => dn.requestBlockReport('dn-0')).toThrow(expect.objectContaining({ code: 'DATANODE_DEAD' }));
    // Coming back it is told to re-register (which brings a report), not BLOCK_REPORT.
    expect(types(heartbeat(0))).toEqual([CommandType.REREGISTER]);
    expect(dn.requestBlockReport('dn-1').nodeId).toBe('dn-1');
  });
});

describe('the record of the last full report', () => {
  it('time and replicas listed per node; 0 until the first, and again after a re-registration', () => {
    const { dn, clock, report, entry } = setup(2);
    expect(entry(0)).toMatchObject({ lastBlockReportMs: 0, lastBlockReportBlocks: 0 });
    report(0);
    const first = clock.nowMs();
    expect(entry(0)).toMatchObject({ lastBlockReportMs: first, lastBlockReportBlocks: 2 });
    clock.advance(500);
    dn.blockReport('dn-0', [{ blockId: 77, genStamp: 1, numBytes: 1 }]); // listed, though refused
    expect(entry(0)).toMatchObject({ lastBlockReportMs: first + 500, lastBlockReportBlocks: 1 });
    expect(entry(1)).toMatchObject({ lastBlockReportMs: 0, lastBlockReportBlocks: 0 });
    dn.register(node(0), { nodeId: 'dn-0', ...storage });
    expect(entry(0)).toMatchObject({ lastBlockReportMs: 0, lastBlockReportBlocks: 0 });
  });
});

describe('safe mode left by an operator', () => {
  it('asks the live nodes that have not reported since registering, and no others', () => {
    const { dn, clock, heartbeat, report } = setup(4);
    const safeMode = new SafeMode(
      dn,
      { threshold: 0.999, extensionMs: 0, minReplication: 1 },
      clock,
      silentLogger(),
    );
    safeMode.startup();
    expect(safeMode.on).toBe(true);
    report(0);
    // dn-1 and dn-2 have not reported; dn-3 is silent past the timeout.
    clock.advance(DEAD_NODE_TIMEOUT_MS / 2);
    for (const i of [0, 1, 2]) heartbeat(i);
    clock.advance(DEAD_NODE_TIMEOUT_MS / 2 + 1);
    for (const i of [0, 1, 2]) expect(heartbeat(i)).toEqual([]);
    safeMode.leave();
    expect(safeMode.on).toBe(false);
    expect(types(heartbeat(0))).toEqual([]);
    expect(types(heartbeat(1))).toEqual([CommandType.BLOCK_REPORT]);
    expect(types(heartbeat(2))).toEqual([CommandType.BLOCK_REPORT]);
    // Their reports end the requests; leaving when safe mode is already off asks nobody.
    report(1);
    dn.register(node(2), { nodeId: 'dn-2', ...storage }); // re-registered: no report yet, none asked
    safeMode.leave();
    for (const i of [0, 1, 2]) expect(types(heartbeat(i))).toEqual([]);
  });
});
