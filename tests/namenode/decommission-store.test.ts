/**
 * The decommissioned set across NameNode restarts: the store's file (round trip, last write
 * wins, a damaged file refused with CORRUPT_LOG) and the DataNode registry's use of it (a
 * remembered node drains again when it registers, by id or by address; recommissioning a
 * remembered node that has not registered forgets it; decommissioning needs a registered one).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/common/clock.js';
import { silentLogger } from '../../src/common/logger.js';
import { BlockManager } from '../../src/namenode/block-manager.js';
import { DECOMMISSIONED_FILE, DecommissionStore } from '../../src/namenode/decommission-store.js';
import { tempDir } from '../support/cluster.js';
import { matchStringContaining } from '../support/matchers.js';

const dirs: string[] = [];
function freshDir(): string {
  const d = tempDir('dfs-decom-');
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const storage = { capacityBytes: 100, usedBytes: 0, remainingBytes: 100, failedVolumes: 0 };
function manager(): BlockManager {
  return new BlockManager(
    { deadNodeTimeoutMs: 10_000, minReplication: 1 },
    new ManualClock(),
    silentLogger(),
  );
}
function register(dn: BlockManager, nodeId: string, port: number): void {
  dn.register({ nodeId, host: '127.0.0.1', port }, { nodeId, ...storage });
}
const stateOf = (dn: BlockManager, nodeId: string): number | undefined =>
  dn.report().find((n) => n.nodeId === nodeId)?.state;

describe('DecommissionStore', () => {
  it('no file: nothing decommissioned; saves round-trip; the last of concurrent saves wins', async () => {
    const store = new DecommissionStore(freshDir());
    expect(store.load()).toEqual([]);
    const a = { nodeId: 'dn-1', address: '127.0.0.1:9001' };
    const b = { nodeId: 'dn-2', address: '127.0.0.1:9002' };
    await Promise.all([store.save([a]), store.save([a, b]), store.save([b])]);
    expect(new DecommissionStore(path.dirname(store.file)).load()).toEqual([b]);
    expect(fs.readdirSync(path.dirname(store.file))).toEqual([DECOMMISSIONED_FILE]); // no temp file left
  });

  it('a damaged file is CORRUPT_LOG naming it, not an empty set', () => {
    const dir = freshDir();
    const store = new DecommissionStore(dir);
    for (const text of [
      '{"version": 1, "nodes": [',
      '{"version": 2, "nodes": []}',
      '{"version": 1, "nodes": [{"nodeId": 5}]}',
      'null',
    ]) {
      fs.writeFileSync(store.file, text);
      expect(() => store.load(), text).toThrow(
        expect.objectContaining({
          code: 'CORRUPT_LOG',
          message: matchStringContaining(DECOMMISSIONED_FILE),
        }),
      );
    }
  });
});

describe('DatanodeRegistry and the remembered set', () => {
  it('a node decommissioned before a restart drains again when it registers', () => {
    const before = manager();
    register(before, 'dn-1', 9001);
    register(before, 'dn-2', 9002);
    before.setDecommissioning('127.0.0.1:9001', true);
    expect(before.registry.decommissionedNodes()).toEqual([{ nodeId: 'dn-1', address: '127.0.0.1:9001' }]);

    const after = manager();
    after.registry.restoreDecommissioned(before.registry.decommissionedNodes());
    register(after, 'dn-1', 9001);
    register(after, 'dn-2', 9002);
    expect(stateOf(after, 'dn-1')).toBe(3); // decommissioning
    expect(stateOf(after, 'dn-2')).toBe(1);

    after.setDecommissioning('dn-1', false);
    expect(stateOf(after, 'dn-1')).toBe(1);
    expect(after.registry.decommissionedNodes()).toEqual([]);
  });

  it('matches a node that comes back under a new id by its address', () => {
    const dn = manager();
    dn.registry.restoreDecommissioned([{ nodeId: 'old-id', address: '127.0.0.1:9001' }]);
    register(dn, 'new-id', 9001);
    expect(stateOf(dn, 'new-id')).toBe(3);
    expect(dn.registry.decommissionedNodes()).toEqual([{ nodeId: 'new-id', address: '127.0.0.1:9001' }]);
  });

  it('recommissions a remembered node that has not registered; decommissioning needs a registered node', () => {
    const dn = manager();
    dn.registry.restoreDecommissioned([{ nodeId: 'dn-1', address: '127.0.0.1:9001' }]);
    expect(() => dn.setDecommissioning('127.0.0.1:9009', false)).toThrow(
      expect.objectContaining({ code: 'NOT_FOUND' }),
    );
    expect(() => dn.setDecommissioning('dn-1', true)).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
    dn.setDecommissioning('127.0.0.1:9001', false);
    expect(dn.registry.decommissionedNodes()).toEqual([]);
    register(dn, 'dn-1', 9001);
    expect(stateOf(dn, 'dn-1')).toBe(1);
  });
});
