/**
 * The NameNode's web UI in a real browser (issue 13 section 2): headless Chromium (Debian
 * `chromium`, driven by puppeteer-core) loads every page against a real cluster of three
 * DataNodes. The numbers shown match `dfs admin report --json` and `dfs fsck --json`; a file
 * uploaded through the page reads back identical with the client; a file put with the
 * client downloads identical through the page's link; mkdir, rename and delete work from
 * the page, as the user named in the page's "user" field (dr.who when empty), whom the
 * NameNode's permission checks apply to; a SIGKILLed DataNode shows as dead within the dead-node timeout; and no page
 * logs a console error or throws. Without Chromium the tests are skipped, saying why.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'puppeteer-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { DfsClient } from '../../src/client/dfs-client.js';
import type { LocalCluster } from '../../src/local/local-cluster.js';
import { HAVE_CHROMIUM, launchPage, warnIfNoChromium } from '../support/browser.js';
import { tempDir } from '../support/cluster.js';
import { getBuffer, putBuffer, testBytes, waitFor } from '../support/data-path.js';
import { runDfs } from '../support/dfs-cli.js';
import { DEAD_NODE_TIMEOUT_MS, startHealingCluster } from '../support/healing.js';

/** The little of the DOM the page-side callbacks touch (tests compile without lib.dom). */
interface PageElement {
  dataset: Record<string, string | undefined>;
  textContent: string | null;
  getAttribute(name: string): string | null;
  querySelector(selector: string): PageElement | null;
}
declare const localStorage: { getItem(key: string): string | null };
declare const document: {
  getElementById(id: string): PageElement | null;
  querySelector(selector: string): PageElement | null;
};

warnIfNoChromium('web UI browser tests');

/** The page polls this often (app.js `?poll=`). */
const POLL_MS = 500;

let cluster: LocalCluster;
let client: DfsClient;
let cleanup: () => Promise<void>;
let browser: Browser;
let page: Page;
let problems: string[] = [];
let base = '';
const scratch = tempDir('dfs-web-ui-');

beforeAll(async () => {
  if (!HAVE_CHROMIUM) return;
  ({ cluster, client, cleanup } = await startHealingCluster(3));
  await cluster.waitWritable();
  base = `http://${cluster.namenodeHttpAddress}/?poll=${POLL_MS}`;
  ({ browser, page } = await launchPage((p) => problems.push(p)));
  page.on('dialog', (d) => void d.accept(dialogAnswer));
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await cleanup?.();
  fs.rmSync(scratch, { recursive: true, force: true });
});

afterEach(() => {
  const seen = problems;
  problems = [];
  expect(seen, 'console errors or page errors').toEqual([]);
});

/** What the next prompt() is answered with (confirm() is accepted). */
let dialogAnswer = '';

async function open(hash: string): Promise<void> {
  await page.goto(`${base}${hash}`, { waitUntil: 'load' });
  await page.waitForSelector(`main[data-view="${hash.slice(2).split('?')[0]}"]`);
  await refreshed();
}

/** Waits for the view's next completed refresh. */
async function refreshed(): Promise<void> {
  const before = await page.$eval('#live', (el) => Number((el as PageElement).dataset.refreshes ?? 0));
  await page.waitForFunction(
    (n: number) => Number(document.getElementById('live')?.dataset.refreshes ?? 0) > n,
    { timeout: 15_000 },
    before,
  );
}

/** Every `[data-field]` in the view that carries a data-value: name -> value. */
function shownValues(): Promise<Record<string, string>> {
  return page.$$eval('main [data-field][data-value]', (els) =>
    Object.fromEntries(
      els.map((e) => [(e as PageElement).dataset.field!, (e as PageElement).dataset.value!]),
    ),
  );
}

async function cliJson<T>(args: string[]): Promise<T> {
  const r = await runDfs(cluster.namenodeAddress, [...args, '--json'], { timeoutMs: 30_000 });
  return JSON.parse(r.stdout) as T;
}

/** Retries `check` (the page and the CLI each read a moment apart) until it passes. */
async function eventually(what: string, check: () => Promise<void>, timeoutMs = 15_000): Promise<void> {
  let last: unknown = null;
  await waitFor(
    what,
    async () => {
      try {
        await check();
        return true;
      } catch (err) {
        last = err;
        return undefined;
      }
    },
    timeoutMs,
    300,
  ).catch((err: unknown) => {
    throw last ?? err;
  });
}

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

