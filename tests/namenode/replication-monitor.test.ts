/**
 * The replication monitor's bookkeeping of copies under way (src/namenode/replication-monitor.ts),
 * driven in-process with a manual clock: a copy that can no longer land (its source or a
 * target died) or is no longer wanted (the block got its replicas anyway) stops counting as
 * coming, so a later node loss is repaired at once instead of after the pending timeout;
 * the blocks a writer may still have in flight are not judged before the file is
 * complete; a copy its source reports failed is scheduled again at once, not on the targets
 * that refused it; and a long run of blocks that cannot be scheduled does not starve one that can.
 */
import { describe, expect, it } from 'vitest';
import { CommandType, type DatanodeCommand } from '../../protocol/datanode-namenode-messages.js';
import { ManualClock } from '../../src/common/clock.js';
import { silentLogger } from '../../src/common/logger.js';
import { BlockManager } from '../../src/namenode/block-manager.js';
import { FileNode, type BlockMeta } from '../../src/namenode/inode.js';
import { ReplicationMonitor } from '../../src/namenode/replication-monitor.js';

const DEAD_MS = 1000;
const PENDING_TIMEOUT_MS = 60_000;
const storage = { capacityBytes: 1e12, usedBytes: 0, remainingBytes: 1e12, failedVolumes: 0 };
const id = (i: number): string => `dn-${i}`;

function setup(nodes: number, transfersPerNodeMax = 4) {
  const clock = new ManualClock();
  const dn = new BlockManager({ deadNodeTimeoutMs: DEAD_MS, minReplication: 1 }, clock, silentLogger());
  const monitor = new ReplicationMonitor(
    dn,
    {
      transfersPerNodeMax,
      pendingTimeoutMs: PENDING_TIMEOUT_MS,
      rescanIntervalMs: 3_600_000,
      scheduleMaxPerTick: 1000,
    },
    clock,
    silentLogger(),
  );
  for (let i = 0; i < nodes; i++)
    dn.register({ nodeId: id(i), host: '127.0.0.1', port: 9000 + i }, { nodeId: id(i), ...storage });
  let next = 1;
  /** A complete file of one block with `replication`, its replicas on `holders`. */
  const block = (replication: number, holders: number[]): BlockMeta => {
    const f = new FileNode(`f${next}`, null, 0, replication, 100, null);
    const meta = { blockId: next++, genStamp: 1, numBytes: 10 };
    f.blocks = [...f.blocks, meta];
    dn.blockAdded(f, meta);
    for (const h of holders) dn.blockReceived(id(h), [{ ...meta }], []);
    return meta;
  };
  /** Heartbeats from every node but `silent`; returns each node's REPLICATE commands. */
  const heartbeat = (silent: number[] = []): Map<string, DatanodeCommand[]> => {
    const out = new Map<string, DatanodeCommand[]>();
    for (let i = 0; i < nodes; i++) {
      if (silent.includes(i)) continue;
      out.set(
        id(i),
        dn.registry
          .heartbeat({ nodeId: id(i), ...storage, activeTransfers: 0, volumes: [] })
          .filter((c) => c.type === CommandType.REPLICATE),
      );
    }
    return out;
  };
  /** Lets `dead` fall silent past the timeout while the others keep heartbeating. */
  const kill = (dead: number): void => {
    for (let t = 0; t <= DEAD_MS; t += DEAD_MS / 4) {
      clock.advance(DEAD_MS / 4);
      heartbeat([dead]);
    }
    dn.checkHeartbeats();
  };
  const copies = (
    commands: Map<string, DatanodeCommand[]>,
  ): Array<{ source: string; blockId: number; targets: string[] }> =>
    [...commands].flatMap(([source, cs]) =>
      cs.flatMap((c) =>
        c.blocks.map((b) => ({ source, blockId: b.blockId, targets: c.targets.map((t) => t.nodeId) })),
      ),
    );
  return { clock, dn, monitor, block, heartbeat, kill, copies };
}

