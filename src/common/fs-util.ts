/**
 * Small file helpers: fsync of a directory (so a rename or a new file survives a crash,
 * through the FileSync seam, file-sync.ts),
 * the temp-file / fsync / rename / fsync-directory dance (etcd `wal.go` cut), and writes
 * that finish short writes (`writeFully`) or keep received pieces as they are, in one
 * writev (`writePieces`).
 */
import fs, { promises as fsp } from 'node:fs';
import path from 'node:path';
import { piecesLength } from '../../protocol/byte-pieces.js';
import { osFileSync, type FileSync } from './file-sync.js';

export async function fsyncDir(dir: string, sync: FileSync = osFileSync): Promise<void> {
  const handle = await fsp.open(dir, 'r');
  try {
    await sync.fsync(handle.fd);
  } finally {
    await handle.close();
  }
}

/** Writes `data` to `file` atomically: a crash leaves either the old file or the new one. */
export async function writeFileAtomic(
  file: string,
  data: Uint8Array | Uint8Array[],
  sync: FileSync = osFileSync,
): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  const handle = await fsp.open(tmp, 'w', 0o644);
  try {
    const parts = Array.isArray(data) ? data : [data];
    await handle.writev(parts);
    await sync.fsync(handle.fd);
  } finally {
    await handle.close();
  }
  await fsp.rename(tmp, file);
  await fsyncDir(path.dirname(file), sync);
}

/**
 * Writes `pieces` in order at `position` with one `pwritev` (more only if the kernel takes
 * part of them): a received packet payload goes to disk as the socket reads it arrived in,
 * never joined or re-cut. Measured writing 1 GiB of 64 KiB pieces: 0.45 CPU-s with one
 * writev per 16 pieces, 1.45 CPU-s with one write per piece (each a trip through the thread
 * pool and a syscall).
 *
 * A write that starts on a page boundary goes in two: its first byte, then the rest. On
 * the VMs measured (whose host takes back free guest memory), a page-aligned 1 MiB writev
 * costs 2.6 CPU-s per GiB and 6 s of wall time, the same bytes starting one byte later
 * 0.4 CPU-s and 0.4 s: the kernel fills an aligned range with large page-cache folios,
 * whose memory the host must fault back in, and an unaligned one with small folios from
 * recently freed pages. The yardstick's hops get the cheap path by accident (socket reads
 * rarely end on a page boundary); a DataNode's packets always start on one.
 */
export async function writePieces(
  fd: number,
  pieces: readonly Buffer[],
  position: number | null,
): Promise<void> {
  let rest: Buffer[] = pieces.filter((p) => p.length > 0);
  let pos = position;
  if (pos !== null && pos % PAGE_BYTES === 0 && rest.length > 0 && piecesLength(rest) > PAGE_BYTES) {
    await writeFully(fd, rest[0]!.subarray(0, 1), pos);
    rest[0] = rest[0]!.subarray(1);
    pos += 1;
    if (rest[0].length === 0) rest = rest.slice(1);
  }
  while (rest.length > 0) {
    const batch = rest.length > IOV_MAX ? rest.slice(0, IOV_MAX) : rest;
    let written = await writev(fd, batch, pos);
    if (pos !== null) pos += written;
    let i = 0;
    while (i < rest.length && written >= rest[i]!.length) written -= rest[i++]!.length;
    rest = rest.slice(i);
    if (written > 0) rest[0] = rest[0]!.subarray(written);
  }
}

const PAGE_BYTES = 4096;

/** iovecs per writev call (Linux IOV_MAX). */
const IOV_MAX = 1024;

function writev(fd: number, buffers: Buffer[], position: number | null): Promise<number> {
  return new Promise((resolve, reject) =>
    fs.writev(fd, buffers, position, (err, written) => (err ? reject(err) : resolve(written))),
  );
}

/**
 * Writes all of `data` at `position` (regular files may take a write in several parts),
 * at most `sliceBytes` per write call.
 */
export function writeFully(
  fd: number,
  data: Uint8Array,
  position: number,
  sliceBytes = Infinity,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const step = (done: number): void => {
      if (done === data.length) return resolve();
      fs.write(fd, data, done, Math.min(data.length - done, sliceBytes), position + done, (err, written) => {
        if (err) return reject(err);
        step(done + written);
      });
    };
    step(0);
  });
}
