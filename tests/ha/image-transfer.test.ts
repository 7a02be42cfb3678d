/**
 * Image shipping between HA NameNodes (src/ha/image-transfer.ts) over a real HTTP server:
 * `GET /imagetransfer?txid=N` serves an image with its txid and SHA-256; `downloadImage`
 * lands it under its real name only when the bytes match both the header and the digest
 * recorded in etcd, and leaves nothing behind (no image, no temp file) when they do not.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpRouter } from '../../src/common/http-router.js';
import { HttpServer } from '../../src/common/http-server.js';
import { silentLogger } from '../../src/common/logger.js';
import { addImageTransferRoute, downloadImage } from '../../src/ha/image-transfer.js';
import { imageFileName } from '../../src/namenode/fs-image.js';
import { tempDir } from '../support/cluster.js';

const LIMITS = {
  httpConnectionsMax: 8,
  httpHeaderBytesMax: 4096,
  httpHeadersTimeoutMs: 2000,
  httpRequestTimeoutMs: 4000,
  httpKeepAliveTimeoutMs: 5000,
};

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function dirs(): { from: string; to: string } {
  const base = tempDir('dfs-imagetransfer-');
  cleanups.push(() => fs.rmSync(base, { recursive: true, force: true }));
  const from = path.join(base, 'from');
  const to = path.join(base, 'to');
  fs.mkdirSync(from);
  fs.mkdirSync(to);
  return { from, to };
}

async function serveImages(nameDir: string): Promise<string> {
  const router = new HttpRouter();
  addImageTransferRoute(router, nameDir);
  const s = new HttpServer(LIMITS, router, silentLogger());
  cleanups.push(() => s.close());
  return `127.0.0.1:${(await s.listen('127.0.0.1', 0)).port}`;
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('image transfer', () => {
  it('ships an image whole, verified, under its name', async () => {
    const { from, to } = dirs();
    const image = Buffer.alloc(3 * 1024 * 1024 + 17, 7);
    image.write('DFSI-like bytes');
    fs.writeFileSync(path.join(from, imageFileName(42)), image);
    const addr = await serveImages(from);
    const bytes = await downloadImage({ httpAddress: addr, txid: 42, sha256: sha(image), nameDir: to });
    expect(bytes).toBe(image.length);
    expect(fs.readFileSync(path.join(to, imageFileName(42))).equals(image)).toBe(true);
    expect(fs.readdirSync(to)).toEqual([imageFileName(42)]);
  });

  it('an image the peer does not hold is NOT_FOUND; a bad txid 400', async () => {
    const { from, to } = dirs();
    const addr = await serveImages(from);
    await expect(downloadImage({ httpAddress: addr, txid: 7, nameDir: to })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    const res = await fetch(`http://${addr}/imagetransfer?txid=abc`);
    expect(res.status).toBe(400);
    expect(fs.readdirSync(to)).toEqual([]);
  });

  it('bytes that differ from the recorded digest are refused and leave nothing', async () => {
    const { from, to } = dirs();
    const image = Buffer.from('an image whose record says otherwise');
    fs.writeFileSync(path.join(from, imageFileName(9)), image);
    const addr = await serveImages(from);
    await expect(
      downloadImage({ httpAddress: addr, txid: 9, sha256: sha(Buffer.from('other')), nameDir: to }),
    ).rejects.toMatchObject({ code: 'CORRUPT_LOG' });
    expect(fs.readdirSync(to)).toEqual([]);
  });

  it('a body that does not hash to its header (damaged on the way) is refused and leaves nothing', async () => {
    const { to } = dirs();
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'x-image-txid': '5', 'x-image-sha256': sha(Buffer.from('sent')) });
      res.end('damaged');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => void server.close());
    const port = (server.address() as { port: number }).port;
    await expect(
      downloadImage({ httpAddress: `127.0.0.1:${port}`, txid: 5, nameDir: to }),
    ).rejects.toMatchObject({ code: 'CORRUPT_LOG' });
    expect(fs.readdirSync(to)).toEqual([]);
  });

  it('a peer that stops sending (paused, gone) is given up after the idle timeout, mid-body or before the head', async () => {
    const { to } = dirs();
    const sockets = new Set<net.Socket>();
    // Answers the head and half a body, then nothing; or nothing at all.
    const server = http.createServer((req, res) => {
      if (req.url?.includes('txid=7')) {
        res.writeHead(200, { 'x-image-txid': '7', 'x-image-sha256': 'x', 'content-length': '1000' });
        res.write(Buffer.alloc(500));
      }
    });
    server.on('connection', (s) => sockets.add(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    });
    const addr = `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
    for (const txid of [7, 8]) {
      const started = Date.now();
      await expect(
        downloadImage({ httpAddress: addr, txid, nameDir: to, idleTimeoutMs: 300 }),
      ).rejects.toMatchObject({ code: 'CONNECTION' });
      expect(Date.now() - started).toBeLessThan(10_000);
    }
    expect(fs.readdirSync(to)).toEqual([]);
  });
});
