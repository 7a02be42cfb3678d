/**
 * Moving a file's bytes between DFS and a local file or stream without a new buffer per
 * read: `DfsClient.put`/`get`, `dfs put`/`get` (src/cli/commands/file-copy.ts) and
 * `dfs get REMOTE -` (src/cli/commands/transfer-support.ts).
 *
 * Why: a fresh ArrayBuffer per file or socket read that lives until its packet is acked or
 * written outlives young-generation collections, and V8 collects that external memory with
 * full mark-compacts, one every few tens of MiB (src/common/read-slabs.ts says more). So:
 *
 * - up: the local file is read straight into the output stream's recycled packet buffers
 *   (DfsOutputStream.writeFrom), not through `fs.createReadStream`;
 * - down: the packets are iterated `borrowed` (DfsInputStream.packets), so their memory is
 *   reused for later socket reads, and the next packet is asked for only once the current
 *   one is really written: its `writev` resolved, or the write callback of its last piece
 *   called. An abort stops the waiting at once, but the iteration is handed back (the
 *   packet released, its connection closed) only when the write or read under way settles:
 *   until then that write may still read the packet's memory.
 */
import { fstatSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { piecesLength } from '../../protocol/byte-pieces.js';
import { writePieces } from '../common/fs-util.js';
import type { DfsInputStream } from './dfs-input-stream.js';
import type { DfsOutputStream } from './dfs-output-stream.js';

/**
 * Writes the rest of `file` (from its current position) into `out`, ends it and waits until
 * the DFS file is complete. Returns the bytes written. A failure (or an abort through the
 * stream's `signal`) destroys `out` and is thrown; `file` stays open, the caller's to close.
 */
export async function uploadFile(out: DfsOutputStream, file: FileHandle): Promise<number> {
  const done = finished(out);
  // A regular file's size bounds what is left of it (at most that, from wherever it stands):
  // no block is reserved past its end. Only a hint: a stat that fails is ignored. Synchronous
  // (one fstat of an open file), so nothing runs before `done` is awaited: the stream may
  // fail at any time (its create refused), and `done` would reject unhandled meanwhile.
  const size = fileSize(file);
  if (size !== null) out.endsWithin(size);
  out.writeFrom(file).catch(() => {}); // its failure destroys `out`: `done` rejects with it
  out.end();
  await done;
  return out.bytesWritten;
}

/** A regular file's size, or null (not a regular file, or fstat failed). */
function fileSize(file: FileHandle): number | null {
  try {
    const stat = fstatSync(file.fd);
    return stat.isFile() ? stat.size : null;
  } catch {
    return null;
  }
}

/**
 * Writes `input`'s packets to `file` at its current position, each once the one before is
 * written. Returns the bytes written. `file` stays open, the caller's to close.
 */
export async function downloadToFile(
  input: DfsInputStream,
  file: FileHandle,
  signal?: AbortSignal,
): Promise<number> {
  // A regular file (new or truncated: its size is where writes go) is written at explicit
  // positions, so fs-util's writePieces can start page-aligned packets a byte off the page
  // (see there: 2.6 against 0.4 CPU-s per GiB on the VMs measured); a FIFO or device where
  // it stands.
  const stat = await file.stat();
  let position = stat.isFile() ? stat.size : null;
  return drainPackets(
    input,
    async (packet) => {
      await writePieces(file.fd, packet, position);
      if (position !== null) position += piecesLength(packet);
    },
    signal,
  );
}

/**
 * Writes `input`'s packets to `out` (stdout), each once the one before is written: the
 * write callback of its last piece called, which also waits out a full pipe. `beforeFirst`
 * sees the first piece before it is written. Returns the bytes written.
 */
export function downloadToStream(
  input: DfsInputStream,
  out: Writable,
  signal?: AbortSignal,
  beforeFirst?: (head: Buffer) => void,
): Promise<number> {
  let first = true;
  return drainPackets(
    input,
    (packet) =>
      new Promise<void>((resolve, reject) => {
        if (first && packet.length > 0) beforeFirst?.(packet[0]!);
        first = false;
        const last = packet.length - 1;
        for (let i = 0; i < last; i++) out.write(packet[i]!);
        if (last < 0) resolve();
        else out.write(packet[last]!, (err) => (err ? reject(err) : resolve()));
      }),
    signal,
  );
}

async function drainPackets(
  input: DfsInputStream,
  write: (packet: Buffer[]) => Promise<void>,
  signal: AbortSignal | undefined,
): Promise<number> {
  const packets = input.packets({ borrowed: true });
  let bytes = 0;
  // The read or write under way: the iteration is handed back (the packet released, the
  // connection closed) only once it settled, even when an abort stopped waiting for it.
  let pending: Promise<unknown> | null = null;
  try {
    for (;;) {
      const read = packets.next();
      pending = read;
      const next = await abortable(read, signal);
      pending = null;
      if (next.done === true) return bytes;
      const written = write(next.value);
      pending = written;
      await abortable(written, signal);
      pending = null;
      for (const piece of next.value) bytes += piece.length;
    }
  } finally {
    const settle = pending ?? Promise.resolve();
    const handBack = (): Promise<unknown> => packets.return(undefined).catch(() => {});
    if (pending === null) await handBack();
    else void settle.then(handBack, handBack);
  }
}

/** `p`, or a rejection with the signal's reason as soon as it is aborted. */
function abortable<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return p;
  if (signal.aborted) {
    p.catch(() => {});
    return Promise.reject(signal.reason as Error);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (err: Error) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}
