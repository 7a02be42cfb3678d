/**
 * Append and hflush on the NameNode (HDFS `FSDirAppendOp`, `FSNamesystem.fsync`).
 *
 * append: the caller takes the file's lease. When its last block has room, the block is
 * reopened under a new generation stamp and handed back with its live replicas, over which
 * the writer builds its pipeline (WRITE_BLOCK stage APPEND); those nodes become the block's
 * unfinished locations, where a block recovery looks should the appender die. Otherwise
 * (an empty file, a full last block) the writer adds a block as a new file's writer does.
 * The APPEND edit is durable before the answer (client-rpc.ts `mutate`).
 *
 *   | the file                                  | answer                                  |
 *   |-------------------------------------------|-----------------------------------------|
 *   | missing / a directory                     | NOT_FOUND / IS_A_DIRECTORY              |
 *   | open, its writer's lease alive            | LEASE_CONFLICT                          |
 *   | open, its writer's lease expired          | RECOVERY_IN_PROGRESS, its recovery      |
 *   |                                           | started now if the lease monitor has    |
 *   |                                           | not yet (HDFS recoverLeaseInternal)     |
 *   | last block with room, no live replica     | BLOCK_UNAVAILABLE                       |
 *   | last block with room                      | reopened: new stamp, its replicas       |
 *   | empty, or last block full                 | lease only; the writer adds a block     |
 *
 * fsync (what hflush sends once every node acknowledged a flush packet): the block being
 * written is readable up to that length; readers, `stat` and `tail -f` see it at once. The
 * length lives in memory only (Namespace.setVisibleLength says why).
 */
import { DfsError } from '../../protocol/errors.js';
import type { AppendRequest, AppendResponse } from '../../protocol/client-namenode-messages.js';
import type { DatanodeInfo, LocatedBlock } from '../../protocol/shared-structures.js';
import { NONE, type EditOp } from './edit-ops.js';
import { blockOf, statusOf, type FileNode } from './inode.js';
import type { LeaseManager } from './lease-manager.js';
import type { Namespace } from './namespace.js';

/** What append needs of the block management (block-manager.ts has it). */
export interface AppendBlocks {
  locations(blockId: number): DatanodeInfo[];
  pipelineTargets(blockId: number, nodeIds: readonly string[]): void;
}

export interface PreparedAppend {
  op: EditOp;
  /** Run once the op is applied: records the pipeline's nodes and builds the answer. */
  answer: () => AppendResponse;
}

export interface AppendContext {
  namespace: Namespace;
  leases: LeaseManager;
  blocks: AppendBlocks;
  /** Starts the recovery of an abandoned file, or lets the one under way go on. */
  recoverAbandoned: (path: string, file: FileNode) => void;
}

/** Checks the append and builds its edit; throws the typed refusal of the table above. */
export function prepareAppend(ctx: AppendContext, req: AppendRequest): PreparedAppend {
  const { namespace: ns, leases, blocks } = ctx;
  if (req.clientName.length === 0) throw new DfsError('INVALID_ARGUMENT', 'append needs a client name');
  const file = ns.file(req.path);
  if (file.clientName !== null) {
    if (file.clientName !== req.clientName && leases.isExpired(file.clientName)) {
      ctx.recoverAbandoned(req.path, file);
      throw new DfsError(
        'RECOVERY_IN_PROGRESS',
        `${req.path}: the lease of its writer (${file.clientName}) expired and the file is being recovered; try again later`,
      );
    }
    throw new DfsError(
      'LEASE_CONFLICT',
      `${req.path} is being written by another client (${file.clientName})`,
    );
  }
  const last = file.lastBlock;
  const reopen = last !== undefined && last.numBytes < file.blockBytes;
  const replicas = reopen ? blocks.locations(last.blockId) : [];
  if (reopen && replicas.length === 0)
    throw new DfsError(
      'BLOCK_UNAVAILABLE',
      `${req.path}: no live DataNode holds its last block ${last.blockId} to append to`,
    );
  const op: EditOp = {
    op: 'append',
    path: req.path,
    clientName: req.clientName,
    genStamp: reopen ? ns.allocateGenStamp() : NONE,
  };
  return {
    op,
    answer: () => {
      if (reopen)
        blocks.pipelineTargets(
          last.blockId,
          replicas.map((r) => r.nodeId),
        );
      return {
        status: statusOf(file, req.path),
        lastBlock: last === undefined ? null : located(file, replicas),
        reopened: reopen,
      };
    },
  };
}

function located(file: FileNode, replicas: DatanodeInfo[]): LocatedBlock {
  const last = file.lastBlock!;
  return { block: blockOf(last), offset: file.length - last.numBytes, locations: replicas };
}
