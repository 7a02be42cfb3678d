/**
 * Plain data types carried by NameNode RPCs. No behaviour here: these are what the codecs
 * in namenode-messages.ts encode and what the NameNode, the client and the CLI exchange.
 */

export const FileType = { DIRECTORY: 1, FILE: 2 } as const;
export type FileType = (typeof FileType)[keyof typeof FileType];

export interface FileStatus {
  /** Full path for `stat`, the child's name for `list`. */
  path: string;
  type: FileType;
  /** Bytes in complete blocks plus the acknowledged bytes of the last one. */
  length: number;
  replication: number;
  blockBytes: number;
  mtimeMs: number;
  blockCount: number;
  /** True while a writer holds the file open (lease). */
  underConstruction: boolean;
  /** Number of children for a directory, 0 for a file. */
  childCount: number;
}

export interface DatanodeInfo {
  nodeId: string;
  host: string;
  port: number;
}

export interface Block {
  blockId: number;
  genStamp: number;
  numBytes: number;
}

export interface LocatedBlock {
  block: Block;
  /** Offset of the block's first byte within the file. */
  offset: number;
  /** Replicas in order of preference. */
  locations: DatanodeInfo[];
}

export interface LocatedBlocks {
  fileLength: number;
  underConstruction: boolean;
  blocks: LocatedBlock[];
}

export interface ServerInfo {
  clusterId: string;
  version: string;
  safeMode: boolean;
  lastTxid: number;
  fileCount: number;
  directoryCount: number;
  blockCount: number;
}
