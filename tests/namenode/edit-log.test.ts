/**
 * The edit log, on real files in a temp folder: group commit and durability of replies,
 * rolls without txid gaps, and the crash tests (etcd `repair_test.go` style). A segment
 * written by the real writer is damaged in every way a crash or a disk can damage it:
 * truncated at every byte offset, its tail zeroed from every record and sector boundary, each
 * of its bytes flipped. After each, `loadNameDir` must give exactly the acknowledged prefix
 * (compared with a model namespace built by applying that prefix) or refuse with a typed
 * CORRUPT_LOG naming the segment, never anything else; and after a cut the log must be
 * writable again, with a second load seeing the old and the new operations.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DfsError } from '../../protocol/errors.js';
import { initChecksum } from '../../src/common/checksum.js';
import { silentLogger, type Logger } from '../../src/common/logger.js';
import {
  decodeSegment,
  encodeRecord,
  encodeSegmentHeader,
  FLUSH_BYTES_MAX,
  SEGMENT_HEADER_BYTES,
} from '../../src/namenode/edit-log-format.js';
import { osFileSync, type FileSync } from '../../src/common/file-sync.js';
import { EditLog, PREALLOCATE_BYTES, segmentFileName } from '../../src/namenode/edit-log.js';
import { NONE, type EditOp } from '../../src/namenode/edit-ops.js';
import type { INode } from '../../src/namenode/inode.js';
import { formatNameDir, loadNameDir, type LoadedState } from '../../src/namenode/name-dir.js';
import { Namespace } from '../../src/namenode/namespace.js';

// ---- fixtures ------------------------------------------------------------------------------

/** tmpfs when there is one: thousands of loads each fsync, and the disk need not see them. */
const TMP_BASE = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
let root = '';
let seq = 0;
const log = silentLogger();
const SEG1 = segmentFileName(1);

function tempDir(): string {
  const dir = path.join(root, `d${seq++}`);
  fs.mkdirSync(dir);
  return dir;
}

async function formattedDir(): Promise<string> {
  const dir = tempDir();
  await formatNameDir(dir, { force: false, clusterId: 'CID-test' });
  return dir;
}

/** A canonical serialization of everything a namespace holds (tree, counters, allocators). */
function dump(ns: Namespace): string {
  const walk = (n: INode): unknown =>
    n.kind === 'dir'
      ? { d: n.name, m: n.mtimeMs, c: [...n.children.keys()].sort().map((k) => walk(n.children.get(k)!)) }
      : {
          f: n.name,
          m: n.mtimeMs,
          r: n.replication,
          bb: n.blockBytes,
          cl: n.clientName,
          b: n.blocks.map((b) => [b.blockId, b.genStamp, b.numBytes]),
        };
  return JSON.stringify({
    root: walk(ns.root),
    nextBlockId: ns.nextBlockId,
    nextGenStamp: ns.nextGenStamp,
    fileCount: ns.fileCount,
    dirCount: ns.dirCount,
    blockCount: ns.blockCount,
  });
}

/**
 * A valid sequence of every op kind, built against a live namespace (as the NameNode does:
 * ids from the allocators, each op validated by `apply` before it is logged).
 */
function workload(rounds: number): EditOp[] {
  const ns = new Namespace();
  const ops: EditOp[] = [];
  let t = 1_700_000_000_000;
  const run = (op: EditOp): void => {
    ns.apply(op);
    ops.push(op);
  };
  for (let k = 0; k < rounds; k++) {
    const d = k % 3 === 0 ? `/d${k}-données` : `/d${k}`;
    const c = `client-${k % 4}`;
    // Some records carry the client call that made them (the retry cache's key, edit-ops.ts).
    const rpc = { clientId: (k % 256).toString(16).padStart(2, '0').repeat(16), callId: 0xffffff00 + k };
    run({ op: 'mkdir', path: `${d}/sub`, parents: true, mtimeMs: ++t, rpc });
    run({
      op: 'create',
      path: `${d}/f`,
      clientName: c,
      overwrite: false,
      createParent: false,
      replication: 3,
      blockBytes: 4096,
      mtimeMs: ++t,
      rpc: { ...rpc, callId: k },
    });
    const b1 = ns.nextBlockId;
    run({
      op: 'addBlock',
      path: `${d}/f`,
      clientName: c,
      previousNumBytes: NONE,
      blockId: b1,
      genStamp: ns.nextGenStamp,
    });
    run({ op: 'updateBlock', path: `${d}/f`, blockId: b1, genStamp: ns.nextGenStamp, numBytes: NONE });
    run({
      op: 'addBlock',
      path: `${d}/f`,
      clientName: c,
      previousNumBytes: 4096,
      blockId: ns.nextBlockId,
      genStamp: ns.nextGenStamp,
    });
    const b3 = ns.nextBlockId;
    run({
      op: 'addBlock',
      path: `${d}/f`,
      clientName: c,
      previousNumBytes: 1000 + k,
      blockId: b3,
      genStamp: ns.nextGenStamp,
    });
    run({ op: 'abandonBlock', path: `${d}/f`, clientName: c, blockId: b3 });
    run({ op: 'complete', path: `${d}/f`, clientName: c, lastNumBytes: 1000 + k, mtimeMs: ++t });
    // Append: reopened by another client, its partial last block under a new stamp, closed
    // longer; then appended to with nothing to reopen (the block filled), left open.
    run({ op: 'append', path: `${d}/f`, clientName: `appender-${k}`, genStamp: ns.nextGenStamp });
    run({ op: 'complete', path: `${d}/f`, clientName: `appender-${k}`, lastNumBytes: 4096, mtimeMs: ++t });
    if (k % 2 === 0) {
      run({ op: 'append', path: `${d}/f`, clientName: `appender-${k}`, genStamp: NONE });
      run({ op: 'complete', path: `${d}/f`, clientName: `appender-${k}`, lastNumBytes: NONE, mtimeMs: ++t });
    }
    run({ op: 'rename', src: `${d}/f`, dst: `${d}/sub`, mtimeMs: ++t });
    run({
      op: 'create',
      path: `${d}/open/w`,
      clientName: c,
      overwrite: false,
      createParent: true,
      replication: 2,
      blockBytes: 8192,
      mtimeMs: ++t,
    });
    const open = ns.nextBlockId;
    run({
      op: 'addBlock',
      path: `${d}/open/w`,
      clientName: c,
      previousNumBytes: NONE,
      blockId: open,
      genStamp: ns.nextGenStamp,
    });
    if (k % 4 === 1)
      run({ op: 'closeFile', path: `${d}/open/w`, keepBlocks: 1, lastNumBytes: 77, mtimeMs: ++t });
    if (k % 4 === 3) {
      // Block recovery: its id allocated durably, then the last block committed and the file closed.
      const recoveryId = ns.nextGenStamp + 2;
      run({ op: 'setGenStamp', genStamp: recoveryId });
      run({
        op: 'commitBlockSync',
        path: `${d}/open/w`,
        blockId: open,
        genStamp: recoveryId,
        numBytes: 55 + k,
        mtimeMs: ++t,
      });
    }
    if (k > 0 && k % 3 === 2) run({ op: 'delete', path: `/d${k - 1}`, recursive: true, mtimeMs: ++t });
  }
  return ops;
}

