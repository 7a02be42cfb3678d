/**
 * Block recovery on one DataNode, without processes: the primary's choice of length
 * (src/datanode/block-recovery.ts `chooseRecoveryLength`), the length a replica's files
 * prove (`validLength`: data and checksums both on disk, a torn last chunk dropped), and a
 * replica cut to a length in the middle of a chunk (`truncateReplica`: the last chunk's
 * checksum recomputed, the new stamp in the header), then INIT and UPDATE on a real
 * Storage: stale recovery ids refused, the replica finalized with the recovery's stamp.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ChecksumType, RecoveryReplicaState } from '../../protocol/data-messages.js';
import { computeChecksums, initChecksum } from '../../src/common/checksum.js';
import { DATANODE_DEFAULTS } from '../../src/common/config.js';
import { faultsFromEnv } from '../../src/common/fault-injector.js';
import { osFileSync } from '../../src/common/file-sync.js';
import { silentLogger } from '../../src/common/logger.js';
import { chooseRecoveryLength, type ReplicaAnswer } from '../../src/datanode/block-recovery.js';
import {
  TransferCount,
  WritesInProgress,
  type DataNodeContext,
} from '../../src/datanode/datanode-context.js';
import { decodeMetaHeader, encodeMetaHeader, META_HEADER_BYTES } from '../../src/datanode/replica-meta.js';
import {
  initReplicaRecovery,
  truncateReplica,
  updateReplicaUnderRecovery,
  validLength,
} from '../../src/datanode/replica-recovery.js';
import { DatanodeMetrics } from '../../src/datanode/datanode-metrics.js';
import { Storage } from '../../src/datanode/storage.js';
import { VolumeMonitor } from '../../src/datanode/volume-monitor.js';

const CHUNK = 512;
const { UNFINISHED, FINALIZED } = RecoveryReplicaState;
const dirs: string[] = [];

beforeAll(() => initChecksum());
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'dfs-block-recovery-'));
  dirs.push(d);
  return d;
}

function answer(nodeId: string, genStamp: number, numBytes: number, state: number): ReplicaAnswer {
  return { nodeId, genStamp, numBytes, state };
}

/** A replica's two files in `dir`: `data`, and its checksums for the first `summed` bytes. */
function writeReplica(
  dir: string,
  data: Buffer,
  summed: number,
  genStamp = 5,
  checksumType: ChecksumType = ChecksumType.XXH64,
): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'data'), data);
  const sums = computeChecksums(data.subarray(0, summed), CHUNK, checksumType);
  fs.writeFileSync(
    path.join(dir, 'meta'),
    Buffer.concat([encodeMetaHeader({ chunkBytes: CHUNK, checksumType, genStamp }), sums]),
  );
}

describe('chooseRecoveryLength', () => {
  const cases: Array<[string, ReplicaAnswer[], { length: number; participants: string[] }]> = [
    [
      'unfinished replicas at one stamp: the shortest length, all of them take part',
      [answer('a', 5, 3000, UNFINISHED), answer('b', 5, 2048, UNFINISHED), answer('c', 5, 4096, UNFINISHED)],
      { length: 2048, participants: ['a', 'b', 'c'] },
    ],
    [
      'replicas at an older stamp (left by a pipeline recovery) neither count nor take part',
      [answer('a', 5, 3000, UNFINISHED), answer('old', 4, 100, UNFINISHED), answer('b', 5, 2500, UNFINISHED)],
      { length: 2500, participants: ['a', 'b'] },
    ],
    [
      'a finalized replica wins: its length, and the unfinished ones holding at least that much',
      [
        answer('a', 5, 3000, UNFINISHED),
        answer('f', 5, 2600, FINALIZED),
        answer('short', 5, 1000, UNFINISHED),
      ],
      { length: 2600, participants: ['a', 'f'] },
    ],
    ['no replica: length 0 and nobody (the block is dropped)', [], { length: 0, participants: [] }],
  ];
  it.each(cases)('%s', (_name, answers, expected) => {
    expect(chooseRecoveryLength(answers)).toEqual(expected);
  });
});

