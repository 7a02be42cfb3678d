/**
 * What a DataNode's storage does at start with replicas it cannot read
 * (src/datanode/storage.ts): it moves them to the volume's quarantine/ and loads the rest.
 * Deleting them would lose data on a rollback: a release that does not know a newer meta
 * format (a checksum type added later) must leave those replicas for the release that does.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ChecksumType } from '../../protocol/data-messages.js';
import { silentLogger } from '../../src/common/logger.js';
import { encodeMetaHeader } from '../../src/datanode/replica-meta.js';
import { Storage } from '../../src/datanode/storage.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** Writes finalized replica `blockId` with `meta` as its meta file and 10 bytes of data. */
function writeReplica(volume: string, blockId: number, meta: Buffer): string {
  const dir = path.join(volume, 'current', 'finalized', `blk_${blockId}`);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'data'), Buffer.alloc(10, blockId));
  fs.writeFileSync(path.join(dir, 'meta'), meta);
  return dir;
}

describe('storage: replicas it cannot read', () => {
  it('are moved to quarantine/ with their files, not deleted; the readable ones load', async () => {
    const volume = fs.mkdtempSync(path.join(os.tmpdir(), 'dfs-storage-load-'));
    dirs.push(volume);
    const header = encodeMetaHeader({ chunkBytes: 512, checksumType: ChecksumType.XXH3, genStamp: 7 });
    writeReplica(volume, 1, Buffer.concat([header, Buffer.alloc(8)]));
    // A checksum type this release does not know (as xxh3 was to the one before it).
    const unknown = Buffer.from(header);
    unknown.writeUInt8(200, 6);
    const bad = writeReplica(volume, 2, Buffer.concat([unknown, Buffer.alloc(8)]));
    // And one whose meta file is cut short.
    const torn = writeReplica(volume, 3, header.subarray(0, 10));

    const storage = new Storage([volume], 0, silentLogger());
    await storage.open();

    expect(storage.replicas.get(1)?.checksumType).toBe(ChecksumType.XXH3);
    expect(storage.replicas.get(2)).toBeUndefined();
    expect(storage.replicas.get(3)).toBeUndefined();
    expect(fs.existsSync(bad)).toBe(false);
    expect(fs.existsSync(torn)).toBe(false);
    const quarantine = path.join(volume, 'current', 'quarantine');
    const kept = fs.readdirSync(quarantine).sort();
    expect(kept.map((n) => n.replace(/-\d+$/, ''))).toEqual(['blk_2', 'blk_3']);
    const moved = path.join(quarantine, kept[0]!);
    expect(fs.readFileSync(path.join(moved, 'data'))).toEqual(Buffer.alloc(10, 2));
    expect(fs.readFileSync(path.join(moved, 'meta'))).toEqual(Buffer.concat([unknown, Buffer.alloc(8)]));
  });
});