/** models[k] = the namespace after the first k ops. */
function modelsOf(ops: readonly EditOp[]): string[] {
  const ns = new Namespace();
  const out = [dump(ns)];
  for (const op of ops) {
    ns.apply(op);
    out.push(dump(ns));
  }
  return out;
}

/** Appends `ops` to `log` and resolves once every one was acknowledged. */
function appendAll(editLog: EditLog, ops: readonly EditOp[]): Promise<void> {
  return Promise.all(
    ops.map(
      (op) =>
        new Promise<void>((resolve, reject) => editLog.append(op, (err) => (err ? reject(err) : resolve()))),
    ),
  ).then(() => {});
}

function openLog(dir: string, lastTxid: number, fatal: Error[] = []): Promise<EditLog> {
  return EditLog.open(dir, lastTxid, (err) => fatal.push(err));
}

/** End offsets of each record of a well-formed segment. */
function recordEnds(seg: Buffer): number[] {
  const ends: number[] = [];
  for (let at = SEGMENT_HEADER_BYTES; at < seg.length; at += 8 + seg.readUInt32BE(at))
    ends.push(at + 8 + seg.readUInt32BE(at));
  expect(ends[ends.length - 1]).toBe(seg.length);
  return ends;
}

function readAt(file: string, from: number, to: number): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(to - from);
    expect(fs.readSync(fd, buf, 0, buf.length, from)).toBe(buf.length);
    return buf;
  } finally {
    fs.closeSync(fd);
  }
}

/** A segment of mkdir records (each a different length) of at least `bytes`, and its record ends. */
function mkdirSegment(bytes: number): { segment: Buffer; ends: number[] } {
  const parts = [encodeSegmentHeader(1)];
  let size = SEGMENT_HEADER_BYTES;
  for (let txid = 1; size < bytes; txid++) {
    const rec = encodeRecord(txid, {
      op: 'mkdir',
      path: `/m${txid}-${'n'.repeat(txid % 97)}`,
      parents: false,
      mtimeMs: txid,
    });
    parts.push(rec);
    size += rec.length;
  }
  const segment = Buffer.concat(parts);
  return { segment, ends: recordEnds(segment) };
}

/** Replaces every segment in `dir` by the given files. */
function writeSegments(dir: string, files: Record<string, Buffer>): void {
  for (const n of fs.readdirSync(dir)) if (n.startsWith('edits_')) fs.rmSync(path.join(dir, n));
  for (const [n, bytes] of Object.entries(files)) fs.writeFileSync(path.join(dir, n), bytes);
}

type LoadResult = { ok: true; state: LoadedState } | { ok: false; err: DfsError };

async function tryLoad(dir: string): Promise<LoadResult> {
  try {
    return { ok: true, state: await loadNameDir(dir, log) };
  } catch (err) {
    if (!(err instanceof DfsError))
      throw new Error(`loadNameDir threw a non-DfsError: ${String(err)}`, { cause: err });
    return { ok: false, err };
  }
}

async function expectPrefix(dir: string, expected: number, what: string): Promise<LoadedState> {
  const r = await tryLoad(dir);
  if (!r.ok)
    throw new Error(`${what}: expected a prefix of ${expected} ops, got ${r.err.code}: ${r.err.message}`);
  expect(r.state.lastTxid, what).toBe(expected);
  expect(dump(r.state.namespace), what).toBe(MODELS[expected]);
  return r.state;
}

async function expectCorrupt(dir: string, segment: string, what: string): Promise<DfsError> {
  const r = await tryLoad(dir);
  if (r.ok) throw new Error(`${what}: expected CORRUPT_LOG, loaded ${r.state.lastTxid} ops`);
  expect(r.err.code, `${what}: ${r.err.message}`).toBe('CORRUPT_LOG');
  expect(r.err.message, what).toContain(segment);
  return r.err;
}

// The reference segment: OPS written by the real writer into one segment.
const OPS = workload(5);
const MODELS = modelsOf(OPS);
let SEGMENT = Buffer.alloc(0);
let ENDS: number[] = [];

