/**
 * The NameNode's half of block recovery (src/namenode/block-recovery.ts), in-process with a
 * manual clock and an edit log that acknowledges at once: the RECOVER_BLOCK command and its
 * recovery id, waiting within the timeout, a retry with a newer id on another primary, a
 * stale commit refused, a recovered replica reported before the commit kept (not deleted),
 * the commit closing the file with its nodes as replicas and the other holder's copy
 * deleted, a repeated commit answered, and the fallbacks (no live holder, attempts used up).
 */
import { describe, expect, it } from 'vitest';
import { CommandType, type DatanodeCommand } from '../../protocol/datanode-namenode-messages.js';
import { ManualClock } from '../../src/common/clock.js';
import { silentLogger } from '../../src/common/logger.js';
import { BlockManager } from '../../src/namenode/block-manager.js';
import { BlockRecovery, RECOVERY_ATTEMPTS_MAX } from '../../src/namenode/block-recovery.js';
import type { EditLog } from '../../src/namenode/edit-log.js';
import { NONE, type EditOp } from '../../src/namenode/edit-ops.js';
import { blockOf, type FileNode } from '../../src/namenode/inode.js';
import { Namespace } from '../../src/namenode/namespace.js';

const TIMEOUT_MS = 10_000;
const storage = { capacityBytes: 100, usedBytes: 0, remainingBytes: 100, failedVolumes: 0 };

function setup(nodes = 3) {
  const clock = new ManualClock();
  const ns = new Namespace();
  const bm = new BlockManager({ deadNodeTimeoutMs: 1e9, minReplication: 1 }, clock, silentLogger());
  ns.addListener(bm);
  const logged: EditOp[] = [];
  const editLog = {
    append: (op: EditOp, done: (err: Error | null) => void) => (logged.push(op), done(null)),
  };
  const closedWithout: string[] = [];
  const recovery = new BlockRecovery({
    namespace: ns,
    editLog: () => editLog as unknown as EditLog,
    blocks: bm,
    clock,
    logger: silentLogger(),
    timeoutMs: TIMEOUT_MS,
    afterLogged: () => {},
    closeWithoutRecovery: (path) => closedWithout.push(path),
  });
  ns.addListener(recovery);
  for (let i = 0; i < nodes; i++)
    bm.register({ nodeId: `dn-${i}`, host: '127.0.0.1', port: 9000 + i }, { nodeId: `dn-${i}`, ...storage });
  const heartbeat = (i: number): DatanodeCommand[] =>
    bm.registry.heartbeat({ nodeId: `dn-${i}`, ...storage, activeTransfers: 0, volumes: [] });
  /** An open file with one block, written to `targets`. */
  const openFile = (path: string, blockId: number, targets: number[]): FileNode => {
    ns.apply({
      op: 'create',
      path,
      clientName: 'c1',
      overwrite: false,
      createParent: true,
      replication: 3,
      blockBytes: 4096,
      mtimeMs: 1,
    });
    ns.apply({ op: 'addBlock', path, clientName: 'c1', previousNumBytes: NONE, blockId, genStamp: 1 });
    bm.pipelineTargets(
      blockId,
      targets.map((i) => `dn-${i}`),
    );
    return ns.file(path);
  };
  /** The RECOVER_BLOCK commands each node's next heartbeat carries. */
  const recoverCommands = (): Array<{ node: number; command: DatanodeCommand }> =>
    [...Array(nodes).keys()].flatMap((i) =>
      heartbeat(i)
        .filter((c) => c.type === CommandType.RECOVER_BLOCK)
        .map((command) => ({ node: i, command })),
    );
  return { clock, ns, bm, recovery, logged, closedWithout, heartbeat, openFile, recoverCommands };
}

function commit(
  recovery: BlockRecovery,
  blockId: number,
  genStamp: number,
  numBytes: number,
  nodes: string[],
) {
  let answered: Error | null | undefined;
  recovery.commit({ nodeId: nodes[0] ?? 'dn-0', block: { blockId, genStamp, numBytes }, nodes }, (err) => {
    answered = err;
  });
  return answered;
}

