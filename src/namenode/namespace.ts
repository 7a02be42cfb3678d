/**
 * The in-memory namespace: a tree of directories and files, the block id and generation
 * stamp counters, and the one function that changes them, `apply`. Every mutation, live or
 * replayed from the edit log, goes through `apply`, which checks everything first and only
 * then mutates, so an operation either happens whole or fails with a typed error and leaves
 * the tree untouched. Replay of a logged op must succeed; if it does not, the log is corrupt.
 *
 * Nodes get their owner, group and mode as they are made (ownership.ts); whether the caller
 * may make them is judged before, in permission-checker.ts, never here.
 *
 * Listeners hear about files leaving the tree (deleted or overwritten) so the lease manager
 * and the block map can drop what referred to them.
 */
import { DfsError } from '../../protocol/errors.js';
import type { FileStatus } from '../../protocol/shared-structures.js';
import { NONE, type EditOp, type Owned } from './edit-ops.js';
import {
  changeMode,
  changeOwner,
  legacyOwners,
  ownNewNode,
  processOwners,
  type DefaultOwners,
} from './ownership.js';
import { beforeWrite, DirNode, FileNode, statusOf, type BlockMeta, type INode } from './inode.js';
import { checkSubtreeFits, isSameOrBeneath, joinPath, parsePath } from './path-rules.js';
import { fileSpace, Quotas, subtreeUsage } from './quota.js';

export interface NamespaceListener {
  /** A file left the namespace; its blocks are garbage. */
  fileRemoved(file: FileNode): void;
  /** A file was opened for writing by `clientName` (create). */
  fileOpened(file: FileNode): void;
  /** A file under construction was closed (complete or lease recovery). */
  fileClosed(file: FileNode, clientName: string): void;
  /** Blocks left a file that stays (abandon, lease recovery). */
  blocksRemoved(blocks: readonly BlockMeta[]): void;
  /** A block was added to a file being written. */
  blockAdded?(file: FileNode, block: BlockMeta): void;
  /** A file's target replication changed. */
  replicationChanged?(file: FileNode): void;
  /** A block got a new generation stamp (pipeline recovery): older replicas are stale. */
  genStampBumped?(block: BlockMeta): void;
}

export const REPLICATION_MAX = 32;
export const BLOCK_BYTES_MIN = 1024;
export const BLOCK_BYTES_MAX = 16 * 1024 * 1024 * 1024;

export class Namespace {
  readonly root = new DirNode('', null, 0);
  nextBlockId = 1;
  nextGenStamp = 1;
  fileCount = 0;
  dirCount = 1;
  blockCount = 0;
  /** Directory quotas and their usage (quota.ts). */
  readonly quotas = new Quotas();
  private readonly listeners: NamespaceListener[] = [];

  constructor(readonly owners: DefaultOwners = processOwners()) {
    Object.assign(this.root, legacyOwners(owners, true));
  }

  addListener(listener: NamespaceListener): void {
    this.listeners.push(listener);
  }

  // ---- reads -----------------------------------------------------------------------

  lookup(path: string): INode | null {
    return this.resolve(parsePath(path));
  }

  private resolve(parts: readonly string[]): INode | null {
    let node: INode = this.root;
    for (const name of parts) {
      if (node.kind !== 'dir') return null;
      const next: INode | undefined = node.children.get(name);
      if (next === undefined) return null;
      node = next;
    }
    return node;
  }

  /** Resolves the parent directory of `parts`, with the errors an operation on it expects. */
  private parentDir(parts: readonly string[], path: string): DirNode {
    let node: INode = this.root;
    for (let i = 0; i < parts.length - 1; i++) {
      const next: INode | undefined = node.kind === 'dir' ? node.children.get(parts[i]!) : undefined;
      if (next === undefined)
        throw new DfsError(
          'NOT_FOUND',
          `parent of ${path} does not exist: ${joinPath(parts.slice(0, i + 1))}`,
        );
      if (next.kind !== 'dir')
        throw new DfsError('NOT_A_DIRECTORY', `${joinPath(parts.slice(0, i + 1))} is a file, in ${path}`);
      node = next;
    }
    return node;
  }

  stat(path: string): FileStatus {
    const node = this.lookup(path);
    if (node === null) throw new DfsError('NOT_FOUND', `${path}: no such file or directory`);
    return statusOf(node, path);
  }