beforeAll(async () => {
  await initChecksum();
  root = fs.mkdtempSync(path.join(TMP_BASE, 'dfs-edit-log-test-'));
  const dir = await formattedDir();
  const editLog = await openLog(dir, 0);
  await appendAll(editLog, OPS);
  await editLog.close();
  SEGMENT = fs.readFileSync(path.join(dir, SEG1));
  ENDS = recordEnds(SEGMENT);
  expect(ENDS).toHaveLength(OPS.length);
});

afterAll(() => {
  if (root !== '') fs.rmSync(root, { recursive: true, force: true });
});

// ---- the writer ----------------------------------------------------------------------------

describe('EditLog writer', () => {
  it('group commit: concurrent appends share fsyncs; each reply comes only once its record is on disk, in txid order', async () => {
    const dir = await formattedDir();
    const fatal: Error[] = [];
    const editLog = await openLog(dir, 0, fatal);
    const file = path.join(dir, SEG1);
    const ops = workload(40); // ~470 ops
    // Byte offset at which each txid's record ends, from the encoder itself.
    const endOf: number[] = [SEGMENT_HEADER_BYTES];
    for (const [i, op] of ops.entries()) endOf.push(endOf[i]! + encodeRecord(i + 1, op).length);

    const acked: number[] = [];
    let next = 0;
    let inAppend = false;
    // 32 writers, each waiting for its previous reply before its next append (like RPC handlers).
    const writer = async (): Promise<void> => {
      while (next < ops.length) {
        const op = ops[next++]!;
        await new Promise<void>((resolve, reject) => {
          inAppend = true;
          const txid = editLog.append(op, (err) => {
            if (err) return reject(err);
            expect(inAppend, 'a reply ran inside append()').toBe(false);
            expect(editLog.lastDurableTxid).toBeGreaterThanOrEqual(txid);
            // Its bytes are in the file where the encoder puts them (not only zeros written ahead).
            expect(
              readAt(file, endOf[txid - 1]!, endOf[txid]!).equals(encodeRecord(txid, op)),
              `txid ${txid} acknowledged before it reached the file`,
            ).toBe(true);
            acked.push(txid);
            resolve();
          });
          inAppend = false;
        });
        // Sometimes yield a macrotask, so flushes interleave with arrivals.
        if (next % 7 === 0) await new Promise((r) => setImmediate(r));
      }
    };
    await Promise.all(Array.from({ length: 32 }, writer));
    expect(acked).toEqual(ops.map((_, i) => i + 1));
    expect(editLog.lastWrittenTxid).toBe(ops.length);
    expect(editLog.lastDurableTxid).toBe(ops.length);
    expect(editLog.recordCount).toBeGreaterThanOrEqual(ops.length);
    expect(editLog.flushCount).toBeGreaterThan(1);
    expect(editLog.flushCount).toBeLessThan(ops.length / 4);
    await editLog.close();
    expect(fatal).toEqual([]);

    const seg = decodeSegment(fs.readFileSync(file), SEG1);
    expect(seg.tornTail).toBeNull();
    expect(seg.records.map((r) => r.op)).toEqual(ops);
    const state = await loadNameDir(dir, log);
    expect(state.lastTxid).toBe(ops.length);
    expect(dump(state.namespace)).toBe(modelsOf(ops)[ops.length]);
  });

  it('close() flushes what is queued; append after close fails with SHUTTING_DOWN and is not logged', async () => {
    const dir = await formattedDir();
    const fatal: Error[] = [];
    const editLog = await openLog(dir, 0, fatal);
    const results: Array<Error | null> = [];
    for (const op of OPS.slice(0, 10)) editLog.append(op, (err) => results.push(err));
    await editLog.close();
    expect(results).toEqual(Array(10).fill(null));

    const late = await new Promise<Error | null>((resolve) => {
      expect(editLog.append(OPS[10]!, resolve)).toBe(-1);
    });
    expect(late).toBeInstanceOf(DfsError);
    expect((late as DfsError).code).toBe('SHUTTING_DOWN');
    await editLog.close(); // idempotent
    expect(fatal).toEqual([]);
    await expectPrefix(dir, 10, 'after close');
  });

  it('answers no append before the fdatasync covering its record completed; segments and the directory are fsynced', async () => {
    const dir = await formattedDir();
    const calls: string[] = [];
    /** fdatasyncs wait for the test to let them go; fsyncs (segment header, directory) are recorded and run. */
    const held: Array<() => void> = [];
    const sync: FileSync = {
      fdatasync: (fd) => {
        calls.push('fdatasync');
        return new Promise<void>((resolve) => held.push(resolve)).then(() => osFileSync.fdatasync(fd));
      },
      fsync: (fd) => {
        const st = fs.fstatSync(fd);
        calls.push(st.isDirectory() ? 'fsync dir' : `fsync ${st.size}`);
        return osFileSync.fsync(fd);
      },
    };
    const editLog = await EditLog.open(dir, 0, () => {}, { sync });
    // The new segment: its header and the zeros written ahead fsynced, then its directory entry.
    expect(calls).toEqual([`fsync ${PREALLOCATE_BYTES}`, 'fsync dir']);
    calls.length = 0;

    const done: number[] = [];
    editLog.append(OPS[0]!, (err) => {
      expect(err).toBeNull();
      done.push(1);
    });
    editLog.append(OPS[1]!, (err) => {
      expect(err).toBeNull();
      done.push(2);
    });
    await waitUntil(() => held.length === 1);
    // Both records are written and one fdatasync covers them; until it completes, nothing is answered.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(calls).toEqual(['fdatasync']);
    expect(done).toEqual([]);
    expect(editLog.lastDurableTxid).toBe(0);
    held.shift()!();
    await waitUntil(() => done.length === 2);
    expect(done).toEqual([1, 2]);
    expect(editLog.lastDurableTxid).toBe(2);

    // A roll: the old segment cut to its records (durably, before the new one exists), then
    // the new segment's header and directory entry fsynced before it is used.
    calls.length = 0;
    const rolled = editLog.roll();
    await rolled;
    const twoRecords = ENDS[1]!;
    expect(calls).toEqual([`fsync ${twoRecords}`, `fsync ${PREALLOCATE_BYTES}`, 'fsync dir']);
    expect(fs.statSync(path.join(dir, SEG1)).size).toBe(twoRecords);
    // A close cuts the newest segment to its records too (here: its header only).
    calls.length = 0;
    const closing = editLog.close();
    await closing;
    expect(calls).toEqual([`fsync ${SEGMENT_HEADER_BYTES}`]);
  });

  it('writes into zeros written ahead: a segment left open (a kill) loads whole and is cut to its records; rolls and closes cut it', async () => {
    const dir = await formattedDir();
    const editLog = await openLog(dir, 0);
    await appendAll(editLog, OPS);
    // As a kill leaves it: every record, then the zeros written ahead of them.
    const open = fs.readFileSync(path.join(dir, SEG1));
    expect(open.length).toBe(PREALLOCATE_BYTES);
    expect(open.subarray(0, SEGMENT.length).equals(SEGMENT)).toBe(true);
    expect(open.subarray(SEGMENT.length).every((b) => b === 0)).toBe(true);
    const killed = await formattedDir();
    writeSegments(killed, { [SEG1]: open });
    await expectPrefix(killed, OPS.length, 'a segment left open');
    expect(fs.statSync(path.join(killed, SEG1)).size).toBe(SEGMENT.length);
    // The writer's own roll and close leave each segment exactly its records.
    await editLog.roll();
    await appendAll(editLog, [{ op: 'mkdir', path: '/late', parents: false, mtimeMs: 9 }]);
    await editLog.close();
    expect(fs.readFileSync(path.join(dir, SEG1)).equals(SEGMENT)).toBe(true);
    const newest = path.join(dir, segmentFileName(OPS.length + 1));
    expect(fs.statSync(newest).size).toBe(recordEnds(fs.readFileSync(newest)).at(-1));
    const state = await loadNameDir(dir, log);
    expect(state.lastTxid).toBe(OPS.length + 1);
  });

  it('a segment is cut to its records only after the flush in flight at close(); a failed cut at close is logged and close resolves; at a roll it is fatal', async () => {
    // Close while a flush waits for its fdatasync: the cut comes after it.
    {
      const dir = await formattedDir();
      const held: Array<() => void> = [];
      const sync: FileSync = {
        fdatasync: (fd) =>
          new Promise<void>((resolve) => held.push(resolve)).then(() => osFileSync.fdatasync(fd)),
        fsync: (fd) => osFileSync.fsync(fd),
      };
      const editLog = await EditLog.open(dir, 0, () => {}, { sync });
      const acks = appendAll(editLog, OPS.slice(0, 3));
      await waitUntil(() => held.length === 1);
      const closed = editLog.close();
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(fs.statSync(path.join(dir, SEG1)).size).toBe(PREALLOCATE_BYTES);
      held.shift()!();
      await Promise.all([acks, closed]);
      expect(fs.statSync(path.join(dir, SEG1)).size).toBe(ENDS[2]);
    }
    // The cut's fsync fails: at close, a warning, close resolves, the zeros stay (a load cuts them).
    const failingCut = (warnings: string[] = []): { sync: FileSync; log: Logger } => ({
      sync: {
        fdatasync: (fd) => osFileSync.fdatasync(fd),
        fsync: (fd) => {
          const st = fs.fstatSync(fd);
          if (st.isFile() && st.size < PREALLOCATE_BYTES) return Promise.reject(new Error('EIO (test)'));
          return osFileSync.fsync(fd);
        },
      },
      log: Object.assign(silentLogger(), {
        warn: ((_o: unknown, msg: string) => warnings.push(msg)) as unknown as Logger['warn'],
      }),
    });
    {
      const dir = await formattedDir();
      const warnings: string[] = [];
      const fatal: Error[] = [];
      const editLog = await EditLog.open(dir, 0, (err) => fatal.push(err), failingCut(warnings));
      await appendAll(editLog, OPS.slice(0, 3));
      await editLog.close();
      expect(editLog.lifecycle).toBe('closed');
      expect(warnings).toEqual(['could not cut the edit log segment to its records at close']);
      expect(fatal).toEqual([]);
      await expectPrefix(dir, 3, 'after a failed cut at close');
    }
    // At a roll the old segment must be cut before a newer one exists: a failure stops the log.
    {
      const dir = await formattedDir();
      const fatal: Error[] = [];
      const editLog = await EditLog.open(dir, 0, (err) => fatal.push(err), failingCut());
      await appendAll(editLog, OPS.slice(0, 3));
      await expect(editLog.roll()).rejects.toMatchObject({ code: 'INTERNAL' });
      expect(fatal).toHaveLength(1);
      expect(editLog.lifecycle).toBe('failed');
      expect(fs.readdirSync(dir).filter((n) => n.startsWith('edits_'))).toEqual([SEG1]);
      await expect(appendAll(editLog, OPS.slice(3, 4))).rejects.toMatchObject({ code: 'INTERNAL' });
      await expectPrefix(dir, 3, 'after a failed roll');
    }
  });

  it('a segment appears under its name only whole: made under a temporary name, which a load removes if left', async () => {
    const dir = await formattedDir();
    const names: string[][] = [];
    const sync: FileSync = {
      fdatasync: (fd) => osFileSync.fdatasync(fd),
      fsync: (fd) => {
        names.push(fs.readdirSync(dir).filter((n) => n.startsWith('edits_')));
        return osFileSync.fsync(fd);
      },
    };
    const editLog = await EditLog.open(dir, 0, () => {}, { sync });
    // When the new segment's bytes were fsynced, only its temporary name existed.
    expect(names[0]).toEqual([`${SEG1}.tmp-${process.pid}`]);
    expect(fs.readdirSync(dir).filter((n) => n.startsWith('edits_'))).toEqual([SEG1]);
    await appendAll(editLog, OPS.slice(0, 2));
    await editLog.close();
    // A temporary segment left by a crash (its header never written) is removed at load.
    fs.writeFileSync(path.join(dir, `${segmentFileName(3)}.tmp-999`), Buffer.alloc(PREALLOCATE_BYTES));
    await expectPrefix(dir, 2, 'a temporary segment left');
    expect(fs.readdirSync(dir).filter((n) => n.startsWith('edits_'))).toEqual([SEG1]);
  });

  it('a log that outgrows the zeros written ahead extends them in whole chunks; a flush holds at most FLUSH_BYTES_MAX', async () => {
    const dir = await formattedDir();
    const perFlush: number[] = [];
    const editLog = await EditLog.open(dir, 0, () => {}, {
      onFlush: (_s, records) => perFlush.push(records),
    });
    // 700 records of about 3.8 KiB, all appended in one tick: 2.6 MiB, past two chunks.
    // All of one length.
    const deep = (i: number): string =>
      `/${String(i).padStart(3, '0')}-${'x'.repeat(250)}/${Array.from({ length: 14 }, () => 'y'.repeat(250)).join('/')}`;
    const ops: EditOp[] = Array.from({ length: 700 }, (_, i) => ({
      op: 'mkdir',
      path: deep(i),
      parents: true,
      mtimeMs: i,
    }));
    const recordBytes = encodeRecord(1, ops[0]!).length;
    const acks = appendAll(editLog, ops);
    await acks;
    const size = fs.statSync(path.join(dir, SEG1)).size;
    expect(size % PREALLOCATE_BYTES).toBe(0);
    expect(size).toBeGreaterThanOrEqual(SEGMENT_HEADER_BYTES + 700 * recordBytes);
    expect(Math.max(...perFlush)).toBe(Math.floor(FLUSH_BYTES_MAX / recordBytes));
    expect(perFlush.reduce((a, b) => a + b)).toBe(700);
    await editLog.close();
    const seg = decodeSegment(fs.readFileSync(path.join(dir, SEG1)), SEG1);
    expect(seg.tornTail).toBeNull();
    expect(seg.records.map((r) => r.op)).toEqual(ops);
  });

  it('its lifecycle is open until close(), closing while queued records drain, then closed; a roll after close is refused', async () => {
    const dir = await formattedDir();
    const editLog = await openLog(dir, 0);
    expect(editLog.lifecycle).toBe('open');
    const acks = appendAll(editLog, OPS.slice(0, 5));
    const closed = editLog.close();
    expect(editLog.lifecycle).toBe('closing');
    await Promise.all([acks, closed, editLog.close()]);
    expect(editLog.lifecycle).toBe('closed');
    expect(editLog.lastDurableTxid).toBe(editLog.lastWrittenTxid);
    await expect(editLog.roll()).rejects.toMatchObject({ code: 'SHUTTING_DOWN' });
    await expectPrefix(dir, 5, 'after close');
  });

  it('roll starts a new segment after every earlier append, with no txid gap; an empty roll makes no segment', async () => {
    const dir = await formattedDir();
    const editLog = await openLog(dir, 0);
    const a = OPS.slice(0, 20);
    const b = OPS.slice(20, 45);
    const c = OPS.slice(45);
    const firstAcks = appendAll(editLog, a);
    const rolled = editLog.roll(); // queued behind a, in the same tick
    const secondAcks = appendAll(editLog, b);
    expect(await rolled).toBe(20);
    await Promise.all([firstAcks, secondAcks]);
    expect(await editLog.roll()).toBe(45);
    expect(await editLog.roll()).toBe(45); // nothing since: the segment at 46 already starts there
    await appendAll(editLog, c);
    await editLog.close();

    const segs = fs
      .readdirSync(dir)
      .filter((n) => n.startsWith('edits_'))
      .sort();
    expect(segs).toEqual([segmentFileName(1), segmentFileName(21), segmentFileName(46)]);
    const txids = segs.map((n) =>
      decodeSegment(fs.readFileSync(path.join(dir, n)), n).records.map((r) => r.txid),
    );
    expect(txids[0]).toEqual(range(1, 20));
    expect(txids[1]).toEqual(range(21, 45));
    expect(txids[2]).toEqual(range(46, OPS.length));

    const state = await expectPrefix(dir, OPS.length, 'after rolls');
    expect(state.replayed).toBe(OPS.length);

    // A log reopened after the load continues the txids in a new segment.
    const again = await openLog(dir, state.lastTxid);
    await appendAll(again, [{ op: 'mkdir', path: '/after-reopen', parents: false, mtimeMs: 1 }]);
    await again.close();
    expect(fs.existsSync(path.join(dir, segmentFileName(OPS.length + 1)))).toBe(true);
    const reloaded = await loadNameDir(dir, log);
    expect(reloaded.lastTxid).toBe(OPS.length + 1);
    expect(reloaded.namespace.lookup('/after-reopen')?.kind).toBe('dir');
  });

  it('a roll right after open, and a segment left empty at the end, are harmless', async () => {
    const dir = await formattedDir();
    const editLog = await openLog(dir, 0);
    expect(await editLog.roll()).toBe(0);
    await appendAll(editLog, OPS.slice(0, 5));
    expect(await editLog.roll()).toBe(5);
    await editLog.close();
    expect(fs.existsSync(path.join(dir, segmentFileName(6)))).toBe(true);
    await expectPrefix(dir, 5, 'empty newest segment');
    // The empty newest segment was removed so the next writer can create it again.
    expect(fs.existsSync(path.join(dir, segmentFileName(6)))).toBe(false);
    const next = await openLog(dir, 5);
    await appendAll(next, OPS.slice(5, 8));
    await next.close();
    await expectPrefix(dir, 8, 'after reopen');
  });

  it('a missing middle segment is a gap: CORRUPT_LOG', async () => {
    const dir = await formattedDir();
    const editLog = await openLog(dir, 0);
    await appendAll(editLog, OPS.slice(0, 10));
    await editLog.roll();
    await appendAll(editLog, OPS.slice(10, 20));
    await editLog.roll();
    await appendAll(editLog, OPS.slice(20, 30));
    await editLog.close();
    fs.rmSync(path.join(dir, segmentFileName(11)));
    const err = await expectCorrupt(dir, segmentFileName(21), 'missing segment');
    expect(err.message).toContain('gap');
  });
});

