/**
 * Blocks reserved one ahead of a writer (client-rpc.ts `reserveBlock`): while a block
 * streams, its writer asks for the next one's identity and targets and builds that block's
 * pipeline, so at the boundary it only attaches it (`addBlock` naming the reservation)
 * instead of standing still for the edit log's sync and the pipeline's set-up.
 *
 * A reservation is durable only in its counters (RESERVE_BLOCK: the id and stamp are never
 * given again); the rest lives here, in memory: a NameNode that restarts or fails over
 * knows none, and a writer's attach is then refused and it adds a block the usual way. So:
 *
 *   | event                                   | reservation                              |
 *   |-----------------------------------------|------------------------------------------|
 *   | reserveBlock                            | the file's one (a previous one discarded)|
 *   | addBlock naming it, after its block     | taken: the file's new last block         |
 *   | the file closed or removed              | discarded                                |
 *   | an rbw replica of it reported           | kept (the writer's pipeline made it)     |
 *
 * Discarded reservations' targets may hold an empty rbw replica the writer's pipeline made:
 * the caller deletes it (block-manager.ts). At most one per file under construction, so
 * the map is bounded by the open files.
 */
import type { Block, DatanodeInfo } from '../../protocol/shared-structures.js';
import type { FileNode } from './inode.js';

export interface Reservation {
  readonly file: FileNode;
  readonly clientName: string;
  /** The file's last block when reserved: the reservation follows it and no other. */
  readonly afterBlockId: number;
  readonly block: Block;
  readonly targets: readonly DatanodeInfo[];
}

export class BlockReservations {
  private readonly byFile = new Map<FileNode, Reservation>();
  /** The reserved block ids, for block reports. */
  private readonly blockIds = new Set<number>();

  /** Keeps `r` as its file's reservation; returns the one it replaces, if any. */
  put(r: Reservation): Reservation | undefined {
    const before = this.drop(r.file);
    this.byFile.set(r.file, r);
    this.blockIds.add(r.block.blockId);
    return before;
  }

  /** The file's reservation if it is `blockId`, made by `clientName` after `afterBlockId`. */
  find(file: FileNode, clientName: string, afterBlockId: number, blockId: number): Reservation | undefined {
    const r = this.byFile.get(file);
    if (r === undefined || r.block.blockId !== blockId) return undefined;
    return r.clientName === clientName && r.afterBlockId === afterBlockId ? r : undefined;
  }

  /** True when `blockId` is reserved and not attached yet. */
  has(blockId: number): boolean {
    return this.blockIds.has(blockId);
  }

  /** Removes and returns the file's reservation, if any. */
  drop(file: FileNode): Reservation | undefined {
    const r = this.byFile.get(file);
    if (r === undefined) return undefined;
    this.byFile.delete(file);
    this.blockIds.delete(r.block.blockId);
    return r;
  }
}