  list(path: string, startAfter: string, limit: number): { entries: FileStatus[]; hasMore: boolean } {
    const node = this.lookup(path);
    if (node === null) throw new DfsError('NOT_FOUND', `${path}: no such file or directory`);
    if (node.kind === 'file') return { entries: [statusOf(node, node.name)], hasMore: false };
    const names = node.sortedNames();
    let lo = 0;
    if (startAfter !== '') {
      // First name strictly greater than startAfter (binary search over the sorted names).
      let hi = names.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (names[mid]! <= startAfter) lo = mid + 1;
        else hi = mid;
      }
    }
    const end = Math.min(names.length, lo + limit);
    const entries: FileStatus[] = [];
    for (let i = lo; i < end; i++) {
      const name = names[i]!;
      entries.push(statusOf(node.children.get(name)!, name));
    }
    return { entries, hasMore: end < names.length };
  }

  file(path: string): FileNode {
    const node = this.lookup(path);
    if (node === null) throw new DfsError('NOT_FOUND', `${path}: no such file`);
    if (node.kind !== 'file') throw new DfsError('IS_A_DIRECTORY', `${path} is a directory`);
    return node;
  }

  /** The file `clientName` holds open at `path`, or the typed reason it does not. */
  fileUnderConstruction(path: string, clientName: string): FileNode {
    const file = this.file(path);
    if (file.clientName === null) throw new DfsError('NO_LEASE', `${path} is not open for writing`);
    if (file.recovering)
      throw new DfsError(
        'NO_LEASE',
        `${path}: the writer's lease expired; the NameNode is recovering the file`,
      );
    if (file.clientName !== clientName) {
      throw new DfsError('LEASE_CONFLICT', `${path} is being written by another client (${file.clientName})`);
    }
    return file;
  }

  // ---- the one mutation path -------------------------------------------------------

  /**
   * `replay`: the op comes from the edit log. Checks that only guard new trees are skipped
   * then (a rename's subtree limits, added after logs that may hold deeper renames), so a
   * NameNode never refuses to start on a log it once accepted.
   */
  apply(e: EditOp, replay = false): void {
    switch (e.op) {
      case 'mkdir':
        return this.mkdir(e.path, e.parents, e.mtimeMs, replay, e.owned);
      case 'create':
        return this.create(e, replay);
      case 'addBlock':
        return this.addBlock(e.path, e.clientName, e.previousNumBytes, e.blockId, e.genStamp, replay);
      case 'abandonBlock':
        return this.chargingFile(e.path, () => this.abandonBlock(e.path, e.clientName, e.blockId));
      case 'complete':
        return this.chargingFile(e.path, () =>
          this.complete(e.path, e.clientName, e.lastNumBytes, e.mtimeMs),
        );
      case 'delete':
        return this.delete(e.path, e.recursive, e.mtimeMs);
      case 'rename':
        return this.rename(e.src, e.dst, e.mtimeMs, replay);
      case 'closeFile':
        return this.chargingFile(e.path, () =>
          this.closeFile(e.path, e.keepBlocks, e.lastNumBytes, e.mtimeMs),
        );
      case 'updateBlock':
        return this.chargingFile(e.path, () => this.updateBlock(e.path, e.blockId, e.genStamp, e.numBytes));
      case 'setGenStamp':
        if (e.genStamp >= this.nextGenStamp) this.nextGenStamp = e.genStamp + 1;
        return;
      case 'reserveBlock':
        // Only the counters: the file gets the block when an addBlock attaches it.
        return this.allocatedUpTo(e.blockId, e.genStamp);
      case 'commitBlockSync':
        return this.chargingFile(e.path, () =>
          this.commitBlockSync(e.path, e.blockId, e.genStamp, e.numBytes, e.mtimeMs),
        );
      case 'setReplication':
        return this.setReplication(e.path, e.replication, replay);
      case 'setQuota':
        return this.setQuota(e.path, e.nsQuota, e.dsQuota);
      case 'setPermission':
        return this.setPermission(e.path, e.mode);
      case 'setOwner':
        return this.setOwner(e.path, e.owner, e.group);
      case 'append':
        return this.append(e.path, e.clientName, e.genStamp, replay);
    }
  }

  /** Runs a change to one file and charges its quota directories the space it made or freed. */
  private chargingFile(path: string, change: () => void): void {
    if (this.quotas.count === 0) return change();
    const file = this.file(path);
    const before = fileSpace(file);
    change();
    this.quotas.charge(file.parent, { ns: 0, ds: fileSpace(file) - before });
  }

  /** `asParents`: the directories are made on the way to a file (create): see `made` below. */
  private mkdir(
    path: string,
    parents: boolean,
    mtimeMs: number,
    replay: boolean,
    owned: Owned | undefined,
    asParents = false,
  ): void {
    const parts = parsePath(path);
    if (parts.length === 0) {
      if (parents) return;
      throw new DfsError('ALREADY_EXISTS', '/ already exists');
    }
    // Walk as far as the tree goes; everything after must be created.
    let node: DirNode = this.root;
    let i = 0;
    for (; i < parts.length; i++) {
      const next = node.children.get(parts[i]!);
      if (next === undefined) break;
      if (next.kind !== 'dir')
        throw new DfsError('NOT_A_DIRECTORY', `${joinPath(parts.slice(0, i + 1))} is a file`);
      node = next;
    }
    if (i === parts.length) {
      if (parents) return;
      throw new DfsError('ALREADY_EXISTS', `${path} already exists`);
    }
    if (!parents && i < parts.length - 1) {
      throw new DfsError('NOT_FOUND', `parent of ${path} does not exist: ${joinPath(parts.slice(0, i + 1))}`);
    }
    const created = { ns: parts.length - i, ds: 0 };
    if (!replay) this.quotas.check(node, created);
    this.quotas.charge(node, created);
    // Made on the way to a file, directories take the mode of the deepest existing one (HDFS
    // createAncestorDirectories inherits it), with u+wx like every implicit parent.
    const made = asParents && owned !== undefined ? { owner: owned.owner, mode: node.mode } : owned;
    for (; i < parts.length; i++) {
      const dir = new DirNode(parts[i]!, node, mtimeMs);
      ownNewNode(dir, node, made, this.owners, asParents || i < parts.length - 1);
      node.addChild(dir);
      node.mtimeMs = mtimeMs;
      this.dirCount++;
      node = dir;
    }
  }

  private create(e: Extract<EditOp, { op: 'create' }>, replay: boolean): void {
    const parts = parsePath(e.path);
    if (parts.length === 0) throw new DfsError('IS_A_DIRECTORY', '/ is a directory');
    if (e.replication < 1 || e.replication > REPLICATION_MAX) {
      throw new DfsError('INVALID_ARGUMENT', `replication ${e.replication} is outside 1..${REPLICATION_MAX}`);
    }
    if (e.blockBytes < BLOCK_BYTES_MIN || e.blockBytes > BLOCK_BYTES_MAX) {
      throw new DfsError(
        'INVALID_ARGUMENT',
        `block size ${e.blockBytes} is outside ${BLOCK_BYTES_MIN}..${BLOCK_BYTES_MAX}`,
      );
    }
    let parent: DirNode;
    const existingParent = this.resolve(parts.slice(0, -1));
    if (existingParent === null && e.createParent) {
      this.checkCanMkdirs(parts.slice(0, -1), e.path);
      // The parents and the file are one change: judge the quota for both before making either.
      if (!replay) this.quotas.check(this.deepestDir(parts), { ns: this.missingDirs(parts) + 1, ds: 0 });
      this.mkdir(joinPath(parts.slice(0, -1)), true, e.mtimeMs, replay, e.owned, true);
      parent = this.resolve(parts.slice(0, -1)) as DirNode;
    } else {
      parent = this.parentDir(parts, e.path);
    }
    const name = parts[parts.length - 1]!;
    const existing = parent.children.get(name);
    if (existing !== undefined) {
      if (existing.kind === 'dir') throw new DfsError('IS_A_DIRECTORY', `${e.path} is a directory`);
      if (existing.clientName !== null && existing.clientName !== e.clientName) {
        throw new DfsError(
          'LEASE_CONFLICT',
          `${e.path} is being written by another client (${existing.clientName})`,
        );
      }
      if (!e.overwrite) throw new DfsError('ALREADY_EXISTS', `${e.path} already exists`);
      this.removeNode(existing);
    } else if (!replay) {
      this.quotas.check(parent, { ns: 1, ds: 0 });
    }
    this.quotas.charge(parent, { ns: 1, ds: 0 });
    const file = new FileNode(name, parent, e.mtimeMs, e.replication, e.blockBytes, e.clientName);
    ownNewNode(file, parent, e.owned, this.owners);
    parent.addChild(file);
    parent.mtimeMs = e.mtimeMs;
    this.fileCount++;
    for (const l of this.listeners) l.fileOpened(file);
  }

  /** The deepest existing directory on the way to `parts` (which name a file). */
  private deepestDir(parts: readonly string[]): DirNode {
    let node: DirNode = this.root;
    for (let i = 0; i < parts.length - 1; i++) {
      const next = node.children.get(parts[i]!);
      if (next === undefined || next.kind !== 'dir') break;
      node = next;
    }
    return node;
  }

  /** Directories mkdir -p would make for the parents of `parts`. */
  private missingDirs(parts: readonly string[]): number {
    let node: DirNode = this.root;
    let i = 0;
    for (; i < parts.length - 1; i++) {
      const next = node.children.get(parts[i]!);
      if (next === undefined || next.kind !== 'dir') break;
      node = next;
    }
    return parts.length - 1 - i;
  }

  /** Checks (without mutating) that mkdir -p of `parts` would succeed. */
  private checkCanMkdirs(parts: readonly string[], path: string): void {
    let node: INode = this.root;
    for (let i = 0; i < parts.length; i++) {
      if (node.kind !== 'dir')
        throw new DfsError('NOT_A_DIRECTORY', `${joinPath(parts.slice(0, i))} is a file, in ${path}`);
      const next: INode | undefined = node.children.get(parts[i]!);
      if (next === undefined) return;
      node = next;
    }
    if (node.kind !== 'dir')
      throw new DfsError('NOT_A_DIRECTORY', `${joinPath(parts)} is a file, in ${path}`);
  }

  private addBlock(
    path: string,
    clientName: string,
    previousNumBytes: number,
    blockId: number,
    genStamp: number,
    replay: boolean,
  ): void {
    const file = this.fileUnderConstruction(path, clientName);
    const last = file.lastBlock;
    const spaceBefore = this.quotas.count === 0 ? 0 : fileSpace(file);
    if (previousNumBytes !== NONE) {
      if (last === undefined)
        throw new DfsError('INVALID_ARGUMENT', `${path} has no previous block to commit`);
      if (previousNumBytes > file.blockBytes) {
        throw new DfsError(
          'INVALID_ARGUMENT',
          `previous block length ${previousNumBytes} exceeds the block size ${file.blockBytes}`,
        );
      }
    }
    if (this.quotas.count > 0) {
      // The previous block is committed at its length, and the new one reserved whole.
      const committed = previousNumBytes !== NONE ? previousNumBytes - file.blockBytes : 0;
      const grows = { ns: 0, ds: (committed + file.blockBytes) * file.replication };
      if (!replay) this.quotas.check(file.parent, grows);
    }
    beforeWrite(file); // in place: the image being written keeps the old state
    if (previousNumBytes !== NONE) last!.numBytes = previousNumBytes;
    const block = file.newBlock(blockId, genStamp, 0);
    // A new array of the exact size (concat), not push or spread: those leave room for 16
    // more (~130 bytes), and most files have one block (dfs-bench namespace).
    file.blocks = file.blocks.concat([block]);
    this.blockCount++;
    if (this.quotas.count > 0) this.quotas.charge(file.parent, { ns: 0, ds: fileSpace(file) - spaceBefore });
    for (const l of this.listeners) l.blockAdded?.(file, block);
    this.allocatedUpTo(blockId, genStamp);
  }

  /** A logged block id and stamp are never given again (replay, and the live path's own). */
  private allocatedUpTo(blockId: number, genStamp: number): void {
    if (blockId >= this.nextBlockId) this.nextBlockId = blockId + 1;
    if (genStamp >= this.nextGenStamp) this.nextGenStamp = genStamp + 1;
  }

  private abandonBlock(path: string, clientName: string, blockId: number): void {
    const file = this.fileUnderConstruction(path, clientName);
    const last = file.lastBlock;
    if (last === undefined || last.blockId !== blockId) {
      throw new DfsError('INVALID_ARGUMENT', `block ${blockId} is not the last block of ${path}`);
    }
    beforeWrite(file); // in place: the image being written keeps the old state
    file.blocks = file.blocks.slice(0, -1);
    this.blockCount--;
    for (const l of this.listeners) l.blocksRemoved([last]);
  }

  private complete(path: string, clientName: string, lastNumBytes: number, mtimeMs: number): void {
    const file = this.fileUnderConstruction(path, clientName);
    const last = file.lastBlock;
    if (lastNumBytes !== NONE) {
      if (last === undefined) throw new DfsError('INVALID_ARGUMENT', `${path} has no block to complete`);
      if (lastNumBytes > file.blockBytes) {
        throw new DfsError(
          'INVALID_ARGUMENT',
          `last block length ${lastNumBytes} exceeds the block size ${file.blockBytes}`,
        );
      }
      beforeWrite(file); // in place: the image being written keeps the old state
      last.numBytes = lastNumBytes;
    }
    file.clientName = null;
    file.mtimeMs = mtimeMs;
    for (const l of this.listeners) l.fileClosed(file, clientName);
  }

  private delete(path: string, recursive: boolean, mtimeMs: number): void {
    const parts = parsePath(path);
    if (parts.length === 0) throw new DfsError('INVALID_ARGUMENT', 'the root directory cannot be deleted');
    const node = this.resolve(parts);
    if (node === null) throw new DfsError('NOT_FOUND', `${path}: no such file or directory`);
    if (node.kind === 'dir' && node.children.size > 0 && !recursive) {
      throw new DfsError('NOT_EMPTY', `${path} is a non-empty directory (use recursive delete)`);
    }
    const parent = node.parent!;
    this.removeNode(node);
    parent.mtimeMs = mtimeMs;
  }

  /** Detaches a subtree and tells the listeners about every file in it. */
  private removeNode(node: INode): void {
    const parent = node.parent!;
    parent.removeChild(node.name);
    const freed = { ns: 0, ds: 0 };
    const stack: INode[] = [node];
    while (stack.length > 0) {
      const n = stack.pop()!;
      freed.ns++;
      if (n.kind === 'dir') {
        this.dirCount--;
        if (n.quota !== null) this.quotas.count--;
        for (const child of n.children.values()) stack.push(child);
      } else {
        this.fileCount--;
        this.blockCount -= n.blockCount;
        if (this.quotas.count > 0) freed.ds += fileSpace(n);
        for (const l of this.listeners) l.fileRemoved(n);
      }
    }
    this.quotas.charge(parent, { ns: -freed.ns, ds: -freed.ds });
  }

  private rename(src: string, dst: string, mtimeMs: number, replay: boolean): void {
    const srcParts = parsePath(src);
    let dstParts = parsePath(dst);
    if (srcParts.length === 0) throw new DfsError('INVALID_ARGUMENT', 'the root directory cannot be renamed');
    const node = this.resolve(srcParts);
    if (node === null) throw new DfsError('NOT_FOUND', `${src}: no such file or directory`);
    if (src === dst) return;
    // HDFS semantics: renaming onto an existing directory moves the source inside it.
    const target = this.resolve(dstParts);
    if (target !== null && target.kind === 'dir') dstParts = [...dstParts, node.name];
    // Moving a node into the directory that already holds it resolves to itself: a no-op
    // (HDFS: dst equals src after the append), for a directory as for a file.
    if (isSameOrBeneath(dstParts, srcParts) && dstParts.length === srcParts.length) return;
    if (node.kind === 'dir' && isSameOrBeneath(srcParts, dstParts)) {
      throw new DfsError('INVALID_ARGUMENT', `cannot move ${src} into itself (${dst})`);
    }
    if (dstParts.length === 0) throw new DfsError('ALREADY_EXISTS', '/ already exists');
    const dstPath = joinPath(dstParts);
    const dstParent = this.parentDir(dstParts, dstPath);
    const name = dstParts[dstParts.length - 1]!;
    if (dstParent.children.has(name)) throw new DfsError('ALREADY_EXISTS', `${dstPath} already exists`);
    if (!replay) {
      // Every path the move creates must stay within the limits: the destination (with the
      // source's name appended when it names a directory), and, unless the move makes
      // nothing deeper or longer, every path in the moved subtree (path-rules.ts).
      parsePath(dstPath);
      if (
        node.kind === 'dir' &&
        (dstParts.length > srcParts.length || Buffer.byteLength(dstPath) > Buffer.byteLength(src))
      )
        checkSubtreeFits(src, dstPath, node);
    }
    const srcParent = node.parent!;
    // Quotas: the directories above the destination, up to the first one above the source
    // too, gain the moved subtree; those above the source alone lose it.
    const common = this.quotas.count > 0 ? Quotas.commonAncestor(srcParent, dstParent) : null;
    const moved = this.quotas.count > 0 ? subtreeUsage(node) : { ns: 0, ds: 0 };
    if (!replay) this.quotas.check(dstParent, moved, common);
    srcParent.removeChild(node.name);
    srcParent.mtimeMs = mtimeMs;
    node.name = name;
    dstParent.addChild(node);
    dstParent.mtimeMs = mtimeMs;
    this.quotas.charge(srcParent, { ns: -moved.ns, ds: -moved.ds }, common);
    this.quotas.charge(dstParent, moved, common);
  }

  /** Lease recovery: keep the first `keepBlocks` blocks, fix the last one's length, close. */
  private closeFile(path: string, keepBlocks: number, lastNumBytes: number, mtimeMs: number): void {
    const file = this.file(path);
    if (file.clientName === null) throw new DfsError('INVALID_ARGUMENT', `${path} is not open for writing`);
    if (keepBlocks > file.blockCount) {
      throw new DfsError(
        'INVALID_ARGUMENT',
        `cannot keep ${keepBlocks} of ${file.blockCount} blocks of ${path}`,
      );
    }
    beforeWrite(file); // in place: the image being written keeps the old state
    // New arrays of the exact size, not splice (see addBlock).
    const dropped = file.blocks.slice(keepBlocks);
    file.blocks = file.blocks.slice(0, keepBlocks);
    this.blockCount -= dropped.length;
    const last = file.lastBlock;
    if (last !== undefined && lastNumBytes !== NONE) last.numBytes = lastNumBytes;
    const holder = file.clientName;
    file.clientName = null;
    file.mtimeMs = mtimeMs;
    if (dropped.length > 0) for (const l of this.listeners) l.blocksRemoved(dropped);
    for (const l of this.listeners) l.fileClosed(file, holder);
  }

  private updateBlock(path: string, blockId: number, genStamp: number, numBytes: number): void {
    const file = this.file(path);
    const block = file.blocks.find((b) => b.blockId === blockId);
    if (block === undefined) throw new DfsError('NOT_FOUND', `block ${blockId} is not part of ${path}`);
    if (genStamp <= block.genStamp) {
      throw new DfsError(
        'STALE_GENERATION',
        `generation stamp ${genStamp} is not newer than ${block.genStamp}`,
      );
    }
    beforeWrite(file); // in place: the image being written keeps the old state
    block.genStamp = genStamp;
    if (numBytes !== NONE) block.numBytes = numBytes;
    if (genStamp >= this.nextGenStamp) this.nextGenStamp = genStamp + 1;
    for (const l of this.listeners) l.genStampBumped?.(block);
  }

  /**
   * Block recovery done: the last block takes the recovered stamp and length, and the file
   * closes. Replicas at older stamps are stale (genStampBumped), then the file is closed.
   */
  private commitBlockSync(
    path: string,
    blockId: number,
    genStamp: number,
    numBytes: number,
    mtimeMs: number,
  ): void {
    const file = this.file(path);
    if (file.clientName === null) throw new DfsError('INVALID_ARGUMENT', `${path} is not open for writing`);
    const last = file.lastBlock;
    if (last === undefined || last.blockId !== blockId)
      throw new DfsError('NOT_FOUND', `block ${blockId} is not the last block of ${path}`);
    if (numBytes > file.blockBytes) {
      throw new DfsError(
        'INVALID_ARGUMENT',
        `recovered length ${numBytes} exceeds the block size ${file.blockBytes}`,
      );
    }
    if (genStamp <= last.genStamp) {
      throw new DfsError(
        'STALE_GENERATION',
        `generation stamp ${genStamp} is not newer than ${last.genStamp}`,
      );
    }
    beforeWrite(file); // in place: the image being written keeps the old state
    last.genStamp = genStamp;
    last.numBytes = numBytes;
    if (genStamp >= this.nextGenStamp) this.nextGenStamp = genStamp + 1;
    const holder = file.clientName;
    file.clientName = null;
    file.mtimeMs = mtimeMs;
    for (const l of this.listeners) l.genStampBumped?.(last);
    for (const l of this.listeners) l.fileClosed(file, holder);
  }

  private setReplication(path: string, replication: number, replay: boolean): void {
    const file = this.file(path);
    if (replication < 1 || replication > REPLICATION_MAX) {
      throw new DfsError('INVALID_ARGUMENT', `replication ${replication} is outside 1..${REPLICATION_MAX}`);
    }
    const before = this.quotas.count > 0 ? fileSpace(file) : 0;
    if (!replay && this.quotas.count > 0)
      this.quotas.check(file.parent, { ns: 0, ds: (before / file.replication) * replication - before });
    file.replication = replication;
    if (this.quotas.count > 0) this.quotas.charge(file.parent, { ns: 0, ds: fileSpace(file) - before });
    for (const l of this.listeners) l.replicationChanged?.(file);
  }

  /** Sets or clears (0) a directory's name and space quotas (admin setQuota). */
  private setQuota(path: string, nsQuota: number, dsQuota: number): void {
    const node = this.lookup(path);
    if (node === null) throw new DfsError('NOT_FOUND', `${path}: no such directory`);
    if (node.kind !== 'dir')
      throw new DfsError('NOT_A_DIRECTORY', `${path} is a file (quotas are set on directories)`);
    this.quotas.set(node, nsQuota, dsQuota);
  }

  /** chmod, chown, chgrp: who may is judged before (permission-checker.ts). */
  private setPermission(path: string, mode: number): void {
    const node = this.lookup(path);
    if (node === null) throw new DfsError('NOT_FOUND', `${path}: no such file or directory`);
    changeMode(node, mode);
  }

  private setOwner(path: string, owner: string, group: string): void {
    const node = this.lookup(path);
    if (node === null) throw new DfsError('NOT_FOUND', `${path}: no such file or directory`);
    changeOwner(node, owner, group);
  }

  /**
   * Append (HDFS `FSDirAppendOp`): the closed file goes back under construction for
   * `clientName`; with `genStamp`, its last block is reopened under that stamp (the writer
   * continues it over its replicas), reserved whole for space quotas like any block being
   * written. Without, the writer adds a new block.
   */
  private append(path: string, clientName: string, genStamp: number, replay: boolean): void {
    const file = this.file(path);
    if (file.clientName !== null)
      throw new DfsError('LEASE_CONFLICT', `${path} is being written by another client (${file.clientName})`);
    const last = file.lastBlock;
    if (genStamp !== NONE) {
      if (last === undefined || last.numBytes >= file.blockBytes)
        throw new DfsError('INVALID_ARGUMENT', `${path} has no last block with room to reopen`);
      if (genStamp <= last.genStamp)
        throw new DfsError(
          'STALE_GENERATION',
          `generation stamp ${genStamp} is not newer than ${last.genStamp}`,
        );
    }
    const before = this.quotas.count > 0 ? fileSpace(file) : 0;
    if (!replay && this.quotas.count > 0 && genStamp !== NONE)
      this.quotas.check(file.parent, { ns: 0, ds: (file.blockBytes - last!.numBytes) * file.replication });
    file.clientName = clientName;
    if (genStamp !== NONE) {
      beforeWrite(file); // in place: the image being written keeps the old state
      last!.genStamp = genStamp;
      if (genStamp >= this.nextGenStamp) this.nextGenStamp = genStamp + 1;
      for (const l of this.listeners) l.genStampBumped?.(last!);
    }
    if (this.quotas.count > 0) this.quotas.charge(file.parent, { ns: 0, ds: fileSpace(file) - before });
    for (const l of this.listeners) l.fileOpened(file);
  }

  /**
   * hflush (the fsync RPC): the block `clientName` is writing is readable up to `numBytes`.
   * Not an edit: visibility is for readers now; after a restart the length comes back from
   * the next hflush, the close or block recovery (HDFS's hflush does not log either).
   */
  setVisibleLength(path: string, clientName: string, blockId: number, numBytes: number): void {
    const file = this.fileUnderConstruction(path, clientName);
    const last = file.lastBlock;
    if (last === undefined || last.blockId !== blockId)
      throw new DfsError('INVALID_ARGUMENT', `block ${blockId} is not the last block of ${path}`);
    if (numBytes > file.blockBytes)
      throw new DfsError('INVALID_ARGUMENT', `length ${numBytes} exceeds the block size ${file.blockBytes}`);
    // Lengths only grow: an hflush answered late must not hide bytes a later one showed.
    beforeWrite(file); // in place: the image being written keeps the old state
    last.numBytes = Math.max(last.numBytes, numBytes);
  }

  // ---- id allocation (live path only; replay takes ids from the records) ------------

  allocateBlockId(): number {
    return this.nextBlockId++;
  }

  allocateGenStamp(): number {
    return this.nextGenStamp++;
  }
}