// ---- crash tests ---------------------------------------------------------------------------

describe('crash recovery of the newest segment', () => {
  it('truncated at every byte offset: exactly the prefix of whole records, the file cut on disk, and the log writable again', async () => {
    const dir = await formattedDir();
    let checked = 0;
    let reopened = 0;
    for (let cut = 0; cut <= SEGMENT.length; cut++) {
      writeSegments(dir, { [SEG1]: SEGMENT.subarray(0, cut) });
      const whole = ENDS.filter((e) => e <= cut).length;
      const state = await expectPrefix(dir, whole, `cut at ${cut}`);
      // On disk: the segment now ends after its last whole record (or is gone if it has none).
      const file = path.join(dir, SEG1);
      if (whole === 0) expect(fs.existsSync(file), `cut at ${cut}`).toBe(false);
      else expect(fs.statSync(file).size, `cut at ${cut}`).toBe(ENDS[whole - 1]);
      // A new writer continues after the prefix; a second load sees old + new ops. (At every
      // cut inside the first records, and a sample of the others, to stay fast.)
      if (cut < 200 || cut % 13 === 0 || cut >= SEGMENT.length - 60) {
        const editLog = await openLog(dir, state.lastTxid);
        await appendAll(editLog, OPS.slice(whole));
        await editLog.close();
        await expectPrefix(dir, OPS.length, `reopened after cut at ${cut}`);
        reopened++;
      }
      checked++;
    }
    expect(checked).toBe(SEGMENT.length + 1);
    expect(reopened).toBeGreaterThan(300);
  });

  it('tail zero-filled from every record boundary (a preallocated or torn tail): the records before it', async () => {
    const dir = await formattedDir();
    for (const [i, from] of [SEGMENT_HEADER_BYTES, ...ENDS.slice(0, -1)].entries()) {
      const damaged = Buffer.from(SEGMENT);
      damaged.fill(0, from);
      writeSegments(dir, { [SEG1]: damaged });
      await expectPrefix(dir, i, `zeroed from record boundary ${from}`);
      // The zeros were cut away.
      const file = path.join(dir, SEG1);
      if (i === 0) expect(fs.existsSync(file)).toBe(false);
      else expect(fs.statSync(file).size).toBe(from);
    }
    // Zeros appended after the last record (an extent allocated but never written).
    writeSegments(dir, { [SEG1]: Buffer.concat([SEGMENT, Buffer.alloc(4096)]) });
    await expectPrefix(dir, OPS.length, 'zeros after the last record');
    expect(fs.statSync(path.join(dir, SEG1)).size).toBe(SEGMENT.length);
  });

  it('tail zero-filled from every 512-byte sector boundary (sectors never written): the records wholly before it', async () => {
    const ops = workload(60);
    const models = modelsOf(ops);
    const src = await formattedDir();
    const editLog = await openLog(src, 0);
    await appendAll(editLog, ops);
    await editLog.close();
    const segment = fs.readFileSync(path.join(src, SEG1));
    const ends = recordEnds(segment);
    const dir = await formattedDir();
    let boundaries = 0;
    // The last record is left out: a zeroed sector in it follows the stricter last-record rule.
    for (let from = 512; from < ends[ends.length - 2]!; from += 512) {
      const damaged = Buffer.from(segment);
      damaged.fill(0, from);
      writeSegments(dir, { [SEG1]: damaged });
      const whole = ends.filter((e) => e <= from).length;
      const r = await tryLoad(dir);
      if (!r.ok)
        throw new Error(
          `zeroed from sector ${from} (inside record ${whole + 1}): ${r.err.code} ${r.err.message}`,
        );
      expect(r.state.lastTxid, `zeroed from ${from}`).toBe(whole);
      expect(dump(r.state.namespace)).toBe(models[whole]);
      boundaries++;
    }
    expect(boundaries).toBeGreaterThan(20);
  });

  it('a sector boundary inside a record header (its length pair), zeroed to the end: the records before it', async () => {
    const dir = await formattedDir();
    // The first record is sized to end k bytes before the 512 boundary, so the zeroed sectors
    // begin inside the second record's 8-byte length pair.
    for (let k = 1; k <= 7; k++) {
      const first = recordEndingAt(512 - k);
      const rest = [2, 3, 4].map((txid) =>
        encodeRecord(txid, { op: 'mkdir', path: `/r${txid}`, parents: false, mtimeMs: 5 }),
      );
      const damaged = Buffer.concat([encodeSegmentHeader(1), first, ...rest]);
      damaged.fill(0, 512);
      writeSegments(dir, { [SEG1]: damaged });
      const state = await loadNameDir(dir, log);
      expect(state.lastTxid, `length pair cut after ${8 - k} bytes`).toBe(1);
      expect(fs.statSync(path.join(dir, SEG1)).size).toBe(512 - k);
    }

    function recordEndingAt(end: number): Buffer {
      const base = encodeRecord(1, { op: 'mkdir', path: '/x', parents: true, mtimeMs: 5 }).length;
      const pathBytes = end - SEGMENT_HEADER_BYTES - base + 2;
      const path = `/${'x'.repeat(200)}/${'y'.repeat(200)}/${'z'.repeat(pathBytes - 403)}`;
      const rec = encodeRecord(1, { op: 'mkdir', path, parents: true, mtimeMs: 5 });
      expect(SEGMENT_HEADER_BYTES + rec.length).toBe(end);
      return rec;
    }
  });

  it('a zeroed sector with more than FLUSH_BYTES_MAX of records after it is corruption, not a torn tail', async () => {
    const dir = await formattedDir();
    const { segment } = mkdirSegment(FLUSH_BYTES_MAX + 2048);
    const damaged = Buffer.from(segment);
    damaged.fill(0, 512, 1024);
    // Acknowledged records follow it: no flush of the writer reaches that far.
    for (const tail of [0, PREALLOCATE_BYTES]) {
      const file = Buffer.concat([damaged, Buffer.alloc(tail)]);
      writeSegments(dir, { [SEG1]: file });
      await expectCorrupt(
        dir,
        SEG1,
        `zeroed sector, then ${segment.length - 1024} bytes of records, then ${tail} zeros`,
      );
      // Refusing changed nothing on disk.
      expect(fs.readFileSync(path.join(dir, SEG1)).equals(file)).toBe(true);
    }
  });

  it('damage zeroed from a record to its sector end is a torn last flush within FLUSH_BYTES_MAX of the last byte set, corruption beyond', () => {
    const { segment, ends } = mkdirSegment(FLUSH_BYTES_MAX + 4096);
    const starts = [SEGMENT_HEADER_BYTES, ...ends.slice(0, -1)];
    // The first record whose start is within FLUSH_BYTES_MAX of the last byte set.
    const first = starts.findIndex((x) => segment.length - x <= FLUSH_BYTES_MAX);
    expect(first).toBeGreaterThan(0);
    const zeroedAt = (k: number): Buffer => {
      const x = starts[k]!;
      const damaged = Buffer.concat([segment, Buffer.alloc(PREALLOCATE_BYTES)]);
      damaged.fill(0, x, Math.ceil((x + 8) / 512) * 512);
      return damaged;
    };
    for (const k of [first, first + 1, starts.length - 1]) {
      const seg = decodeSegment(zeroedAt(k), SEG1);
      expect(seg.records, `record ${k}`).toHaveLength(k);
      expect(seg.tornTail).toContain('last flush');
    }
    for (const k of [first - 1, 0])
      expect(() => decodeSegment(zeroedAt(k), SEG1), `record ${k}`).toThrow(/corrupt at byte/);
  });

  it("a record's own zero bytes before a sector boundary (its length's high bytes) are not an unwritten sector: a flipped byte there is corruption", () => {
    const { segment, ends } = mkdirSegment(3 * FLUSH_BYTES_MAX);
    // Last records that start 1 to 3 bytes before a sector boundary: those bytes are zero.
    const cases = ends.filter((x, k) => k + 1 < ends.length && x % 512 >= 509).slice(0, 8);
    expect(cases.length).toBeGreaterThan(2);
    for (const x of cases) {
      const end = ends[ends.indexOf(x) + 1]!;
      const damaged = Buffer.concat([segment.subarray(0, end), Buffer.alloc(PREALLOCATE_BYTES)]);
      expect(damaged.subarray(x, Math.ceil(x / 512) * 512).every((b) => b === 0)).toBe(true);
      damaged[end - 1] = damaged[end - 1]! ^ 0x01;
      expect(() => decodeSegment(damaged, SEG1), `record at ${x}`).toThrow(/corrupt at byte/);
    }
  });

  it('the last flush written into zeros, with any one of its 512-byte sectors or 4 KiB pages never written: cut at its first damaged record', () => {
    const { segment, ends } = mkdirSegment(FLUSH_BYTES_MAX + 65536);
    const starts = [SEGMENT_HEADER_BYTES, ...ends.slice(0, -1)];
    // Where the torn flush began: a record boundary FLUSH_BYTES_MAX, 8 KiB, 600 bytes before the end, the last record.
    const flushStarts = [FLUSH_BYTES_MAX, 8192, 600, 1].map(
      (back) => starts.find((x) => segment.length - x <= back) ?? starts.at(-1)!,
    );
    // And flushes that began 1 to 7 bytes before a sector's end: a hole there zeroes only
    // the first bytes of the first record's length pair.
    for (let k = 1; k <= 7; k++) {
      const x = starts.find((y) => segment.length - y <= FLUSH_BYTES_MAX && 512 - (y % 512) === k);
      if (x !== undefined) flushStarts.push(x);
    }
    expect(flushStarts.length).toBeGreaterThan(8);
    let cut = 0;
    let headerCut = 0;
    for (const f of flushStarts) {
      for (const unit of [512, 4096]) {
        for (let s = Math.floor(f / unit) * unit; s < segment.length; s += unit) {
          const damaged = Buffer.concat([segment, Buffer.alloc(4096)]);
          // The unwritten unit keeps what it held before the flush: the records before f, zeros.
          const hole = Math.max(s, f);
          damaged.fill(0, hole, s + unit);
          const whole = ends.filter((e) => e <= hole).length;
          const x = whole === 0 ? SEGMENT_HEADER_BYTES : ends[whole - 1]!;
          const what = `flush at ${f}, ${unit}-byte hole at ${hole}`;
          const seg = decodeSegment(damaged, SEG1);
          // A hole over a record's first bytes, its length's zero high bytes only, changed nothing.
          const nothing = x >= hole && s + unit - x <= 3;
          expect(seg.records.length, what).toBe(nothing ? ends.length : whole);
          if (x >= hole && s + unit - x < 8) headerCut++;
          cut++;
        }
      }
    }
    expect(cut).toBeGreaterThan(600);
    expect(headerCut).toBeGreaterThan(0);
  });

  it('bit flips at every byte of every record (the middle ones and the last), zeros written ahead after them or not, are corruption, never a shorter prefix', () => {
    let flips = 0;
    const wrong: string[] = [];
    for (const damaged of [Buffer.from(SEGMENT), Buffer.concat([SEGMENT, Buffer.alloc(4096)])])
      for (let at = SEGMENT_HEADER_BYTES; at < SEGMENT.length; at++) {
        for (const mask of [0x01, 0x08, 0x80, 0xff]) {
          damaged[at] = SEGMENT[at]! ^ mask;
          let code = 'none';
          try {
            decodeSegment(damaged, SEG1);
          } catch (err) {
            code = err instanceof DfsError ? err.code : String(err);
          }
          if (code !== 'CORRUPT_LOG') wrong.push(`byte ${at} ^ 0x${mask.toString(16)}: ${code}`);
          flips++;
        }
        damaged[at] = SEGMENT[at]!;
      }
    expect(wrong).toEqual([]);
    expect(flips).toBe((SEGMENT.length - SEGMENT_HEADER_BYTES) * 4 * 2);
  });

  it('a flipped byte in a middle record or in the last record: loadNameDir refuses with CORRUPT_LOG naming the segment', async () => {
    const dir = await formattedDir();
    const lastStart = ENDS[ENDS.length - 2]!;
    let middle = 0;
    let last = 0;
    for (let at = SEGMENT_HEADER_BYTES; at < SEGMENT.length; at++) {
      // Every byte of the first two and the last two records, every third byte elsewhere.
      if (at >= ENDS[1]! && at < ENDS[ENDS.length - 3]! && at % 3 !== 0) continue;
      const damaged = Buffer.from(SEGMENT);
      damaged[at] = damaged[at]! ^ 0xff;
      writeSegments(dir, { [SEG1]: damaged });
      const err = await expectCorrupt(dir, SEG1, `byte ${at} ^ 0xff`);
      expect(err.message).toMatch(/corrupt at byte \d+/);
      if (at >= lastStart) last++;
      else middle++;
    }
    expect(middle).toBeGreaterThan(200);
    expect(last).toBe(SEGMENT.length - lastStart);
    // The damaged file was left as it was, for the operator to look at.
    const finalDamaged = Buffer.from(SEGMENT);
    finalDamaged[SEGMENT.length - 1] = finalDamaged[SEGMENT.length - 1]! ^ 0xff;
    expect(fs.readFileSync(path.join(dir, SEG1)).equals(finalDamaged)).toBe(true);
  });

  it('a damaged segment header (magic, version, first txid) is CORRUPT_LOG', async () => {
    const dir = await formattedDir();
    // Bytes 6..7 are reserved and not checked; every other header byte is.
    for (const at of [0, 1, 2, 3, 4, 5, 8, 9, 10, 11, 12, 13, 14, 15]) {
      const damaged = Buffer.from(SEGMENT);
      damaged[at] = damaged[at]! ^ 0x01;
      writeSegments(dir, { [SEG1]: damaged });
      await expectCorrupt(dir, SEG1, `header byte ${at}`);
    }
  });
});

