/**
 * The DataNodes page's storage heatmap per node and volume, in headless Chromium (issue 13
 * section 2; web/datanodes.js): against a real cluster of three DataNodes with two data
 * directories each, the heatmap shows one cell a volume, six in all, each naming its node and
 * directory as `GET /api/v1/datanodes` does, which has them from the DataNodes' heartbeats
 * (protocol/PROTOCOL.md, heartbeat `volumes`). Without Chromium the test is skipped, saying why.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../src/local/local-cluster.js';
import { HAVE_CHROMIUM, launchPage, warnIfNoChromium } from '../support/browser.js';
import { startCluster, tempDir } from '../support/cluster.js';

/** The little of the DOM the page-side callbacks touch (tests compile without lib.dom). */
interface PageElement {
  dataset: Record<string, string | undefined>;
}

warnIfNoChromium('web UI volume heatmap test');

const DATANODES = 3;
const second = tempDir('dfs-web-volumes-');
const problems: string[] = [];
let cluster: LocalCluster;
let cleanup: () => Promise<void>;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  if (!HAVE_CHROMIUM) return;
  ({ cluster, cleanup } = await startCluster({
    datanodes: DATANODES,
    extraDataDirs: (i) => [path.join(second, `data${i}-b`)],
  }));
  await cluster.waitWritable();
  ({ browser, page } = await launchPage((p) => problems.push(p)));
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await cleanup?.();
  fs.rmSync(second, { recursive: true, force: true });
});

interface ApiNode {
  address: string;
  volumes: Array<{ path: string; capacityBytes: number; usedBytes: number; failed: boolean }>;
}

describe.skipIf(!HAVE_CHROMIUM)('DataNodes heatmap in headless Chromium', () => {
  it('shows one cell a volume: as many cells as the DataNodes have data directories', async () => {
    await page.goto(`http://${cluster.namenodeHttpAddress}/?poll=500#/datanodes`, { waitUntil: 'load' });
    await page.waitForSelector('main[data-view="datanodes"]');
    // Volumes arrive with each DataNode's heartbeats (every 3 s): wait for all six cells.
    await page.waitForFunction(
      (n: number) => document.querySelectorAll('.heatmap .cell').length === n,
      { timeout: 20_000, polling: 100 },
      DATANODES * 2,
    );
    const cells = await page.$$eval('.heatmap .cell', (els) =>
      els.map((e) => `${(e as PageElement).dataset.node} ${(e as PageElement).dataset.volume}`).sort(),
    );
    const api = (await (await fetch(`http://${cluster.namenodeHttpAddress}/api/v1/datanodes`)).json()) as {
      volumesKnown: boolean;
      nodes: ApiNode[];
    };
    expect(api.volumesKnown).toBe(true);
    const expected = api.nodes.flatMap((n) => n.volumes.map((v) => `${n.address} ${v.path}`)).sort();
    expect(cells).toEqual(expected);
    // Each node's two directories, as it was started with them, none failed.
    for (const [i, d] of cluster.datanodes.entries()) {
      const node = api.nodes.find((n) => n.address === `127.0.0.1:${d.port}`)!;
      expect(node.volumes.map((v) => v.path)).toEqual([
        path.resolve(cluster.dataDir(i)),
        path.resolve(second, `data${i}-b`),
      ]);
      for (const v of node.volumes) {
        expect(v.failed).toBe(false);
        expect(v.capacityBytes).toBeGreaterThan(0);
      }
    }
    expect(problems).toEqual([]);
  }, 60_000);
});

declare const document: { querySelectorAll(selector: string): { length: number } };
