/**
 * The DataNode's Prometheus metrics (README.md, "Metrics", lists each with its meaning).
 *
 * The data path pays one integer add per packet (`bytesRead`) or per block (everything
 * else): the counters are plain numbers here, read by prom-client at scrape time
 * (metrics.ts `countersOf`). Durations are observed once per block or per sync, on label
 * children made once (`HistogramChildren`), never per packet. Gauges (volumes, held
 * packet bytes, transfers, registration) are read from the DataNode's own state when
 * scraped; a scrape costs one statfs per volume.
 */
import { pageAlignedStats } from '../common/page-aligned.js';
import { slabStats } from '../common/read-slabs.js';
import { readBufferStats } from './replica-reader.js';
import type { Registry } from 'prom-client';
import type { FileSync } from '../common/file-sync.js';
import {
  HistogramChildren,
  SECONDS_BUCKETS,
  countersOf,
  daemonRegistry,
  gaugesOf,
  labelledOf,
} from '../common/metrics.js';
import { Histogram } from 'prom-client';
import { rethrowIfBug } from '../../protocol/errors.js';

/** What the metrics read from the DataNode, declared here by their consumer. */
export interface DatanodeMetricsSource {
  volumes: () => ReadonlyArray<{ dir: string; usedBytes: number; space: () => VolumeSpace }>;
  replicas: () => number;
  packetBytesHeld: () => number;
  activeTransfers: () => number;
  registered: () => boolean;
  /** Corrupt replicas the block scanner found (block-scanner.ts `corruptFound`). */
  scannerCorruptFound: () => number;
  dataConnections: () => number;
  httpConnections: () => number;
}

export interface VolumeSpace {
  capacityBytes: number;
  remainingBytes: number;
}

export type DatanodeOp = 'write' | 'read' | 'copy' | 'fsync';

/** The state of a part used alone (unit tests): no volumes, nothing under way. */
const IDLE_SOURCE: DatanodeMetricsSource = {
  volumes: () => [],
  replicas: () => 0,
  packetBytesHeld: () => 0,
  activeTransfers: () => 0,
  registered: () => false,
  scannerCorruptFound: () => 0,
  dataConnections: () => 0,
  httpConnections: () => 0,
};

export class DatanodeMetrics {
  readonly registry: Registry;
  /** Payload bytes sent to readers (added per packet). */
  bytesRead = 0;
  blocksRead = 0;
  bytesWritten = 0;
  blocksWritten = 0;
  bytesReplicated = 0;
  blocksReplicated = 0;
  blocksRemoved = 0;
  /** Commands dropped because they came from a NameNode with an older epoch (namenode-epoch.ts). */
  fencedCommands = 0;
  /** Received packets whose checksums did not match (this node verified them). */
  pipelineChecksumFailures = 0;
  /** Times each volume was taken out of service after I/O errors (volume-monitor.ts). */
  private readonly volumeFailures = new Map<string, number>();
  private readonly ops: HistogramChildren<DatanodeOp>;
  private readonly heartbeats: Histogram;

