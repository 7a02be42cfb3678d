/**
 * Small durable-file helpers: fsync of a directory (so a rename or a new file survives a
 * crash) and the temp-file / fsync / rename / fsync-directory dance (etcd `wal.go` cut).
 */
import fs, { promises as fsp } from 'node:fs';
import path from 'node:path';

export async function fsyncDir(dir: string): Promise<void> {
  const handle = await fsp.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Writes `data` to `file` atomically: a crash leaves either the old file or the new one. */
export async function writeFileAtomic(file: string, data: Uint8Array | Uint8Array[]): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  const handle = await fsp.open(tmp, 'w', 0o644);
  try {
    const parts = Array.isArray(data) ? data : [data];
    await handle.writev(parts);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fsp.rename(tmp, file);
  await fsyncDir(path.dirname(file));
}

/**
 * Writes `pieces` (in order) at `position` in writev calls of at most `batchBytes` each:
 * a received packet payload goes to disk as the socket reads it came in, never joined.
 */
export async function writePieces(fd: number, pieces: readonly Buffer[], position: number, batchBytes: number): Promise<void> {
  let batch: Buffer[] = [];
  let batchLen = 0;
  let pos = position;
  const flush = async (): Promise<void> => {
    await writevFully(fd, batch, pos, batchLen);
    pos += batchLen;
    batch = [];
    batchLen = 0;
  };
  for (const piece of pieces) {
    for (let at = 0; at < piece.length;) {
      const take = Math.min(piece.length - at, batchBytes - batchLen);
      batch.push(at === 0 && take === piece.length ? piece : piece.subarray(at, at + take));
      batchLen += take;
      at += take;
      if (batchLen >= batchBytes) await flush();
    }
  }
  if (batchLen > 0) await flush();
}

/** One writev of `buffers` (`bytes` in all) at `position`; a short write is finished by `writeFully`. */
function writevFully(fd: number, buffers: Buffer[], position: number, bytes: number): Promise<void> {
  return new Promise((resolve, reject) => {
    fs.writev(fd, buffers, position, (err, written) => {
      if (err) return reject(err);
      if (written === bytes) return resolve();
      // Rare on regular files: write what is left piece by piece.
      let skip = written;
      const rest: Promise<void>[] = [];
      let at = position + written;
      for (const b of buffers) {
        if (skip >= b.length) {
          skip -= b.length;
          continue;
        }
        const part = b.subarray(skip);
        skip = 0;
        rest.push(writeFully(fd, part, at));
        at += part.length;
      }
      Promise.all(rest).then(() => resolve(), reject);
    });
  });
}

/**
 * Writes all of `data` at `position` (regular files may take a write in several parts),
 * at most `sliceBytes` per write call.
 */
export function writeFully(fd: number, data: Uint8Array, position: number, sliceBytes = Infinity): Promise<void> {
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