describe.each([ChecksumType.XXH32, ChecksumType.XXH64, ChecksumType.XXH3])(
  'validLength and truncateReplica (checksum type %i)',
  (type) => {
    const r = { chunkBytes: CHUNK, checksumType: type };
    it('the length is what data and checksums both cover', async () => {
      const dir = tmp();
      const data = Buffer.alloc(5 * CHUNK + 100, 7);
      writeReplica(dir, data, 3 * CHUNK, 5, type); // checksums lag behind the data
      expect(await validLength(path.join(dir, 'data'), path.join(dir, 'meta'), r)).toBe(3 * CHUNK);
      writeReplica(dir, data, data.length, 5, type);
      expect(await validLength(path.join(dir, 'data'), path.join(dir, 'meta'), r)).toBe(data.length);
    });

    it('a last chunk that does not match its checksum is dropped', async () => {
      const dir = tmp();
      const data = Buffer.alloc(4 * CHUNK, 3);
      writeReplica(dir, data, data.length, 5, type);
      // The last chunk's bytes were torn: only part of it reached the disk.
      fs.truncateSync(path.join(dir, 'data'), 3 * CHUNK + 10);
      expect(await validLength(path.join(dir, 'data'), path.join(dir, 'meta'), r)).toBe(3 * CHUNK);
    });

    it('cut mid-chunk: the last checksum is recomputed and the header carries the new stamp', async () => {
      const dir = tmp();
      const data = Buffer.from(Array.from({ length: 4 * CHUNK }, (_, i) => i % 251));
      writeReplica(dir, data, data.length, 5, type);
      const cut = 2 * CHUNK + 77;
      await truncateReplica(path.join(dir, 'data'), path.join(dir, 'meta'), r, cut, 9, osFileSync);
      expect(fs.readFileSync(path.join(dir, 'data')).equals(data.subarray(0, cut))).toBe(true);
      const meta = fs.readFileSync(path.join(dir, 'meta'));
      expect(decodeMetaHeader(meta, 'meta')).toEqual({ chunkBytes: CHUNK, checksumType: type, genStamp: 9 });
      expect(
        meta.subarray(META_HEADER_BYTES).equals(computeChecksums(data.subarray(0, cut), CHUNK, type)),
      ).toBe(true);
      expect(await validLength(path.join(dir, 'data'), path.join(dir, 'meta'), r)).toBe(cut);
    });
  },
);

describe('INIT and UPDATE on a DataNode storage', () => {
  async function context(): Promise<{ dn: DataNodeContext; received: unknown[] }> {
    const dir = tmp();
    // An rbw replica left by a writer: block 42, generation 5, 3 chunks and a bit.
    writeReplica(path.join(dir, 'current', 'rbw', 'blk_42'), Buffer.alloc(3 * CHUNK + 9, 1), 3 * CHUNK + 9);
    const log = silentLogger();
    const storage = new Storage([dir], 0, log);
    await storage.open();
    const received: unknown[] = [];
    const dn: DataNodeContext = {
      config: { ...DATANODE_DEFAULTS, dataDirs: [dir] },
      storage,
      log,
      self: () => ({ nodeId: storage.nodeId, host: '127.0.0.1', port: 0 }),
      blockReceived: (b) => received.push(b),
      faults: faultsFromEnv({}),
      sync: osFileSync,
      disk: new VolumeMonitor(storage, log, osFileSync, {
        replicaDropped: () => {},
        allVolumesFailed: () => {},
      }),
      metrics: new DatanodeMetrics(),
      transfers: new TransferCount(),
      writes: new WritesInProgress(),
    };
    return { dn, received };
  }

  it('the unfinished replica survives the restart and is recovered and finalized with the new stamp', async () => {
    const { dn, received } = await context();
    expect(dn.storage.unfinishedBlocks()).toEqual([{ blockId: 42, genStamp: 5, numBytes: 3 * CHUNK + 9 }]);
    expect(dn.storage.report().usedBytes).toBe(3 * CHUNK + 9);
    await expect(initReplicaRecovery(dn, 42, 5)).rejects.toMatchObject({ code: 'STALE_GENERATION' });
    await expect(initReplicaRecovery(dn, 7, 9)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await initReplicaRecovery(dn, 42, 8)).toEqual({
      genStamp: 5,
      numBytes: 3 * CHUNK + 9,
      state: UNFINISHED,
    });
    // A newer recovery wins: the older one can neither start again nor update.
    expect((await initReplicaRecovery(dn, 42, 9)).numBytes).toBe(3 * CHUNK + 9);
    await expect(initReplicaRecovery(dn, 42, 8)).rejects.toMatchObject({ code: 'STALE_GENERATION' });
    await expect(updateReplicaUnderRecovery(dn, 42, 8, CHUNK)).rejects.toMatchObject({
      code: 'STALE_GENERATION',
    });
    const block = await updateReplicaUnderRecovery(dn, 42, 9, 2 * CHUNK + 1);
    expect(block).toEqual({ blockId: 42, genStamp: 9, numBytes: 2 * CHUNK + 1 });
    expect(received).toEqual([block]);
    const r = dn.storage.replicas.get(42)!;
    expect([r.state, r.genStamp, r.numBytes]).toEqual(['finalized', 9, 2 * CHUNK + 1]);
    expect(fs.existsSync(r.volume.replicaDir('rbw', 42))).toBe(false);
    expect(fs.statSync(path.join(r.volume.replicaDir('finalized', 42), 'data')).size).toBe(2 * CHUNK + 1);
    expect(dn.storage.unfinishedBlocks()).toEqual([]);
    expect(dn.storage.report().usedBytes).toBe(2 * CHUNK + 1);
  });
});
