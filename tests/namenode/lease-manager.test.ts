/**
 * Leases, driven by a ManualClock and by the namespace itself (the lease manager is a
 * namespace listener, as in the NameNode): one lease per holder covering its open files,
 * renewal, expiry strictly after leaseLimitMs, and files leaving the lease when they are
 * completed, recovered, deleted or overwritten. Renames need no bookkeeping.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/common/clock.js';
import { NONE, type EditOp } from '../../src/namenode/edit-ops.js';
import { pathOf } from '../../src/namenode/inode.js';
import { LeaseManager } from '../../src/namenode/lease-manager.js';
import { Namespace } from '../../src/namenode/namespace.js';

const LIMIT_MS = 60_000;

function setup(): {
  ns: Namespace;
  clock: ManualClock;
  leases: LeaseManager;
  run: (...ops: EditOp[]) => void;
} {
  const ns = new Namespace();
  const clock = new ManualClock();
  const leases = new LeaseManager(clock, LIMIT_MS);
  ns.addListener(leases);
  return { ns, clock, leases, run: (...ops) => ops.forEach((op) => ns.apply(op)) };
}

const create = (path: string, clientName: string, overwrite = false): EditOp => ({
  op: 'create',
  path,
  clientName,
  overwrite,
  createParent: true,
  replication: 3,
  blockBytes: 4096,
  mtimeMs: 1,
});
const complete = (path: string, clientName: string): EditOp => ({
  op: 'complete',
  path,
  clientName,
  lastNumBytes: NONE,
  mtimeMs: 2,
});

const expiredPaths = (leases: LeaseManager): string[] =>
  leases
    .expiredFiles()
    .map((f) => pathOf(f))
    .sort();

describe('LeaseManager', () => {
  it('create takes a lease; it expires only after leaseLimitMs without renewal', () => {
    const { clock, leases, run } = setup();
    expect(leases.size).toBe(0);
    run(create('/f', 'c1'));
    expect(leases.size).toBe(1);
    expect(leases.isExpired('c1')).toBe(false);
    clock.advance(LIMIT_MS);
    expect(leases.isExpired('c1')).toBe(false);
    expect(leases.expiredFiles()).toEqual([]);
    clock.advance(1);
    expect(leases.isExpired('c1')).toBe(true);
    expect(expiredPaths(leases)).toEqual(['/f']);
  });

  it('renew pushes expiry back; renewing an expired lease (not yet recovered) revives it', () => {
    const { clock, leases, run } = setup();
    run(create('/f', 'c1'));
    for (let i = 0; i < 5; i++) {
      clock.advance(LIMIT_MS - 1);
      expect(leases.renew('c1')).toBe(true);
      expect(leases.isExpired('c1')).toBe(false);
    }
    clock.advance(LIMIT_MS + 1);
    expect(leases.isExpired('c1')).toBe(true);
    expect(leases.renew('c1')).toBe(true);
    expect(leases.isExpired('c1')).toBe(false);
    expect(leases.expiredFiles()).toEqual([]);
  });

  it('a holder without open files has no lease: renew is false, and it counts as expired', () => {
    const { leases } = setup();
    expect(leases.renew('nobody')).toBe(false);
    expect(leases.isExpired('nobody')).toBe(true);
  });

  it('one lease per holder covers all its files; opening another file renews it', () => {
    const { clock, leases, run } = setup();
    run(create('/a', 'c1'));
    clock.advance(LIMIT_MS - 10);
    run(create('/b', 'c1'));
    expect(leases.size).toBe(1);
    clock.advance(LIMIT_MS - 10);
    expect(leases.isExpired('c1')).toBe(false);
    clock.advance(11);
    expect(expiredPaths(leases)).toEqual(['/a', '/b']);
  });

  it('holders expire independently', () => {
    const { clock, leases, run } = setup();
    run(create('/a', 'c1'), create('/b', 'c2'), create('/c', 'c2'));
    expect(leases.size).toBe(2);
    clock.advance(LIMIT_MS / 2);
    leases.renew('c2');
    clock.advance(LIMIT_MS / 2 + 1);
    expect(leases.isExpired('c1')).toBe(true);
    expect(leases.isExpired('c2')).toBe(false);
    expect(expiredPaths(leases)).toEqual(['/a']);
    clock.advance(LIMIT_MS);
    expect(expiredPaths(leases)).toEqual(['/a', '/b', '/c']);
  });

  it('complete drops the file; the lease goes with the last one', () => {
    const { leases, run } = setup();
    run(create('/a', 'c1'), create('/b', 'c1'));
    run(complete('/a', 'c1'));
    expect(leases.size).toBe(1);
    expect(leases.renew('c1')).toBe(true);
    run(complete('/b', 'c1'));
    expect(leases.size).toBe(0);
    expect(leases.renew('c1')).toBe(false);
  });

  it('lease recovery (closeFile) drops the file from its holder, so it is not recovered twice', () => {
    const { clock, leases, run } = setup();
    run(create('/a', 'c1'), create('/b', 'c1'));
    clock.advance(LIMIT_MS + 1);
    const expired = leases.expiredFiles();
    expect(expired).toHaveLength(2);
    for (const f of expired)
      run({ op: 'closeFile', path: pathOf(f), keepBlocks: 0, lastNumBytes: NONE, mtimeMs: 3 });
    expect(leases.expiredFiles()).toEqual([]);
    expect(leases.size).toBe(0);
  });

  it('delete drops open files, recursively', () => {
    const { clock, leases, run } = setup();
    run(create('/d/x/f1', 'c1'), create('/d/f2', 'c2'), create('/keep', 'c1'));
    run({ op: 'delete', path: '/d', recursive: true, mtimeMs: 3 });
    expect(leases.size).toBe(1);
    clock.advance(LIMIT_MS + 1);
    expect(expiredPaths(leases)).toEqual(['/keep']);
    run({ op: 'delete', path: '/keep', recursive: false, mtimeMs: 4 });
    expect(leases.size).toBe(0);
    expect(leases.expiredFiles()).toEqual([]);
  });

  it('deleting a closed file changes no lease', () => {
    const { leases, run } = setup();
    run(create('/done', 'c1'), complete('/done', 'c1'), create('/open', 'c1'));
    run({ op: 'delete', path: '/done', recursive: false, mtimeMs: 3 });
    expect(leases.size).toBe(1);
    expect(leases.renew('c1')).toBe(true);
  });

  it('overwrite by the holder replaces the old file in its lease', () => {
    const { ns, clock, leases, run } = setup();
    run(create('/f', 'c1'));
    const first = ns.file('/f');
    run(create('/f', 'c1', true));
    const second = ns.file('/f');
    expect(second).not.toBe(first);
    clock.advance(LIMIT_MS + 1);
    expect(leases.expiredFiles()).toEqual([second]);
  });

  it('overwrite of a closed file by another client gives the new writer a lease', () => {
    const { leases, run } = setup();
    run(create('/f', 'c1'), complete('/f', 'c1'));
    expect(leases.size).toBe(0);
    run(create('/f', 'c2', true));
    expect(leases.renew('c2')).toBe(true);
    expect(leases.renew('c1')).toBe(false);
  });

  it('a renamed open file stays in the lease under its new path', () => {
    const { clock, leases, run } = setup();
    run(create('/a/f', 'c1'), { op: 'mkdir', path: '/b', parents: false, mtimeMs: 1 });
    run({ op: 'rename', src: '/a', dst: '/b/moved', mtimeMs: 2 });
    clock.advance(LIMIT_MS + 1);
    expect(expiredPaths(leases)).toEqual(['/b/moved/f']);
  });

  it('a lease the NameNode takes for recovery locks the writer out and comes back for a retry', () => {
    const { ns, clock, leases, run } = setup();
    run(create('/r/f', 'writer'));
    clock.advance(LIMIT_MS + 1);
    const file = ns.file('/r/f');
    leases.takeForRecovery(file);
    // The writer, back from a pause, can neither add a block, complete nor keep the file.
    expect(() => ns.apply(complete('/r/f', 'writer'))).toThrow(expect.objectContaining({ code: 'NO_LEASE' }));
    expect(() =>
      ns.apply({
        op: 'addBlock',
        path: '/r/f',
        clientName: 'writer',
        previousNumBytes: NONE,
        blockId: 1,
        genStamp: 1,
      }),
    ).toThrow(expect.objectContaining({ code: 'NO_LEASE' }));
    expect(leases.renew('writer')).toBe(false);
    expect(leases.expiredFiles()).toEqual([]);
    // One lease period later the recovery is due a retry; closing the file ends it.
    clock.advance(LIMIT_MS + 1);
    expect(leases.expiredFiles()).toEqual([file]);
    run({ op: 'closeFile', path: '/r/f', keepBlocks: 0, lastNumBytes: NONE, mtimeMs: 3 });
    expect(file.recovering).toBe(false);
    expect(leases.expiredFiles()).toEqual([]);
  });
});
