/**
 * Block health, as `dfs fsck` shows it (the blockHealth RPC, PROTOCOL.md 0x14): for each
 * block of a file, every replica the NameNode knows of with what it is worth, and one
 * verdict for the block. The NameNode judges, not the client, so every tool agrees with
 * the replication monitor about what "under-replicated" or "corrupt" means.
 *
 *   | replicas (LIVE = counted; DECOMMISSION* = readable, not counted; | verdict           |
 *   | CORRUPT, STALE, DELETING = neither)                              |                   |
 *   |------------------------------------------------------------------|-------------------|
 *   | the block a writer is still writing                              | UNDER_CONSTRUCTION|
 *   | nothing readable, some CORRUPT                                   | CORRUPT           |
 *   | nothing readable, no CORRUPT                                     | MISSING           |
 *   | LIVE < the file's replication                                    | UNDER_REPLICATED  |
 *   | LIVE > the file's replication                                    | OVER_REPLICATED   |
 *   | LIVE = the file's replication                                    | HEALTHY           |
 *
 * Replies are paged by block index so a file of any size fits the frame limit: a page ends
 * at `limit` blocks or once its estimated size passes PAGE_BYTES_BUDGET, whichever is first.
 */
import { LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX } from '../../protocol/limits.js';
import {
  BlockHealthState,
  ReplicaState,
  type BlockHealth,
  type BlockHealthResponse,
  type ReplicaHealth,
} from '../../protocol/admin-namenode-messages.js';
import { blockOf, type FileNode } from './inode.js';

/** Far below RPC_BODY_BYTES_MAX, so a page never nears the frame limit. */
const PAGE_BYTES_BUDGET = 4 * 1024 * 1024;

/** Who holds the replicas of a block and in what state (block-manager.ts). */
export interface ReplicaView {
  replicaStates(blockId: number): ReplicaHealth[];
}

/** The verdict for one block (table above). */
export function blockHealthOf(
  replicas: readonly ReplicaHealth[],
  expected: number,
  beingWritten: boolean,
): BlockHealthState {
  if (beingWritten) return BlockHealthState.UNDER_CONSTRUCTION;
  let counted = 0;
  let readable = 0;
  let corrupt = 0;
  for (const r of replicas) {
    if (r.state === ReplicaState.LIVE) counted++;
    if (
      r.state === ReplicaState.LIVE ||
      r.state === ReplicaState.DECOMMISSIONING ||
      r.state === ReplicaState.DECOMMISSIONED
    )
      readable++;
    if (r.state === ReplicaState.CORRUPT) corrupt++;
  }
  if (readable === 0) return corrupt > 0 ? BlockHealthState.CORRUPT : BlockHealthState.MISSING;
  if (counted < expected) return BlockHealthState.UNDER_REPLICATED;
  if (counted > expected) return BlockHealthState.OVER_REPLICATED;
  return BlockHealthState.HEALTHY;
}

/** Upper bound of a BlockHealth's encoded size (UTF-8 takes at most 3 bytes per UTF-16 unit). */
function encodedBytesMax(h: BlockHealth): number {
  let n = 37;
  for (const r of h.replicas) n += 7 + 3 * (r.node.nodeId.length + r.node.host.length);
  return n;
}

/** One page of a file's block health, from block index `startBlock` on. */
export function fileBlockHealth(
  file: FileNode,
  view: ReplicaView,
  startBlock: number,
  limit: number,
): BlockHealthResponse {
  const max = limit === 0 ? LIST_LIMIT_DEFAULT : Math.min(limit, LIST_LIMIT_MAX);
  let offset = 0;
  for (let i = 0; i < startBlock && i < file.blockCount; i++) offset += file.blockAt(i)!.numBytes;
  const blocks: BlockHealth[] = [];
  let bytes = 0;
  let next = startBlock;
  while (next < file.blockCount && blocks.length < max && bytes < PAGE_BYTES_BUDGET) {
    const meta = file.blockAt(next)!;
    const beingWritten = file.clientName !== null && next === file.blockCount - 1;
    const replicas = view.replicaStates(meta.blockId);
    const entry: BlockHealth = {
      block: blockOf(meta),
      offset,
      health: blockHealthOf(replicas, file.replication, beingWritten),
      replicas,
    };
    blocks.push(entry);
    bytes += encodedBytesMax(entry);
    offset += meta.numBytes;
    next++;
  }
  return {
    fileLength: file.length,
    replication: file.replication,
    underConstruction: file.underConstruction,
    blocks,
    hasMore: next < file.blockCount,
  };
}
