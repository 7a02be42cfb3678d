/** The DFS client library. */
export { DfsClient, namenodeAddressFrom, DEFAULT_BLOCK_BYTES, DEFAULT_REPLICATION } from './dfs-client.js';
export type { CreateOptions, DfsClientOptions } from './dfs-client.js';
export { DfsError, isDfsError } from '../../protocol/errors.js';
export type { ErrorCode } from '../../protocol/errors.js';
export type { FileStatus, LocatedBlock } from '../../protocol/shared-structures.js';
export type { LocatedBlocks, ServerInfo } from '../../protocol/client-namenode-messages.js';
export { DfsOutputStream } from './dfs-output-stream.js';
export type { OutputStreamOptions } from './dfs-output-stream.js';
export { DfsInputStream } from './dfs-input-stream.js';
export type { InputStreamOptions } from './dfs-input-stream.js';
export { NamenodeClient } from './namenode-client.js';
export type { ClientRpcName, NamenodeClientOptions } from './namenode-client.js';
export type { FileChecksum } from './file-checksum.js';