describe('ReplicationMonitor: copies under way', () => {
  it('drops a copy no longer wanted, so a later node loss is repaired at once', () => {
    const { dn, monitor, block, heartbeat, kill, copies } = setup(5);
    // The file completed with one replica reported: the monitor sees 1 of 3 and asks for two copies.
    const meta = block(3, [0]);
    monitor.tick();
    const [early] = copies(heartbeat());
    expect(early).toMatchObject({ source: id(0), blockId: meta.blockId });
    expect(early!.targets).toHaveLength(2);
    // Then the pipeline's own replicas are reported, on one of those targets and on a node that is not one.
    const notTarget = [1, 2, 3, 4].find((i) => !early!.targets.includes(id(i)))!;
    const target = Number(early!.targets[0]!.slice(3));
    dn.blockReceived(id(target), [{ ...meta }], []);
    dn.blockReceived(id(notTarget), [{ ...meta }], []);
    monitor.tick();
    expect(monitor.stats()).toMatchObject({ underReplicated: 0, pendingCopies: 0 });
    expect(dn.registry.get(id(0))!.scheduledTransfers).toBe(0);
    // A holder dies: the block is copied again in the next tick, not after the pending timeout.
    kill(notTarget);
    monitor.tick();
    expect(monitor.stats()).toMatchObject({ pendingCopies: 1, copiesScheduled: 2 });
    const [repair] = copies(heartbeat([notTarget]));
    expect(repair!.blockId).toBe(meta.blockId);
    expect(repair!.targets).toHaveLength(1);
    expect([id(0), id(target)]).not.toContain(repair!.targets[0]);
  });

  it('gives up a copy whose source died and schedules it from another holder', () => {
    const { monitor, block, heartbeat, kill, copies } = setup(4);
    const meta = block(3, [0, 1]);
    monitor.tick();
    const [first] = copies(heartbeat());
    const source = Number(first!.source.slice(3));
    kill(source);
    monitor.tick();
    expect(monitor.stats()).toMatchObject({ pendingCopies: 1, copiesScheduled: 2 });
    const [second] = copies(heartbeat([source]));
    expect(second).toMatchObject({ source: id(source === 0 ? 1 : 0), blockId: meta.blockId });
    expect(second!.targets).not.toContain(id(source));
  });

  it('a copy reported failed is scheduled again at once, avoiding the refusing targets until the pending timeout', () => {
    const { clock, monitor, block, heartbeat, copies } = setup(3);
    const meta = block(2, [0]);
    monitor.tick();
    const [first] = copies(heartbeat());
    expect(first).toMatchObject({ source: id(0), blockId: meta.blockId });
    const refused = first!.targets[0]!;
    // A report from a node that was not told to copy leaves the copy under way alone.
    monitor.copyFailed(meta.blockId, id(1), [refused], 'stale');
    expect(monitor.stats()).toMatchObject({ pendingCopies: 1 });
    monitor.copyFailed(meta.blockId, id(0), [refused], 'ALREADY_EXISTS: replica exists');
    expect(monitor.stats()).toMatchObject({ pendingCopies: 0 });
    monitor.tick();
    const [second] = copies(heartbeat());
    expect(second).toMatchObject({ source: id(0), blockId: meta.blockId });
    expect(second!.targets).not.toContain(refused);
    // Both possible targets refused: nothing to schedule until the refusals are forgotten.
    monitor.copyFailed(meta.blockId, id(0), second!.targets, 'ALREADY_EXISTS');
    monitor.tick();
    expect(copies(heartbeat())).toHaveLength(0);
    expect(monitor.stats()).toMatchObject({ underReplicated: 1, pendingCopies: 0 });
    clock.advance(PENDING_TIMEOUT_MS);
    heartbeat(); // the nodes stay live across the jump
    monitor.tick();
    expect(copies(heartbeat())).toHaveLength(1);
  });

  it('gives up a copy whose target died', () => {
    const { monitor, block, heartbeat, kill, copies } = setup(5);
    block(3, [0, 1]);
    monitor.tick();
    const [first] = copies(heartbeat());
    const target = Number(first!.targets[0]!.slice(3));
    kill(target);
    monitor.tick();
    expect(monitor.stats()).toMatchObject({ pendingCopies: 1, copiesScheduled: 2 });
    expect(copies(heartbeat([target]))[0]!.targets).not.toContain(id(target));
  });

  it('leaves the two blocks a writer may still have in flight to the pipeline until the file is complete', () => {
    const { dn, monitor, heartbeat, copies } = setup(4);
    const f = new FileNode('open', null, 0, 3, 100, 'writer');
    const metas = [1, 2, 3].map((blockId) => ({ blockId, genStamp: 1, numBytes: 10 }));
    for (const meta of metas) {
      f.blocks = [...f.blocks, meta];
      dn.blockAdded(f, meta);
      dn.blockReceived(id(0), [{ ...meta }], []);
    }
    monitor.tick();
    expect(copies(heartbeat()).map((c) => c.blockId)).toEqual([1]);
    f.clientName = null;
    dn.fileClosed(f);
    monitor.tick();
    expect(
      copies(heartbeat())
        .map((c) => c.blockId)
        .sort(),
    ).toEqual([2, 3]);
  });

  it('a long run of blocks whose holders are busy does not starve one that can be copied', () => {
    const { monitor, block, heartbeat, copies } = setup(4, 1);
    // dn-0 holds 10,001 under-replicated blocks and may copy one at a time; dn-1 holds one more, queued behind them.
    for (let i = 0; i < 10_001; i++) block(2, [0]);
    const last = block(2, [1]);
    monitor.tick();
    monitor.tick();
    const scheduled = copies(heartbeat());
    expect(scheduled.map((c) => c.source).sort()).toEqual([id(0), id(1)]);
    expect(scheduled.find((c) => c.source === id(1))!.blockId).toBe(last.blockId);
  });
});
