/**
 * The NameNode's storage directory: formatting, the single-owner lock, and loading the
 * namespace at start-up (newest valid image, then the edit segments after it).
 *
 *   NAME_DIR/VERSION                 {"clusterId", "layoutVersion", "createdAt"} (JSON)
 *   NAME_DIR/in_use.lock             pid of the NameNode using the directory
 *   NAME_DIR/fsimage_<txid>          checkpoint images (fs-image.ts)
 *   NAME_DIR/edits_<firstTxid>       edit log segments (edit-log-format.ts)
 *   NAME_DIR/decommissioned.json     nodes an operator decommissioned (decommission-store.ts)
 *
 * Start-up decisions:
 *   | found                                                | action                            |
 *   |------------------------------------------------------|-----------------------------------|
 *   | no VERSION                                           | refuse: "not formatted"           |
 *   | newest image corrupt, an older one valid             | use the older one (edits decide)  |
 *   | zeros after the records of the newest segment        | truncate it there (preallocated)  |
 *   | torn tail in the newest segment                      | truncate it there, log a warning  |
 *   | newest segment holds no record                       | delete it (a new one is opened)   |
 *   | torn tail or corruption in an older segment          | refuse with the segment and offset|
 *   | txid gap between image and segments or between them  | refuse                            |
 *   | a record that cannot be applied                      | refuse                            |
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { DfsError, rethrowIfBug } from '../../protocol/errors.js';
import { initChecksum } from '../common/checksum.js';
import { fsyncDir, writeFileAtomic } from '../common/fs-util.js';
import type { Logger } from '../common/logger.js';
import { DECOMMISSIONED_FILE } from './decommission-store.js';
import { decodeSegment, SEGMENT_HEADER_BYTES, ZERO_TAIL } from './edit-log-format.js';
import { imageFileName, loadImage, saveImage } from './fs-image.js';
import { replayRecords, type ReplayObserver } from './journal.js';
import { Namespace } from './namespace.js';
import type { DefaultOwners } from './ownership.js';

export const LAYOUT_VERSION = 1;

export interface VersionFile {
  clusterId: string;
  layoutVersion: number;
  createdAt: string;
}

const IMAGE_RE = /^fsimage_(\d{16})$/;
const SEGMENT_RE = /^edits_(\d{16})$/;

export async function formatNameDir(
  dir: string,
  options: { force: boolean; clusterId?: string; owners?: DefaultOwners },
): Promise<VersionFile> {
  await initChecksum();
  fs.mkdirSync(dir, { recursive: true });
  const existing = tryReadVersion(dir);
  if (existing && !options.force) {
    throw new DfsError(
      'ALREADY_EXISTS',
      `${dir} is already formatted (cluster ${existing.clusterId}); use --force to erase it`,
    );
  }
  for (const name of fs.readdirSync(dir)) {
    if (
      IMAGE_RE.test(name) ||
      SEGMENT_RE.test(name) ||
      name === 'VERSION' ||
      name === DECOMMISSIONED_FILE ||
      name.includes('.tmp-')
    ) {
      fs.rmSync(path.join(dir, name), { force: true });
    }
  }
  const version: VersionFile = {
    clusterId: options.clusterId ?? `CID-${randomUUID()}`,
    layoutVersion: LAYOUT_VERSION,
    createdAt: new Date().toISOString(),
  };
  // The root starts owned by the superuser, mode 0755 (HDFS).
  await saveImage(dir, new Namespace(options.owners), 0);
  await writeFileAtomic(path.join(dir, 'VERSION'), Buffer.from(`${JSON.stringify(version, null, 2)}\n`));
  return version;
}

function tryReadVersion(dir: string): VersionFile | null {
  let text: string;
  try {
    text = fs.readFileSync(path.join(dir, 'VERSION'), 'utf8');
  } catch {
    return null;
  }
  const v = JSON.parse(text) as VersionFile;
  if (typeof v.clusterId !== 'string' || v.layoutVersion !== LAYOUT_VERSION) {
    throw new DfsError('CORRUPT_LOG', `${dir}/VERSION is not a DFS layout ${LAYOUT_VERSION} version file`);
  }
  return v;
}

export function readVersion(dir: string): VersionFile {
  const v = tryReadVersion(dir);
  if (v === null) {
    throw new DfsError(
      'NOT_FOUND',
      `${dir} is not a formatted name directory (run 'dfsd namenode --format --name-dir ${dir}')`,
    );
  }
  return v;
}

/** Takes the directory for this process; a lock left by a dead process is taken over. */
export function lockNameDir(dir: string): () => void {
  const file = path.join(dir, 'in_use.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
      return () => fs.rmSync(file, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number.parseInt(fs.readFileSync(file, 'utf8'), 10);
      if (Number.isInteger(pid) && pid !== process.pid && isAlive(pid)) {
        throw new DfsError('ACCESS_DENIED', `${dir} is in use by another NameNode (pid ${pid})`);
      }
      fs.rmSync(file, { force: true });
    }
  }
  throw new DfsError('ACCESS_DENIED', `could not lock ${dir}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface LoadedState {
  namespace: Namespace;
  imageTxid: number;
  lastTxid: number;
  replayed: number;
}

/** `owners`: who owns what an image or edit older than owners made (the superuser, supergroup). */
/** `observer` sees each edit replayed (the retry cache, retry-cache.ts). */
export async function loadNameDir(
  dir: string,
  log: Logger,
  owners?: DefaultOwners,
  observer?: ReplayObserver,
): Promise<LoadedState> {
  const names = fs.readdirSync(dir);
  for (const name of names) if (name.includes('.tmp-')) fs.rmSync(path.join(dir, name), { force: true });
  const images = names
    .filter((n) => IMAGE_RE.test(n))
    .sort()
    .reverse();
  const segments = names.filter((n) => SEGMENT_RE.test(n)).sort();

  let namespace: Namespace | null = null;
  let imageTxid = 0;
  for (const name of images) {
    try {
      const loaded = loadImage(path.join(dir, name), owners);
      namespace = loaded.namespace;
      imageTxid = loaded.txid;
      log.info({ image: name, txid: imageTxid }, 'loaded checkpoint image');
      break;
    } catch (err) {
      rethrowIfBug(err);
      log.error(
        { image: name, err: (err as Error).message },
        'checkpoint image unusable; trying an older one',
      );
    }
  }
  if (namespace === null) {
    if (images.length > 0) throw new DfsError('CORRUPT_LOG', `no usable checkpoint image in ${dir}`);
    namespace = new Namespace(owners);
  }

  let expect = imageTxid + 1;
  let replayed = 0;
  for (let i = 0; i < segments.length; i++) {
    const name = segments[i]!;
    const isLast = i === segments.length - 1;
    const nextFirst = isLast ? Infinity : Number(SEGMENT_RE.exec(segments[i + 1]!)![1]);
    if (nextFirst - 1 < expect) continue; // every record here is already in the image
    const file = path.join(dir, name);
    const seg = decodeSegment(fs.readFileSync(file), name);
    if (seg.tornTail !== null) {
      if (!isLast)
        throw new DfsError(
          'CORRUPT_LOG',
          `edit log ${name} is damaged before newer segments: ${seg.tornTail}`,
        );
      // Zeros after the records are the space the writer preallocated: the usual end after a kill.
      log[seg.tornTail === ZERO_TAIL ? 'info' : 'warn'](
        { segment: name, validBytes: seg.validBytes, reason: seg.tornTail },
        'cutting torn tail of the edit log',
      );
    }
    if (isLast && seg.records.length === 0) {
      fs.rmSync(file);
      await fsyncDir(dir);
      continue;
    }
    if (seg.tornTail !== null) {
      truncateDurably(file, Math.max(seg.validBytes, SEGMENT_HEADER_BYTES));
    }
    const next = replayRecords(namespace, seg.records, expect, name, observer);
    replayed += next - expect;
    expect = next;
  }
  return { namespace, imageTxid, lastTxid: expect - 1, replayed };
}

function truncateDurably(file: string, bytes: number): void {
  const fd = fs.openSync(file, 'r+');
  try {
    fs.ftruncateSync(fd, bytes);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** After a checkpoint at `imageTxid`: drop older images and segments wholly covered by it. */
export function purgeBefore(dir: string, imageTxid: number): string[] {
  const removed: string[] = [];
  const names = fs.readdirSync(dir);
  if (!names.includes(imageFileName(imageTxid))) {
    throw new DfsError(
      'INTERNAL',
      `refusing to purge: no image at txid ${imageTxid} covers what would be removed`,
    );
  }
  const segments = names.filter((n) => SEGMENT_RE.test(n)).sort();
  for (let i = 0; i < segments.length; i++) {
    const nextFirst = i + 1 < segments.length ? Number(SEGMENT_RE.exec(segments[i + 1]!)![1]) : Infinity;
    if (nextFirst - 1 <= imageTxid) removed.push(segments[i]!);
  }
  const keepImage = imageFileName(imageTxid);
  for (const n of names) if (IMAGE_RE.test(n) && n < keepImage) removed.push(n);
  for (const n of removed) fs.rmSync(path.join(dir, n), { force: true });
  return removed;
}
