/**
 * The DataNode's epoch fence (src/datanode/namenode-epoch.ts) on its own: which commands pass
 * from which epoch, and that the highest epoch survives a restart, per cluster, in every
 * data directory. The fence across real processes: tests/ha/datanode-fencing.test.ts.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CommandType, type DatanodeCommand } from '../../protocol/datanode-namenode-messages.js';
import { silentLogger } from '../../src/common/logger.js';
import { EPOCH_FILE, NamenodeEpoch } from '../../src/datanode/namenode-epoch.js';
import { tempDir } from '../support/cluster.js';

const block = { blockId: 1, genStamp: 1, numBytes: 1 };
const cmd = (type: number): DatanodeCommand => ({ type, blocks: [block], targets: [] });
const ALL = [
  cmd(CommandType.DELETE_BLOCKS),
  cmd(CommandType.REPLICATE),
  cmd(CommandType.REREGISTER),
  cmd(CommandType.BLOCK_REPORT),
  cmd(CommandType.RECOVER_BLOCK),
  cmd(200),
];

describe('NamenodeEpoch', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });

  function fence(clusterId = 'CID-1', volumes = 2): { f: NamenodeEpoch; fenced: number[]; dirs: string[] } {
    while (dirs.length < volumes) dirs.push(tempDir('dfs-epoch-'));
    const store = { clusterId, inService: () => dirs.slice(0, volumes).map((dir) => ({ dir })) };
    const fenced: number[] = [];
    return { f: new NamenodeEpoch(store, silentLogger(), (n) => fenced.push(n)), fenced, dirs };
  }

  it('passes every command of the highest epoch; from a lower one only REREGISTER and BLOCK_REPORT', async () => {
    const { f, fenced } = fence();
    expect(await f.admit(0, ALL, 'nn')).toEqual(ALL); // no HA: everything at 0
    expect(await f.admit(5, ALL, 'nn1')).toEqual(ALL);
    expect(f.epoch).toBe(5);
    expect(await f.admit(5, ALL, 'nn1')).toEqual(ALL);
    const late = await f.admit(3, ALL, 'nn0');
    expect(late.map((c) => c.type)).toEqual([CommandType.REREGISTER, CommandType.BLOCK_REPORT]);
    expect(await f.admit(0, [cmd(CommandType.REREGISTER)], 'standby')).toHaveLength(1);
    expect(fenced).toEqual([4]);
    expect(f.epoch).toBe(5);
  });

  it('writes the highest epoch to every data directory before it passes commands; a restart keeps it', async () => {
    const { f, dirs: volumes } = fence();
    await Promise.all([f.admit(9, [], 'a'), f.admit(7, [], 'b'), f.admit(12, [], 'c')]);
    for (const d of volumes)
      expect(JSON.parse(fs.readFileSync(path.join(d, EPOCH_FILE), 'utf8'))).toEqual({
        clusterId: 'CID-1',
        epoch: 12,
      });
    const again = fence().f;
    expect(await again.admit(9, ALL, 'old')).toHaveLength(2);
    expect(again.epoch).toBe(12);
    // Another cluster's file (a reformatted cluster) counts for nothing.
    const other = fence('CID-2').f;
    expect(await other.admit(1, ALL, 'nn')).toEqual(ALL);
  });

  it('the highest epoch of the data directories counts; an unreadable file is skipped', async () => {
    const { dirs: volumes } = fence();
    fs.writeFileSync(path.join(volumes[0]!, EPOCH_FILE), JSON.stringify({ clusterId: 'CID-1', epoch: 4 }));
    fs.writeFileSync(path.join(volumes[1]!, EPOCH_FILE), '{not json');
    const f = fence().f;
    expect(await f.admit(3, ALL, 'nn')).toHaveLength(2);
    expect(f.epoch).toBe(4);
  });
});