describe.skipIf(!HAVE_CHROMIUM)('web UI in headless Chromium', () => {
  it('overview and DataNodes match dfs admin report --json; health matches dfs fsck --json', async () => {
    await client.mkdir('/data/sub', { parents: true });
    for (let i = 0; i < 3; i++) await putBuffer(client, `/data/f${i}`, testBytes(200_000 + i, i));
    await open('#/overview');
    await eventually('the overview to match dfs admin report', async () => {
      await refreshed();
      const [shown, report] = await Promise.all([
        shownValues(),
        cliJson<Record<string, number | boolean>>(['admin', 'report']),
      ]);
      for (const k of ['live', 'dead', 'decommissioning', 'decommissioned', 'capacityBytes', 'usedBytes'])
        expect(shown[k], k).toBe(String(report[k]));
      for (const k of ['underReplicated', 'corrupt', 'missing', 'blocks'])
        expect(shown[k], k).toBe(String(report[k]));
      expect(shown.safeMode).toBe(report.safeMode ? 'on' : 'off');
    });
    const events = await page.$$eval('main [data-kind="datanode-registered"]', (els) => els.length);
    expect(events).toBe(3);

    await open('#/datanodes');
    await eventually('the DataNodes page to match dfs admin report', async () => {
      await refreshed();
      const report = await cliJson<{ nodes: Array<{ address: string; state: string; blockCount: number }> }>([
        'admin',
        'report',
      ]);
      const rows = await page.$$eval('.vt-body tr', (trs) =>
        trs.map((tr) => ({
          address: (tr as PageElement).dataset.key,
          state: (tr as PageElement).querySelector('[data-col="state"]')!.textContent,
          blocks: Number((tr as PageElement).querySelector('[data-col="blocks"]')!.textContent),
        })),
      );
      expect(rows.sort((a, b) => a.address!.localeCompare(b.address!))).toEqual(
        report.nodes
          .map((n) => ({ address: n.address, state: n.state, blocks: n.blockCount }))
          .sort((a, b) => a.address.localeCompare(b.address)),
      );
      expect(await page.$$eval('.heatmap .cell', (c) => c.length)).toBe(3);
    });

    await open('#/health');
    await eventually('the health page to match dfs fsck', async () => {
      await refreshed();
      const fsck = await cliJson<{ summary: Record<string, string | number> }>(['fsck', '/']);
      const shown = await shownValues();
      for (const k of [
        'status',
        'files',
        'directories',
        'openFiles',
        'totalBytes',
        'blocks',
        'healthyBlocks',
        'underReplicatedBlocks',
        'overReplicatedBlocks',
        'corruptBlocks',
        'missingBlocks',
        'underConstructionBlocks',
      ])
        expect(shown[k], k).toBe(String(fsck.summary[k]));
    });
  });

  it('browse: file details show the blocks and replicas fsck reports', async () => {
    await open('#/browse?path=/data');
    await page.click('tr[data-name="f1"] a[data-file]');
    await page.waitForSelector('[data-field="details"]:not(.hidden) tr[data-block]');
    const shown = await page.$$eval('[data-field="details"] tr[data-block]', (trs) =>
      trs.map((tr) => ({
        block: (tr as PageElement).dataset.block,
        replicas: (tr as PageElement).querySelector('[data-col="replicas"]')!.textContent,
      })),
    );
    const fsck = await cliJson<{
      files: Array<{ blocks: Array<{ block: string; replicas: Array<{ address: string; state: string }> }> }>;
    }>(['fsck', '/data/f1', '--files']);
    expect(shown).toEqual(
      fsck.files[0]!.blocks.map((b) => ({
        block: b.block,
        replicas: b.replicas.map((r) => `${r.address} (${r.state})`).join(', '),
      })),
    );
  });

  it('a file uploaded through the page reads back identical; one put with the client downloads identical', async () => {
    await client.mkdir('/up');
    // The page acts as dr.who (no user set): an operator opens the folder to it.
    await client.setPermission('/up', 0o777);
    const local = path.join(scratch, 'upload.bin');
    const data = testBytes(1_500_000, 42);
    fs.writeFileSync(local, data);
    await open('#/browse?path=/up');
    const input = await page.$('input[data-field="uploadInput"]');
    await input!.uploadFile(local);
    await page.waitForSelector('tr[data-name="upload.bin"]', { timeout: 30_000 });
    expect(sha256(await getBuffer(client, '/up/upload.bin'))).toBe(sha256(data));
    // Uploading it again is refused (no overwrite): the page says why, and keeps saying it.
    await (await page.$('input[data-field="uploadInput"]'))!.uploadFile(local);
    await page.waitForSelector('#banner:not(.hidden)');
    await refreshed();
    expect(await page.$eval('#banner', (b) => (b as PageElement).textContent)).toMatch(
      /upload upload\.bin: .*already exists/,
    );
    // The browser itself logs the refused request; that one is expected.
    problems = problems.filter((p) => !/status of 409/.test(p));

    const put = testBytes(2_345_678, 9);
    await putBuffer(client, '/up/put.bin', put);
    await refreshed();
    await page.waitForSelector('tr[data-name="put.bin"] a[data-action="download"]');
    const href = await page.$eval('tr[data-name="put.bin"] a[data-action="download"]', (a) =>
      (a as PageElement).getAttribute('href'),
    );
    const got = await page.evaluate(async (h: string | null) => {
      if (h === null) throw new Error('no download link');
      const r = await fetch(h);
      const bytes = new Uint8Array(await r.arrayBuffer());
      const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
      return {
        length: bytes.length,
        disposition: r.headers.get('content-disposition'),
        sha: [...digest].map((b) => b.toString(16).padStart(2, '0')).join(''),
      };
    }, href);
    expect(got).toEqual({
      length: put.length,
      disposition: `attachment; filename="put.bin"; filename*=UTF-8''put.bin`,
      sha: sha256(put),
    });
  });

  it('browse: new folder, rename and delete from the page', async () => {
    await open('#/browse?path=/up');
    dialogAnswer = 'made-here';
    await page.click('button[data-action="mkdir"]');
    await page.waitForSelector('tr[data-name="made-here"][data-type="directory"]');
    expect((await client.stat('/up/made-here')).type).toBeDefined();
    dialogAnswer = '/up/renamed.bin';
    await page.click('tr[data-name="put.bin"] button[data-action="rename"]');
    await page.waitForSelector('tr[data-name="renamed.bin"]');
    expect(await client.exists('/up/put.bin')).toBeNull();
    expect((await client.stat('/up/renamed.bin')).length).toBe(2_345_678);
    await page.click('tr[data-name="made-here"] button[data-action="delete"]');
    await page.waitForFunction(() => document.querySelector('tr[data-name="made-here"]') === null);
    expect(await client.exists('/up/made-here')).toBeNull();
  });

  it('acts as the user in the header field, kept across reloads: refused as dr.who, allowed as the owner', async () => {
    await client.mkdir('/alice-only');
    await client.setOwner('/alice-only', { owner: 'alice', group: 'alice' });
    await client.setPermission('/alice-only', 0o755);
    await open('#/browse?path=/alice-only');
    expect(await page.$eval('#user', (el) => (el as unknown as { value: string }).value)).toBe('');
    dialogAnswer = 'by-page';
    await page.click('button[data-action="mkdir"]');
    await page.waitForSelector('#banner:not(.hidden)');
    expect(await page.$eval('#banner', (b) => (b as PageElement).textContent)).toMatch(
      /ACCESS_DENIED: new folder: dr\.who may not write \/alice-only \(owner alice/,
    );
    problems = problems.filter((p) => !/status of 403/.test(p));
    expect(await client.exists('/alice-only/by-page')).toBeNull();

    await page.type('#user', 'alice');
    await page.keyboard.press('Enter');
    await refreshed();
    // Kept in localStorage: a reload still acts as alice.
    await open('#/browse?path=/alice-only');
    expect(await page.$eval('#user', (el) => (el as unknown as { value: string }).value)).toBe('alice');
    await page.click('button[data-action="mkdir"]');
    await page.waitForSelector('tr[data-name="by-page"][data-type="directory"]');
    expect((await client.stat('/alice-only/by-page')).owner).toBe('alice');

    // Back to no user for the tests that follow.
    await page.click('#user', { count: 3 });
    await page.keyboard.press('Backspace');
    await page.keyboard.press('Enter');
    await refreshed();
    expect(await page.evaluate(() => localStorage.getItem('dfs.user'))).toBeNull();
  });

  it('a SIGKILLed DataNode shows as dead within the dead-node timeout', async () => {
    await open('#/datanodes');
    const victim = cluster.datanodes[2]!;
    const address = `127.0.0.1:${victim.port}`;
    await page.waitForSelector(`.vt-body tr[data-key="${address}"]`);
    const killedAt = Date.now();
    await victim.kill();
    await page.waitForFunction(
      (a: string) =>
        document.querySelector(`.vt-body tr[data-key="${a}"] [data-col="state"]`)?.textContent === 'dead' &&
        document.querySelector(`.heatmap .cell[data-node="${a}"]`)?.getAttribute('data-state') === 'dead',
      { timeout: DEAD_NODE_TIMEOUT_MS + 10_000, polling: 100 },
      address,
    );
    const seenMs = Date.now() - killedAt;
    // Declared dead after the timeout (checked every 250 ms), shown at the next poll.
    expect(seenMs).toBeLessThan(DEAD_NODE_TIMEOUT_MS + 250 + POLL_MS + 2000);
    await open('#/overview');
    expect((await shownValues()).dead).toBe('1');
    expect(await page.$$eval('main [data-kind="datanode-dead"]', (els) => els.length)).toBe(1);
  });
});