describe('crash recovery: damage in an older segment', () => {
  /** Two segments, the first holding ops 1..split. */
  async function twoSegments(split: number): Promise<{ dir: string; older: Buffer; newer: Buffer }> {
    const dir = await formattedDir();
    const editLog = await openLog(dir, 0);
    await appendAll(editLog, OPS.slice(0, split));
    await editLog.roll();
    await appendAll(editLog, OPS.slice(split));
    await editLog.close();
    return {
      dir,
      older: fs.readFileSync(path.join(dir, SEG1)),
      newer: fs.readFileSync(path.join(dir, segmentFileName(split + 1))),
    };
  }

  it('a torn tail (any cut) in a segment that is not the newest is CORRUPT_LOG, and nothing is truncated', async () => {
    const split = 30;
    const { dir, older, newer } = await twoSegments(split);
    const newerName = segmentFileName(split + 1);
    writeSegments(dir, { [SEG1]: older, [newerName]: newer });
    await expectPrefix(dir, OPS.length, 'undamaged');
    for (let cut = 0; cut < older.length; cut++) {
      writeSegments(dir, { [SEG1]: older.subarray(0, cut), [newerName]: newer });
      await expectCorrupt(dir, 'edits_', `older cut at ${cut}`);
      expect(fs.statSync(path.join(dir, SEG1)).size).toBe(cut);
    }
    // Its tail zeroed from a record boundary: also refused.
    const zeroed = Buffer.from(older);
    zeroed.fill(0, recordEnds(older)[10]);
    writeSegments(dir, { [SEG1]: zeroed, [newerName]: newer });
    await expectCorrupt(dir, 'edits_', 'older zeroed tail');
  });

  it('a torn tail in the newest segment, with an older one before it, is cut', async () => {
    const split = 30;
    const { dir, older, newer } = await twoSegments(split);
    const newerName = segmentFileName(split + 1);
    const newerEnds = recordEnds(newer);
    const cut = newerEnds[4]! + 5;
    writeSegments(dir, { [SEG1]: older, [newerName]: newer.subarray(0, cut) });
    await expectPrefix(dir, split + 5, 'newest cut');
    expect(fs.statSync(path.join(dir, newerName)).size).toBe(newerEnds[4]);
    expect(fs.statSync(path.join(dir, SEG1)).size).toBe(older.length);
  });
});

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/** Polls `cond` every 5 ms, for at most 5 s. */
async function waitUntil(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !cond(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
  if (!cond()) throw new Error('condition not met within 5 s');
}