describe('block recovery on the NameNode', () => {
  it('sends RECOVER_BLOCK, retries on another primary after the timeout, commits the current recovery only', () => {
    const { clock, bm, recovery, logged, heartbeat, openFile, recoverCommands } = setup();
    const file = openFile('/f', 7, [0, 1, 2]);
    recovery.leaseExpired('/f', file);
    const [first] = recoverCommands();
    expect(first).toBeDefined();
    const r1 = first!.command.blocks[0]!.genStamp;
    expect(first!.command.blocks).toEqual([{ blockId: 7, genStamp: r1, numBytes: 0 }]);
    expect(r1).toBeGreaterThan(1);
    expect(first!.command.targets.map((t) => t.nodeId).sort()).toEqual(['dn-0', 'dn-1', 'dn-2']);
    // The id was logged (durably) before the command went out.
    expect(logged).toEqual([{ op: 'setGenStamp', genStamp: r1 }]);

    // Within the timeout nothing new; past it, a newer id on another primary.
    recovery.leaseExpired('/f', file);
    expect(recoverCommands()).toEqual([]);
    clock.advance(TIMEOUT_MS + 1);
    recovery.leaseExpired('/f', file);
    const [second] = recoverCommands();
    const r2 = second!.command.blocks[0]!.genStamp;
    expect(r2).toBeGreaterThan(r1);
    expect(second!.node).not.toBe(first!.node);

    // The first primary's late commit is refused: a newer recovery wins.
    expect(() => commit(recovery, 7, r1, 2048, ['dn-0', 'dn-1'])).toThrow(/not the current one/);
    // A replica the second recovery finalized, reported before its commit: kept, not counted.
    bm.blockReceived('dn-1', [{ blockId: 7, genStamp: r2, numBytes: 2048 }], []);
    expect(bm.liveReplicaCount(7)).toBe(0);
    expect(heartbeat(1)).toEqual([]);

    expect(commit(recovery, 7, r2, 2048, ['dn-0', 'dn-1'])).toBeNull();
    expect(file.clientName).toBeNull();
    expect(file.blocks.map(blockOf)).toEqual([{ blockId: 7, genStamp: r2, numBytes: 2048 }]);
    expect(logged.at(-1)).toMatchObject({ op: 'commitBlockSync', path: '/f', genStamp: r2, numBytes: 2048 });
    expect(bm.liveReplicaCount(7)).toBe(2);
    // dn-2, left out, holds an older copy: deleted up to the stamp below the new one.
    expect(heartbeat(2)).toEqual([
      {
        type: CommandType.DELETE_BLOCKS,
        blocks: [{ blockId: 7, genStamp: r2 - 1, numBytes: 0 }],
        targets: [],
      },
    ]);
    expect(heartbeat(0)).toEqual([]);
    expect(heartbeat(1)).toEqual([]);
    // The same commit again (its answer lost) is answered; the file stays as it is.
    expect(commit(recovery, 7, r2, 2048, ['dn-0', 'dn-1'])).toBeNull();
    expect(recovery.inProgress).toBe(0);
  });

  it('no replica found: the block is dropped and the file closed', () => {
    const { recovery, recoverCommands, openFile, logged } = setup();
    const file = openFile('/e', 8, [0, 1]);
    recovery.leaseExpired('/e', file);
    const r = recoverCommands()[0]!.command.blocks[0]!.genStamp;
    expect(commit(recovery, 8, r, 0, [])).toBeNull();
    expect(file.clientName).toBeNull();
    expect(file.blocks.map(blockOf)).toEqual([]);
    expect(logged.at(-1)).toMatchObject({ op: 'closeFile', path: '/e', keepBlocks: 0 });
  });

  it('falls back to closing without recovery: no live holder at once, or after the attempts', () => {
    const { clock, recovery, recoverCommands, openFile, closedWithout } = setup();
    recovery.leaseExpired('/nobody', openFile('/nobody', 9, []));
    expect(closedWithout).toEqual(['/nobody']);

    const file = openFile('/stuck', 10, [0, 1, 2]);
    const primaries: number[] = [];
    for (let i = 0; i < RECOVERY_ATTEMPTS_MAX; i++) {
      recovery.leaseExpired('/stuck', file);
      primaries.push(recoverCommands()[0]!.node);
      clock.advance(TIMEOUT_MS + 1);
    }
    // Every node had its turn as primary before one was asked again.
    expect(new Set(primaries.slice(0, 3)).size).toBe(3);
    expect(closedWithout).toEqual(['/nobody']);
    recovery.leaseExpired('/stuck', file);
    expect(recoverCommands()).toEqual([]);
    expect(closedWithout).toEqual(['/nobody', '/stuck']);
  });
});
