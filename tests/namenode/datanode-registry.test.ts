/**
 * The DataNode registry's narrow methods (src/namenode/datanode-registry.ts), alone, with a
 * manual clock:
 *
 *   | test                  | checks                                                                   |
 *   |-----------------------|--------------------------------------------------------------------------|
 *   | membership, liveness  | get, known (NOT_FOUND), isLive/getLive, checkHeartbeats, REREGISTER       |
 *   | command queues        | shared empty answer; DELETE_BLOCKS bounded, cancelDelete; command order   |
 *   | copies under way      | queueCopy counts, copyEnded frees (never below 0); one notice per turn   |
 *   | admin state, targets  | markDecommissioned, stateOf, chooseTargets eligibility                   |
 *
 * Requests for full reports and the remembered decommissioned set are covered in
 * block-report-request.test.ts and decommission-store.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { CommandType, type DatanodeCommand } from '../../protocol/datanode-namenode-messages.js';
import { ManualClock } from '../../src/common/clock.js';
import { silentLogger } from '../../src/common/logger.js';
import { DatanodeRegistry } from '../../src/namenode/datanode-registry.js';

const DEAD_MS = 1000;
const storage = { capacityBytes: 100, usedBytes: 0, remainingBytes: 100, failedVolumes: 0 };
const info = (i: number) => ({ nodeId: `dn-${i}`, host: '127.0.0.1', port: 9000 + i });

function setup(nodes: number) {
  const clock = new ManualClock();
  const registry = new DatanodeRegistry({ deadNodeTimeoutMs: DEAD_MS }, clock, silentLogger());
  const notices = new Map<string, number>();
  for (let i = 0; i < nodes; i++)
    registry.register(info(i), { nodeId: `dn-${i}`, ...storage }, () =>
      notices.set(`dn-${i}`, (notices.get(`dn-${i}`) ?? 0) + 1),
    );
  const heartbeat = (i: number, figures = storage): DatanodeCommand[] =>
    registry.heartbeat({ nodeId: `dn-${i}`, ...figures, activeTransfers: 0, volumes: [] });
  return { clock, registry, notices, heartbeat };
}

const types = (commands: DatanodeCommand[]): number[] => commands.map((c) => c.type);
const endOfTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('DatanodeRegistry: membership and liveness', () => {
  it('get, known, isLive and getLive follow heartbeats; checkHeartbeats declares the silent dead once', () => {
    const { clock, registry, heartbeat } = setup(2);
    expect(registry.get('dn-0')).toMatchObject({ info: info(0), adminState: 'normal', dead: false });
    expect(registry.get('dn-9')).toBeUndefined();
    expect(() => registry.known('dn-9')).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
    expect([...registry.all()].map((n) => n.info.nodeId)).toEqual(['dn-0', 'dn-1']);
    clock.advance(DEAD_MS / 2);
    heartbeat(1, { capacityBytes: 100, usedBytes: 40, remainingBytes: 60, failedVolumes: 0 });
    expect(registry.get('dn-1')).toMatchObject({ usedBytes: 40, remainingBytes: 60, failedVolumes: 0 });
    clock.advance(DEAD_MS / 2 + 1);
    // Silent past the timeout: not live, though not declared dead yet.
    expect(registry.isLive('dn-0')).toBe(false);
    expect(registry.getLive('dn-0')).toBeUndefined();
    expect(registry.getLive('dn-1')?.info.nodeId).toBe('dn-1');
    expect(registry.checkHeartbeats().map((n) => n.info.nodeId)).toEqual(['dn-0']);
    expect(registry.checkHeartbeats()).toEqual([]);
    expect(types(heartbeat(0))).toEqual([CommandType.REREGISTER]);
    expect(types(heartbeat(7))).toEqual([CommandType.REREGISTER]);
    registry.register(info(0), { nodeId: 'dn-0', ...storage });
    expect(registry.isLive('dn-0')).toBe(true);
  });
});

describe('DatanodeRegistry: command queues', () => {
  it('nothing queued: the same shared empty answer every time', () => {
    const { heartbeat } = setup(1);
    const first = heartbeat(0);
    expect(first).toEqual([]);
    expect(heartbeat(0)).toBe(first);
  });

  it('deletes go out at most 1000 per answer; cancelDelete drops one; unknown nodes are ignored', () => {
    const { registry, heartbeat } = setup(1);
    for (let id = 1; id <= 1500; id++)
      registry.scheduleDelete('dn-0', { blockId: id, genStamp: 1, numBytes: 1 });
    registry.cancelDelete('dn-0', 1500);
    registry.scheduleDelete('dn-9', { blockId: 1, genStamp: 1, numBytes: 1 });
    expect(registry.get('dn-0')!.pendingDeletes.size).toBe(1499);
    const [first] = heartbeat(0);
    expect(first).toMatchObject({ type: CommandType.DELETE_BLOCKS });
    expect(first!.blocks).toHaveLength(1000);
    const [second] = heartbeat(0);
    expect(second!.blocks.map((b) => b.blockId)).toEqual(Array.from({ length: 499 }, (_, i) => 1001 + i));
    expect(heartbeat(0)).toEqual([]);
  });

  it('answers deletions, then copies, then BLOCK_REPORT', () => {
    const { registry, heartbeat } = setup(2);
    registry.queueCopy('dn-0', { type: CommandType.REPLICATE, blocks: [], targets: [info(1)] });
    registry.scheduleDelete('dn-0', { blockId: 3, genStamp: 1, numBytes: 1 });
    registry.requestBlockReport('dn-0');
    expect(types(heartbeat(0))).toEqual([
      CommandType.DELETE_BLOCKS,
      CommandType.REPLICATE,
      CommandType.BLOCK_REPORT,
    ]);
    registry.blockReportProcessed('dn-0', 0);
    expect(heartbeat(0)).toEqual([]);
  });
});

describe('DatanodeRegistry: copies under way', () => {
  it('queueCopy counts a transfer until copyEnded, never below zero; one notice per node per turn', async () => {
    const { registry, notices } = setup(2);
    const copy = { type: CommandType.REPLICATE, blocks: [], targets: [info(1)] };
    registry.queueCopy('dn-0', copy);
    registry.queueCopy('dn-0', copy);
    registry.queueCopy('dn-9', copy); // unknown: ignored
    expect(registry.get('dn-0')!.scheduledTransfers).toBe(2);
    expect(notices.get('dn-0')).toBeUndefined(); // not before the end of the turn
    await endOfTurn();
    expect(notices.get('dn-0')).toBe(1);
    expect(notices.get('dn-1')).toBeUndefined();
    registry.copyEnded('dn-0');
    registry.copyEnded('dn-0');
    registry.copyEnded('dn-0');
    expect(registry.get('dn-0')!.scheduledTransfers).toBe(0);
  });
});

describe('DatanodeRegistry: admin state and targets', () => {
  it('markDecommissioned only ends a drain; stateOf tells silent nodes from admin states', () => {
    const { clock, registry, heartbeat } = setup(3);
    registry.markDecommissioned('dn-0');
    expect(registry.get('dn-0')!.adminState).toBe('normal');
    expect(registry.setDecommissioning('dn-0', true)?.info.nodeId).toBe('dn-0');
    registry.markDecommissioned('dn-0');
    expect(registry.get('dn-0')!.adminState).toBe('decommissioned');
    clock.advance(DEAD_MS + 1);
    heartbeat(0);
    heartbeat(1);
    expect(registry.stateOf(registry.get('dn-0')!)).toBe('decommissioned');
    expect(registry.stateOf(registry.get('dn-2')!)).toBe('silent');
    expect(registry.stateOf(registry.get('dn-1')!)).toBe('normal');
    expect(registry.setDecommissioning('dn-0', false)?.adminState).toBe('normal');
  });

  it('chooseTargets takes only live, normal nodes with room that are not excluded', () => {
    const { clock, registry, heartbeat } = setup(5);
    registry.setDecommissioning('dn-1', true);
    clock.advance(DEAD_MS + 1);
    for (const i of [0, 1, 3, 4]) heartbeat(i); // dn-2 falls silent
    heartbeat(4, { capacityBytes: 100, usedBytes: 95, remainingBytes: 5, failedVolumes: 0 });
    for (let k = 0; k < 20; k++) {
      const chosen = registry.chooseTargets(5, '10.0.0.1', ['dn-3'], 10).map((t) => t.nodeId);
      expect(chosen).toEqual(['dn-0']);
    }
    expect(
      registry
        .chooseTargets(5, '10.0.0.1', [], 0)
        .map((t) => t.nodeId)
        .sort(),
    ).toEqual(['dn-0', 'dn-3', 'dn-4']);
  });
});
