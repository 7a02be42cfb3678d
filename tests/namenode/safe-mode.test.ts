/**
 * Safe mode (src/namenode/safe-mode.ts) over a real BlockManager and Namespace, with a
 * manual clock. The full count walks every block, so a check counts only when the bounds
 * the block manager keeps (replicas added and lengths made final since the last count; blocks
 * removed and files opened) say the threshold may have been reached, and at least every
 * 10 s. These tests hold that the gate never delays leaving safe mode past the check where
 * the threshold is met, whatever brought it there, and that it does skip counts otherwise.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/common/clock.js';
import { silentLogger } from '../../src/common/logger.js';
import { BlockManager } from '../../src/namenode/block-manager.js';
import { Namespace } from '../../src/namenode/namespace.js';
import { SafeMode } from '../../src/namenode/safe-mode.js';
import type { FileNode } from '../../src/namenode/inode.js';

const storage = { capacityBytes: 1 << 30, usedBytes: 0, remainingBytes: 1 << 30, failedVolumes: 0 };
const NONE = Number.MAX_SAFE_INTEGER;

/** `files` closed one-block files, indexed as a NameNode start does, and one registered node. */
function setup(files: number, threshold: number) {
  const clock = new ManualClock();
  const ns = new Namespace();
  for (let i = 0; i < files; i++) {
    const path = `/f${i}`;
    ns.apply({
      op: 'create',
      path,
      clientName: 'c',
      overwrite: false,
      createParent: false,
      replication: 1,
      blockBytes: 1024,
      mtimeMs: 1,
    });
    ns.apply({ op: 'addBlock', path, clientName: 'c', previousNumBytes: NONE, blockId: i + 1, genStamp: 1 });
    ns.apply({ op: 'complete', path, clientName: 'c', lastNumBytes: 10, mtimeMs: 1 });
  }
  const bm = new BlockManager({ deadNodeTimeoutMs: 60_000, minReplication: 1 }, clock, silentLogger());
  bm.indexNamespace(ns);
  ns.addListener(bm);
  bm.register({ nodeId: 'dn-0', host: '127.0.0.1', port: 9000 }, { nodeId: 'dn-0', ...storage });
  let counts = 0;
  const counted = {
    countReplicated: (min: number) => {
      counts++;
      return bm.countReplicated(min);
    },
    requestMissingBlockReports: () => bm.requestMissingBlockReports(),
    changeCounts: () => bm.changeCounts(),
  };
  const safeMode = new SafeMode(
    counted,
    { threshold, extensionMs: 0, minReplication: 1 },
    clock,
    silentLogger(),
  );
  safeMode.startup();
  const receive = (...ids: number[]): void =>
    bm.blockReceived(
      'dn-0',
      ids.map((id) => ({ blockId: id, genStamp: 1, numBytes: 10 })),
      [],
    );
  return { clock, ns, bm, safeMode, receive, counts: () => counts };
}

describe('safe mode: counting only when the threshold may have been reached', () => {
  it('leaves at the first check where the threshold is met, having skipped the counts before', () => {
    const { safeMode, receive, counts } = setup(10, 1);
    expect([safeMode.on, counts()]).toEqual([true, 1]);
    for (let id = 1; id <= 9; id++) {
      receive(id);
      safeMode.check();
      expect(safeMode.on).toBe(true);
    }
    // Nine of ten, threshold 1: no count could have reached it.
    expect(counts()).toBe(1);
    receive(10);
    safeMode.check();
    expect([safeMode.on, safeMode.reported, safeMode.total]).toEqual([false, 10, 10]);
  });

  it('counts again when blocks leave, even with no replica added', () => {
    const { ns, safeMode, receive } = setup(10, 1);
    receive(1, 2, 3, 4, 5, 6, 7, 8);
    safeMode.check();
    expect(safeMode.on).toBe(true);
    // Files removed in a standby's replay or by an operator: the total falls to what is reported.
    ns.apply({ op: 'delete', path: '/f8', recursive: false, mtimeMs: 2 });
    ns.apply({ op: 'delete', path: '/f9', recursive: false, mtimeMs: 2 });
    safeMode.check();
    expect([safeMode.on, safeMode.reported, safeMode.total]).toEqual([false, 8, 8]);
  });

  it('counts when a file closes (its last block becomes final) and at least every 10 s', () => {
    const { clock, ns, bm, safeMode, receive, counts } = setup(4, 0.5);
    // An open file whose block is held but not final: not counted in the total yet.
    ns.apply({
      op: 'create',
      path: '/open',
      clientName: 'w',
      overwrite: false,
      createParent: false,
      replication: 1,
      blockBytes: 1024,
      mtimeMs: 1,
    });
    ns.apply({
      op: 'addBlock',
      path: '/open',
      clientName: 'w',
      previousNumBytes: NONE,
      blockId: 100,
      genStamp: 1,
    });
    receive(100);
    expect((ns.lookup('/open') as FileNode).underConstruction).toBe(true);
    const before = counts();
    safeMode.check();
    expect(counts()).toBe(before + 1); // a replica was added: 0 + 1 >= 0.5 x 4
    expect([safeMode.on, safeMode.reported, safeMode.total]).toEqual([true, 0, 4]);
    safeMode.check();
    expect(counts()).toBe(before + 1);
    clock.advance(10_000);
    safeMode.check();
    expect(counts()).toBe(before + 2);
    // One replica more: at most 1 of 4 reported, under the threshold, not counted.
    receive(1);
    safeMode.check();
    expect([counts(), safeMode.reported]).toEqual([before + 2, 0]);
    // The open file closes: its block's length is final, which may raise the count too.
    ns.apply({ op: 'complete', path: '/open', clientName: 'w', lastNumBytes: 10, mtimeMs: 2 });
    safeMode.check();
    expect([safeMode.on, safeMode.reported, safeMode.total]).toEqual([true, 2, 5]);
    receive(2);
    safeMode.check();
    expect([safeMode.on, safeMode.reported, safeMode.total]).toEqual([false, 3, 5]);
    expect(bm.changeCounts().raises).toBeGreaterThanOrEqual(3);
  });
});