  constructor(source: DatanodeMetricsSource = IDLE_SOURCE) {
    const r = (this.registry = daemonRegistry());
    countersOf(r, {
      dfs_datanode_bytes_read_total: ['Block bytes sent to readers', () => this.bytesRead],
      dfs_datanode_blocks_read_total: ['Block reads served to the end', () => this.blocksRead],
      dfs_datanode_bytes_written_total: [
        'Bytes of replicas written and finalized here (clients and copies)',
        () => this.bytesWritten,
      ],
      dfs_datanode_blocks_written_total: ['Replicas written and finalized here', () => this.blocksWritten],
      dfs_datanode_bytes_replicated_total: [
        'Bytes of replicas this node copied to others (NameNode REPLICATE commands)',
        () => this.bytesReplicated,
      ],
      dfs_datanode_blocks_replicated_total: [
        'Replicas this node copied to others',
        () => this.blocksReplicated,
      ],
      dfs_datanode_blocks_removed_total: [
        'Replicas deleted on the NameNode request',
        () => this.blocksRemoved,
      ],
      dfs_datanode_fenced_commands_total: [
        'Commands dropped because they came from a NameNode with an older HA epoch (a deposed active)',
        () => this.fencedCommands,
      ],
    });
    gaugesOf(r, {
      dfs_datanode_replicas: ['Replicas held (finalized and being written)', source.replicas],
      dfs_datanode_packet_bytes_held: [
        'Packet payload bytes received and not yet on disk (bounded by packetBytesHeldMax)',
        source.packetBytesHeld,
      ],
      dfs_datanode_active_transfers: ['Reads, writes and copies under way', source.activeTransfers],
      dfs_datanode_registered: ['1 while registered with the NameNode', () => (source.registered() ? 1 : 0)],
      dfs_datanode_data_connections: ['Open connections on the data port', source.dataConnections],
      dfs_datanode_http_connections: ['Open HTTP connections', source.httpConnections],
      dfs_datanode_read_slabs_in_use: [
        'Slabs of 1 MiB that data-port reads hold now (capped per process; src/common/read-slabs.ts)',
        () => slabStats().inUse,
      ],
      dfs_datanode_read_slabs_allocated: [
        'Slabs of 1 MiB allocated since start: flat while transfers reuse them',
        () => slabStats().allocated,
      ],
      dfs_datanode_read_slabs_free: [
        'Slabs of 1 MiB kept free for reuse (within the cap with those in use; what sits unused is let go down to 64)',
        () => slabStats().free,
      ],
      dfs_datanode_read_buffer_bytes: [
        'Bytes replica reads hold now, read ahead or being sent (bounded by readBufferBytesMax)',
        () => readBufferStats().heldBytes,
      ],
      dfs_datanode_reads_waiting: [
        'Replica reads waiting for buffers under readBufferBytesMax',
        () => readBufferStats().waiting,
      ],
      dfs_datanode_file_read_buffers_allocated: [
        'Page-aligned buffers file reads go into (replicas sent, packets of in-process writers), allocated since start: flat while they are reused (src/common/page-aligned.ts)',
        () => pageAlignedStats().allocated,
      ],
      dfs_datanode_file_read_buffers_free_bytes: [
        'Bytes of those buffers kept free for reuse (at most 160 MiB; what sits unused is let go down to 32 MiB)',
        () => pageAlignedStats().freeBytes,
      ],
      dfs_datanode_file_read_buffers_unaligned: [
        'Of those, ordinary buffers made because no address space could be reserved (an address-space limit such as ulimit -v): reads into them cost more CPU',
        () => pageAlignedStats().unaligned,
      ],
    });
    labelledOf(
      r,
      'counter',
      'dfs_datanode_checksum_failures_total',
      'Checksum mismatches found here, by finder: pipeline (data received) or scanner (data at rest)',
      'found_by',
      () => [
        ['pipeline', this.pipelineChecksumFailures],
        ['scanner', source.scannerCorruptFound()],
      ],
    );
    // A volume whose file system cannot be read (a failed disk) is left out, not the scrape.
    const spaces = (): Array<{ dir: string; space: VolumeSpace }> =>
      source.volumes().flatMap((v) => {
        try {
          return [{ dir: v.dir, space: v.space() }];
        } catch (err) {
          rethrowIfBug(err);
          return [];
        }
      });
    const byVolume: Array<
      [kind: 'gauge' | 'counter', name: string, help: string, read: () => Array<readonly [string, number]>]
    > = [
      [
        'counter',
        'dfs_datanode_volume_failures_total',
        'Times the volume was taken out of service after I/O errors (it stays out until a restart)',
        () => source.volumes().map((v) => [v.dir, this.volumeFailures.get(v.dir) ?? 0] as const),
      ],
      [
        'gauge',
        'dfs_datanode_volume_capacity_bytes',
        'Size of each volume',
        () => spaces().map((v) => [v.dir, v.space.capacityBytes] as const),
      ],
      [
        'gauge',
        'dfs_datanode_volume_used_bytes',
        'Bytes of finalized replicas per volume',
        () => source.volumes().map((v) => [v.dir, v.usedBytes] as const),
      ],
      [
        'gauge',
        'dfs_datanode_volume_remaining_bytes',
        'Bytes left for DFS per volume (free space less the reserve)',
        () => spaces().map((v) => [v.dir, v.space.remainingBytes] as const),
      ],
    ];
    for (const [kind, name, help, read] of byVolume) labelledOf(r, kind, name, help, 'volume', read);
    this.ops = new HistogramChildren(
      r,
      'dfs_datanode_op_duration_seconds',
      'Duration of a block write (setup to finalize), read, copy to another node, or fsync',
      'op',
      (op) => op,
    );
    this.heartbeats = new Histogram({
      name: 'dfs_datanode_heartbeat_duration_seconds',
      help: 'Round trip of a heartbeat to the NameNode (commands included)',
      buckets: SECONDS_BUCKETS,
      registers: [r],
    });
  }

  blockWritten(bytes: number, seconds: number): void {
    this.bytesWritten += bytes;
    this.blocksWritten++;
    this.ops.child('write').observe(seconds);
  }

  blockRead(seconds: number): void {
    this.blocksRead++;
    this.ops.child('read').observe(seconds);
  }

  blockCopied(bytes: number, seconds: number): void {
    this.bytesReplicated += bytes;
    this.blocksReplicated++;
    this.ops.child('copy').observe(seconds);
  }

  volumeFailed(dir: string): void {
    this.volumeFailures.set(dir, (this.volumeFailures.get(dir) ?? 0) + 1);
  }

  heartbeat(seconds: number): void {
    this.heartbeats.observe(seconds);
  }

  /** `sync` with every fdatasync and fsync timed (op "fsync"). */
  timedSync(sync: FileSync): FileSync {
    const fsync = this.ops.child('fsync');
    const timed =
      (f: (fd: number) => Promise<void>) =>
      async (fd: number): Promise<void> => {
        const t = performance.now();
        await f(fd);
        fsync.observe((performance.now() - t) / 1000);
      };
    return { fdatasync: timed((fd) => sync.fdatasync(fd)), fsync: timed((fd) => sync.fsync(fd)) };
  }
}
