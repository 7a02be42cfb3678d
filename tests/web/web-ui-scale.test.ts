/**
 * The web UI stays usable at 1,000 DataNodes (issue 13 section 2), in headless Chromium: a
 * real NameNode with 1,000 stand-in DataNodes registered over the real DataNode RPC
 * (bench/sim-datanodes.ts `standInRegistration`). The DataNodes page lists every node but
 * keeps only the rows in view in the DOM (web/table.js), scrolls to the last node, draws a
 * heatmap cell per node, and a live refresh of the whole list takes well under a second;
 * polling the overview while nothing changes costs the page a layout or so per refresh,
 * never one per figure (no layout thrash). No console errors.
 */
import fs from 'node:fs';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Role } from '../../protocol/handshake.js';
import { standInRegistration } from '../../bench/sim-datanodes.js';
import { DfsClient } from '../../src/client/dfs-client.js';
import { RpcConnection } from '../../src/common/rpc-connection.js';
import type { LocalCluster } from '../../src/local/local-cluster.js';
import { startCluster } from '../support/cluster.js';

const CHROMIUM = process.env.DFS_CHROMIUM ?? '/usr/bin/chromium';
const HAVE_CHROMIUM = fs.existsSync(CHROMIUM);
if (!HAVE_CHROMIUM)
  console.warn(`web UI scale test skipped: no Chromium at ${CHROMIUM} (apt-get install chromium)`);

const NODES = 1000;
const CONNECTIONS = 10;
const POLL_MS = 1000;

/** The little of the DOM the page-side callbacks touch (tests compile without lib.dom). */
interface PageEl {
  dataset: Record<string, string | undefined>;
  textContent: string | null;
  scrollTop: number;
  scrollHeight: number;
}
declare const document: {
  getElementById(id: string): PageEl | null;
  querySelector(selector: string): PageEl | null;
};

let cluster: LocalCluster;
let cleanup: () => Promise<void>;
let browser: Browser;
let page: Page;
const links: RpcConnection[] = [];
const problems: string[] = [];

beforeAll(async () => {
  if (!HAVE_CHROMIUM) return;
  ({ cluster, cleanup } = await startCluster({ datanodes: 0 }));
  const client = new DfsClient({ namenode: cluster.namenodeAddress });
  const { clusterId } = await client.serverInfo();
  client.close();
  for (let c = 0; c < CONNECTIONS; c++)
    links.push(
      new RpcConnection({
        host: '127.0.0.1',
        port: cluster.namenode.port,
        role: Role.DATANODE,
        requestTimeoutMs: 30_000,
      }),
    );
  await Promise.all(
    links.map(async (rpc, c) => {
      for (let i = c; i < NODES; i += CONNECTIONS)
        await rpc.call('register', standInRegistration(clusterId, `scale-dn-${i}`, 10_000 + i));
    }),
  );
  browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  page = await browser.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`pageerror: ${String(err)}`));
}, 120_000);

afterAll(async () => {
  await browser?.close();
  for (const l of links) l.close();
  await cleanup?.();
});

/** Resolves after the view's next completed refresh. */
async function nextRefresh(): Promise<void> {
  const before = await page.$eval('#live', (el) => Number((el as unknown as PageEl).dataset.refreshes ?? 0));
  await page.waitForFunction(
    (n: number) => Number(document.getElementById('live')?.dataset.refreshes ?? 0) > n,
    { timeout: 20_000 },
    before,
  );
}

describe.skipIf(!HAVE_CHROMIUM)('web UI at 1,000 DataNodes', () => {
  it('lists every node with a bounded DOM, scrolls to the last, and refreshes quickly', async () => {
    await page.goto(`http://${cluster.namenodeHttpAddress}/?poll=${POLL_MS}#/datanodes`);
    await page.waitForSelector('.vt-body tr');
    await nextRefresh();
    expect(await page.$eval('[data-field="live"]', (e) => (e as unknown as PageEl).textContent)).toBe(
      String(NODES),
    );
    expect(await page.$$eval('.heatmap .cell', (c) => c.length)).toBe(NODES);
    expect(await page.$eval('[data-field="rowCount"]', (e) => (e as unknown as PageEl).textContent)).toBe(
      `${NODES} of ${NODES} shown`,
    );
    const rows = await page.$$eval('.vt-body tr', (r) => r.length);
    expect(rows).toBeGreaterThan(5);
    expect(rows).toBeLessThan(100);
    // Sort by address descending and scroll to the end: the first node by address is last.
    await page.click('th[data-sort="address"]');
    await page.click('th[data-sort="address"]');
    await page.evaluate(() => {
      const s = document.querySelector('.vt-scroll')!;
      s.scrollTop = s.scrollHeight;
    });
    await page.waitForSelector('.vt-body tr[data-key="127.0.0.1:10000"]');
    expect(await page.$$eval('.vt-body tr', (r) => r.length)).toBeLessThan(100);
    // A refresh of all 1,000 nodes (fetch, sort, render the rows in view, restyle the heatmap).
    const refreshMs: number[] = [];
    for (let i = 0; i < 3; i++) {
      await nextRefresh();
      refreshMs.push(await page.$eval('#live', (el) => Number((el as unknown as PageEl).dataset.refreshMs)));
    }
    expect(Math.min(...refreshMs)).toBeLessThan(500);
    const metrics = await page.metrics();
    expect(metrics.JSHeapUsedSize ?? 0).toBeLessThan(100 * 1024 * 1024);
    expect(problems).toEqual([]);
  });

  it('polling the overview while nothing changes does not thrash the layout', async () => {
    await page.goto(`http://${cluster.namenodeHttpAddress}/?poll=500#/overview`);
    await page.waitForSelector('[data-field="files"][data-value]');
    await nextRefresh();
    const before = await page.metrics();
    const REFRESHES = 4;
    for (let i = 0; i < REFRESHES; i++) await nextRefresh();
    const after = await page.metrics();
    const layouts = (after.LayoutCount ?? 0) - (before.LayoutCount ?? 0);
    // The uptime ticks each refresh; everything else is written only when it changes.
    expect(layouts).toBeLessThanOrEqual(REFRESHES * 2 + 1);
    expect(problems).toEqual([]);
  });
});
