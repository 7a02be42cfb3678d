/**
 * Shipping checkpoint images between HA NameNodes (issue 14) over their HTTP ports, as
 * HDFS's ImageServlet does: `GET /imagetransfer?txid=N` serves `fsimage_N` from the name
 * directory with its txid and SHA-256 in headers; `downloadImage` fetches one into another
 * NameNode's name directory.
 *
 * Why HTTP and pull: an image grows with the namespace (hundreds of MiB at ten million
 * files), far past etcd's 1.5 MiB request limit, so etcd only holds where each image is
 * (image-registry.ts) and the bytes go NameNode to NameNode. Each NameNode pulls the newest
 * image a peer records (image-sync.ts) instead of the checkpointer pushing to each: the
 * same GET serves shipping, a standby catching up after compaction and a new NameNode
 * bootstrapping, and a NameNode that is down when the image is written fetches it when it
 * is back, with nothing for the writer to retry.
 *
 * A download is as untrusted as any peer's bytes and lands atomically: streamed to a temp
 * file in the name directory while hashed; the hash must equal both the header and the
 * digest the serving NameNode recorded in etcd (when the caller knows it); then fsync,
 * rename to `fsimage_N`, fsync of the directory. A crash leaves a temp file, which the next
 * start removes (name-dir.ts `loadNameDir`), never a half image under the real name. The
 * image's own xxh32 trailer is checked again when it is loaded (fs-image.ts).
 */
import { createHash } from 'node:crypto';
import fs, { promises as fsp } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { DfsError, rethrowIfBug } from '../../protocol/errors.js';
import { osFileSync, type FileSync } from '../common/file-sync.js';
import { fsyncDir } from '../common/fs-util.js';
import { HttpError, type HttpRouter } from '../common/http-router.js';
import { imageFileName } from '../namenode/fs-image.js';

export const IMAGE_TRANSFER_PATH = '/imagetransfer';
const TXID_HEADER = 'x-image-txid';
const DIGEST_HEADER = 'x-image-sha256';

/** The SHA-256 (hex) of a file, streamed. */
export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Serves this NameNode's images: `GET /imagetransfer?txid=N` (404 when it holds no such image). */
export function addImageTransferRoute(router: HttpRouter, nameDir: string): void {
  router.route(IMAGE_TRANSFER_PATH, {
    methods: ['GET'],
    handler: async ({ req, res, url }) => {
      const txidText = url.searchParams.get('txid') ?? '';
      if (!/^\d{1,16}$/.test(txidText))
        throw new HttpError(400, 'INVALID_ARGUMENT', `txid '${txidText.slice(0, 40)}': expected a number`);
      const file = path.join(nameDir, imageFileName(Number(txidText)));
      let digest: string;
      let bytes: number;
      try {
        bytes = (await fsp.stat(file)).size;
        digest = await sha256File(file);
      } catch (err) {
        rethrowIfBug(err);
        // Purged by a newer checkpoint meanwhile: the caller asks etcd again.
        throw new DfsError('NOT_FOUND', `no image at txid ${txidText} here`);
      }
      res.writeHead(200, {
        'Content-Type': 'application/octet-stream',
        'Content-Length': String(bytes),
        'Cache-Control': 'no-store',
        [TXID_HEADER]: txidText,
        [DIGEST_HEADER]: digest,
      });
      if (req.method === 'HEAD') return void res.end();
      await pipeline(fs.createReadStream(file), res);
    },
  });
}

export interface DownloadOptions {
  /** The peer's HTTP address, "host:port". */
  httpAddress: string;
  txid: number;
  /** The digest the peer recorded in etcd; the download must match it. */
  sha256?: string;
  nameDir: string;
  sync?: FileSync;
  /**
   * How long the peer may send nothing (the answer's head, or the next bytes) before the
   * transfer is abandoned (default IMAGE_TRANSFER_IDLE_MS): a peer that is paused or gone must
   * not hold the image sync (image-sync.ts runs one at a time) for long. A slow but moving
   * transfer is never cut.
   */
  idleTimeoutMs?: number;
}

/** HDFS's `dfs.image.transfer.timeout` is 60 s of silence; 30 s here. */
export const IMAGE_TRANSFER_IDLE_MS = 30_000;

/**
 * Fetches image `txid` from a peer into `nameDir` as `fsimage_<txid>`, verified and durable;
 * resolves with its size. NOT_FOUND when the peer no longer has it, CORRUPT_LOG when the
 * bytes do not match their digest, CONNECTION when the peer cannot be reached.
 */
export async function downloadImage(o: DownloadOptions): Promise<number> {
  const url = `http://${o.httpAddress}${IMAGE_TRANSFER_PATH}?txid=${o.txid}`;
  const idleMs = o.idleTimeoutMs ?? IMAGE_TRANSFER_IDLE_MS;
  const abort = new AbortController();
  let idle = setTimeout(() => abort.abort(new Error(`nothing received for ${idleMs} ms`)), idleMs);
  const moved = (): void => {
    clearTimeout(idle);
    idle = setTimeout(() => abort.abort(new Error(`nothing received for ${idleMs} ms`)), idleMs);
  };
  try {
    return await download(o, url, abort.signal, moved);
  } finally {
    clearTimeout(idle);
  }
}

async function download(
  o: DownloadOptions,
  url: string,
  signal: AbortSignal,
  moved: () => void,
): Promise<number> {
  let res: Response;
  try {
    res = await fetch(url, { signal });
    moved();
  } catch (err) {
    rethrowIfBug(err);
    throw new DfsError('CONNECTION', `image transfer from ${url}: ${(err as Error).message}`);
  }
  if (res.status === 404) throw new DfsError('NOT_FOUND', `${o.httpAddress} has no image at txid ${o.txid}`);
  if (!res.ok || res.body === null)
    throw new DfsError('CONNECTION', `image transfer from ${url}: HTTP ${res.status}`);
  const headerTxid = res.headers.get(TXID_HEADER);
  const headerDigest = res.headers.get(DIGEST_HEADER) ?? '';
  if (headerTxid !== String(o.txid))
    throw new DfsError('CORRUPT_LOG', `image transfer from ${url}: it sent txid ${headerTxid}`);
  if (o.sha256 !== undefined && headerDigest !== o.sha256)
    throw new DfsError(
      'CORRUPT_LOG',
      `image transfer from ${url}: digest ${headerDigest}, recorded ${o.sha256}`,
    );
  const file = path.join(o.nameDir, imageFileName(o.txid));
  const tmp = `${file}.tmp-${process.pid}`;
  const sync = o.sync ?? osFileSync;
  const hash = createHash('sha256');
  const handle = await fsp.open(tmp, 'w', 0o644);
  let bytes = 0;
  try {
    try {
      for await (const chunk of res.body) {
        moved();
        const b = chunk as Uint8Array;
        hash.update(b);
        bytes += b.length;
        await handle.write(b);
      }
    } catch (err) {
      rethrowIfBug(err);
      throw new DfsError('CONNECTION', `image transfer from ${url} broke: ${(err as Error).message}`);
    }
    const got = hash.digest('hex');
    if (got !== headerDigest)
      throw new DfsError(
        'CORRUPT_LOG',
        `image transfer from ${url}: bytes hash to ${got}, sent ${headerDigest}`,
      );
    await sync.fsync(handle.fd);
  } catch (err) {
    await handle.close();
    await fsp.rm(tmp, { force: true });
    throw err;
  }
  await handle.close();
  await fsp.rename(tmp, file);
  await fsyncDir(o.nameDir, sync);
  return bytes;
}
