/**
 * The three directions ./copy-runner.ts copies in: local to DFS (put, copyFromLocal,
 * moveFromLocal), DFS to local (get, copyToLocal) and DFS to DFS (cp). Each is the two file
 * systems' sides plus how one file is copied, with the one-file primitives of ./file-copy.ts.
 * DFS trees are walked with ./tree-walk.ts (memory: depth x page size); local trees one
 * directory level at a time, entries sorted by name.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { DfsError } from '../../../protocol/errors.js';
import { FileType, type FileStatus } from '../../../protocol/shared-structures.js';
import { joinChild, type CommandContext } from './command-context.js';
import type { CopyDirection, CopySide, EntryKind, SourceEntry } from './copy-runner.js';
import {
  interruptedOutcome,
  localTargetState,
  remoteTargetState,
  writeLocalFile,
  writeRemoteFile,
  type RemoteWriteOptions,
} from './file-copy.js';
import { localError, type Interruption } from './transfer-support.js';
import { walkTree } from './tree-walk.js';

function remoteSide(ctx: CommandContext): CopySide {
  return {
    show: (p) => p,
    async kind(p) {
      const st = await ctx.client.exists(p);
      return st === null ? null : st.type === FileType.DIRECTORY ? 'directory' : 'file';
    },
    join: joinChild,
    basename: (p) => p.slice(p.lastIndexOf('/') + 1),
  };
}

const localSide: CopySide = {
  show: (p) => `local ${p}`,
  async kind(p) {
    try {
      // Anything that is not a directory is read as a file at the top (a FIFO, /dev/stdin).
      return (await fsp.stat(p)).isDirectory() ? 'directory' : 'file';
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw localError(err, p);
    }
  },
  join: (dir, name) => path.join(dir, name),
  basename: (p) => path.basename(p),
};

async function* walkRemote(ctx: CommandContext, root: string): AsyncIterable<SourceEntry> {
  const status = await ctx.client.stat(root);
  for await (const { path: full, status: st } of walkTree(ctx, root, status)) {
    const rel = full === root ? '' : full.slice(root === '/' ? 1 : root.length + 1);
    yield { rel, kind: st.type === FileType.DIRECTORY ? 'directory' : 'file' };
  }
}

async function* walkLocal(root: string, rel = ''): AsyncIterable<SourceEntry> {
  if (rel === '') yield { rel, kind: 'directory' };
  const dir = rel === '' ? root : path.join(root, rel);
  let entries;
  try {
    entries = await fsp.readdir(dir, { withFileTypes: true });
  } catch (err) {
    throw localError(err, dir);
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const childRel = rel === '' ? e.name : path.join(rel, e.name);
    let kind: EntryKind = e.isDirectory() ? 'directory' : e.isFile() ? 'file' : 'other';
    if (e.isSymbolicLink()) kind = await localSide.kind(path.join(root, childRel)).then((k) => k ?? 'other');
    yield { rel: childRel, kind };
    if (kind === 'directory') yield* walkLocal(root, childRel);
  }
}

/** Remembers whether each target existed, for the INTERRUPTED line. */
class TargetStates {
  private readonly existed = new Map<string, boolean>();
  private readonly inPlace = new Set<string>();

  note(target: string, existed: boolean, inPlace = false): void {
    this.existed.set(target, existed);
    if (inPlace) this.inPlace.add(target);
  }

  outcome(target: string, shown: string): string {
    return interruptedOutcome(shown, this.existed.get(target) ?? false, this.inPlace.has(target));
  }
}

export function localToRemote(
  ctx: CommandContext,
  options: RemoteWriteOptions,
  intr: Interruption,
): CopyDirection {
  const states = new TargetStates();
  return {
    from: localSide,
    to: remoteSide(ctx),
    walk: walkLocal,
    mkdir: (p) => ctx.client.mkdir(p),
    async copyFile(src, target) {
      const existing = await remoteTargetState(ctx, target, options.force);
      states.note(target, existing !== null);
      let handle: fsp.FileHandle | null = null;
      let totalBytes: number;
      try {
        handle = await fsp.open(src, 'r');
        totalBytes = (await handle.stat()).size;
      } catch (err) {
        await handle?.close();
        throw localError(err, src);
      }
      const label = `put ${path.basename(src)}`;
      try {
        return await writeRemoteFile(
          ctx,
          { from: handle, totalBytes, label },
          target,
          existing,
          options,
          intr,
        );
      } finally {
        // Interrupted: a read of a FIFO may still wait for its writer; the close waits for it.
        const closing = handle.close().catch(() => {});
        if (!intr.signal.aborted) await closing;
      }
    },
    interruptedOutcome: (target) => states.outcome(target, target),
  };
}

export function remoteToLocal(ctx: CommandContext, force: boolean, intr: Interruption): CopyDirection {
  const states = new TargetStates();
  return {
    from: remoteSide(ctx),
    to: localSide,
    walk: (root) => walkRemote(ctx, root),
    async mkdir(p) {
      try {
        await fsp.mkdir(p);
      } catch (err) {
        throw localError(err, p);
      }
    },
    async copyFile(src, target) {
      const status = await remoteFile(ctx, src, 'get');
      const local = await localTargetState(target, force);
      states.note(target, local.existing !== null, local.inPlace);
      return writeLocalFile(ctx, src, status, local, `get ${path.basename(src)}`, intr);
    },
    interruptedOutcome: (target) => states.outcome(target, `local ${target}`),
  };
}

export function remoteToRemote(
  ctx: CommandContext,
  options: RemoteWriteOptions,
  intr: Interruption,
): CopyDirection {
  const states = new TargetStates();
  const side = remoteSide(ctx);
  return {
    from: side,
    to: side,
    walk: (root) => walkRemote(ctx, root),
    mkdir: (p) => ctx.client.mkdir(p),
    async copyFile(src, target) {
      const status = await remoteFile(ctx, src, 'cp');
      const existing = await remoteTargetState(ctx, target, options.force);
      states.note(target, existing !== null);
      // The source's checksums are verified as it is read; the copy gets new ones as it is written.
      const from = ctx.client.open(src, { signal: intr.signal });
      const label = `cp ${side.basename(src)}`;
      return writeRemoteFile(
        ctx,
        { from, totalBytes: status.length, label },
        target,
        existing,
        options,
        intr,
      );
    },
    interruptedOutcome: (target) => states.outcome(target, target),
  };
}

/** The status of a DFS file; IS_A_DIRECTORY for a directory (`verb` reads files). */
export async function remoteFile(ctx: CommandContext, remote: string, verb: string): Promise<FileStatus> {
  const status = await ctx.client.stat(remote);
  if (status.type === FileType.DIRECTORY)
    throw new DfsError('IS_A_DIRECTORY', `${remote} is a directory (${verb} reads files)`);
  return status;
}
