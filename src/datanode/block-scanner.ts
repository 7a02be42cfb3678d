/**
 * Background verification of finalized replicas (HDFS `VolumeScanner`): re-reads every
 * replica at a bounded rate, checks each chunk against its stored checksum, and reports a
 * corrupt replica to the NameNode, which has it replaced from a good copy and deleted.
 * One pass covers the replicas present when it starts; passes are `scanIntervalMs` apart.
 * The rate limit (`scanBytesPerSecond`) keeps the scanner from competing with clients.
 * A replica whose files cannot be read (ENOENT, EIO) is not corrupt but gone: it goes to
 * the volume monitor (volume-monitor.ts) like a failed client read. The directory scanner
 * hands it replicas whose sizes on disk look wrong (`verify`).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Block } from '../../protocol/shared-structures.js';
import { firstBadChunk } from '../common/checksum.js';
import type { DataNodeContext } from './datanode-context.js';
import { readReplicaPieces } from './replica-reader.js';
import { rethrowIfBug } from '../../protocol/errors.js';
import { osErrorCode } from './volume-monitor.js';

export class BlockScanner {
  private stopped = false;
  private readonly controller = new AbortController();
  replicasScanned = 0;
  corruptFound = 0;

  constructor(
    private readonly dn: DataNodeContext,
    private readonly reportBad: (b: Block) => Promise<void>,
  ) {}

  start(): void {
    void this.run();
  }

  stop(): void {
    this.stopped = true;
    this.controller.abort();
  }

  private async run(): Promise<void> {
    const { scanBytesPerSecond, scanIntervalMs } = this.dn.config;
    if (scanBytesPerSecond <= 0) return;
    try {
      await sleep(Math.min(scanIntervalMs, 5_000), undefined, { signal: this.controller.signal });
      while (!this.stopped) {
        const started = Date.now();
        let bytes = 0;
        for (const id of [...this.dn.storage.replicas.keys()]) {
          if (this.stopped) return;
          bytes += await this.verify(id);
          // Throttle: never ahead of the byte budget for the time elapsed.
          const aheadMs = (bytes / scanBytesPerSecond) * 1000 - (Date.now() - started);
          if (aheadMs > 0) await sleep(aheadMs, undefined, { signal: this.controller.signal });
        }
        this.dn.log.debug(
          { bytes, ms: Date.now() - started, replicas: this.dn.storage.replicas.size },
          'block scanner pass done',
        );
        await sleep(scanIntervalMs, undefined, { signal: this.controller.signal });
      }
    } catch (err) {
      rethrowIfBug(err);
      if (!this.stopped) this.dn.log.error({ err }, 'block scanner stopped');
    }
  }

  /** Verifies one replica, reporting it corrupt if it does not match its checksums; returns the bytes read. */
  async verify(blockId: number): Promise<number> {
    const r = this.dn.storage.replicas.get(blockId);
    if (r === undefined || r.state !== 'finalized') return 0;
    let bytes = 0;
    try {
      for await (const piece of readReplicaPieces(r, 0, r.numBytes)) {
        const bad = firstBadChunk(piece.payload, piece.checksums, r.chunkBytes, r.checksumType);
        bytes += piece.payload.length;
        piece.release();
        if (bad >= 0)
          throw new Error(`chunk at offset ${piece.offset + bad * r.chunkBytes} does not match its checksum`);
      }
      this.replicasScanned++;
    } catch (err) {
      rethrowIfBug(err);
      // A replica deleted during the scan is not corruption.
      if (this.dn.storage.replicas.get(blockId) !== r) return bytes;
      if (osErrorCode(err) !== undefined) {
        this.dn.disk.replicaUnreadable(r, err);
        return bytes;
      }
      this.corruptFound++;
      this.dn.log.warn(
        { block: blockId, gen: r.genStamp, err: (err as Error).message },
        'block scanner found a corrupt replica',
      );
      await this.reportBad({ blockId, genStamp: r.genStamp, numBytes: r.numBytes }).catch((e: Error) => {
        rethrowIfBug(e);
        this.dn.log.warn(
          { block: blockId, err: e.message },
          'could not report corrupt replica; will report on the next pass',
        );
      });
    }
    return bytes;
  }
}
