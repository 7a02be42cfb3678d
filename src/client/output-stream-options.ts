/**
 * What a file's writing is configured with and needs from its client: the options of
 * DfsClient.create/append (./dfs-output-stream.ts), the narrow client interface the stream
 * sees (DfsClient is one, tests pass a fake), and the create request built from both. Kept
 * apart from the stream so its file stays about the stream's own work.
 */
import type { ChecksumType } from '../../protocol/data-messages.js';
import type { RpcRequest } from '../../protocol/namenode-messages.js';
import type { LocalFirstHop } from '../common/pipeline-connect.js';
import type { BlockWriterNamenode } from './block-writer.js';
import type { NamenodeClient } from './namenode-client.js';

/**
 * Enough in flight to keep a three-node pipeline streaming while processes share a few
 * cores (a packet's send-to-ack time reaches 100+ ms there); memory per writer is bounded
 * by it.
 */
export const WINDOW_BYTES_DEFAULT = 32 * 1024 * 1024;

export interface CreateOptions {
  overwrite?: boolean;
  createParent?: boolean;
  replication?: number;
  blockBytes?: number;
  /** Mode of the new file before the umask (default 0666, HDFS). */
  permission?: number;
}

/** HDFS's default umask (`fs.permissions.umask-mode`). */
export const DEFAULT_UMASK = 0o022;

/** The NameNode calls a file's writing makes: its own and its block writers'. */
export type OutputStreamNamenode = Pick<NamenodeClient, 'create' | 'complete' | 'append' | 'fsync'> &
  BlockWriterNamenode;

/** What an output stream needs from its client (DfsClient is one; tests pass a fake). */
export interface OutputStreamClient {
  readonly clientName: string;
  readonly namenodeClient: OutputStreamNamenode;
  readonly defaultReplication: number;
  readonly defaultBlockBytes: number;
  /** The checksum algorithm of the blocks this client writes (default CHECKSUM_TYPE_DEFAULT, xxh3). */
  readonly checksumType?: ChecksumType;
  /** Bits taken from the mode of what this client creates (default DEFAULT_UMASK). */
  readonly umask?: number;
  /** This process's own DataNode, when there is one (BlockWriterHost.localFirstHop). */
  readonly localFirstHop?: LocalFirstHop | undefined;
  /** `path` is open for writing: renew the lease until endFileLease. */
  beginFileLease(path: string): void;
  /** `path` is complete or abandoned. */
  endFileLease(path: string): void;
}

/** The create request for `path`, the client's defaults filling what `options` leaves out. */
export function createRequest(
  client: Pick<OutputStreamClient, 'clientName' | 'defaultReplication' | 'defaultBlockBytes' | 'umask'>,
  path: string,
  options: CreateOptions,
): RpcRequest<'create'> {
  return {
    path,
    clientName: client.clientName,
    overwrite: options.overwrite ?? false,
    createParent: options.createParent ?? true,
    replication: options.replication ?? client.defaultReplication,
    blockBytes: options.blockBytes ?? client.defaultBlockBytes,
    permission: (options.permission ?? 0o666) & ~(client.umask ?? DEFAULT_UMASK) & 0o777,
  };
}

export interface OutputStreamOptions extends CreateOptions {
  chunkBytes?: number;
  /**
   * The checksum algorithm of the new blocks (default: the client's). Appending to a last
   * block with room continues it with its replicas' own algorithm.
   */
  checksumType?: ChecksumType;
  /**
   * Payload bytes per packet, rounded down to whole chunks (default and at most 2 MiB,
   * PACKET_PAYLOAD_BYTES_MAX). DataNodes older than the 2 MiB packet take at most 1 MiB:
   * writers set 1 MiB until every DataNode is upgraded.
   */
  packetBytes?: number;
  /** Unacknowledged bytes allowed in flight (default 32 MiB: 16 packets over the pipeline and two blocks). */
  windowBytes?: number;
  signal?: AbortSignal;
  /** How long `complete` may wait for block reports (default 60 s). */
  completeTimeoutMs?: number;
  /** Called with each packet's send-to-ack time in microseconds (benchmarks). */
  onPacketAcked?: (latencyUs: number) => void;
  /**
   * Called with the microseconds the stream waited for each new block while it sent
   * nothing: for the block reserved ahead to be ready, or for the NameNode's addBlock and
   * the pipeline's set-up (benchmarks).
   */
  onBlockWait?: (waitUs: number) => void;
  /**
   * Reserve each next block and set up its pipeline while the current one is written, so
   * block boundaries do not wait for them (default true; false: at the boundary, as HDFS).
   */
  reserveAhead?: boolean;
  /** Continue the existing file (DfsClient.append) instead of creating it; the create options are ignored. */
  append?: boolean;
  /**
   * The producer never touches a chunk again once written (./write-through-copy.ts: stdin,
   * sockets, DFS reads not borrowed): a chunk holding a whole packet is sent as it is, not
   * copied into a packet buffer. A local file needs none of it: DfsOutputStream.writeFrom.
   */
  adoptChunks?: boolean;
}
