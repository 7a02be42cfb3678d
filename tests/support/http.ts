/**
 * Test helpers for the daemons' HTTP servers: a plain request (no keep-alive, bounded),
 * Prometheus text parsed into samples, and `promtool` (Debian `prometheus`) when present.
 */
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { expect } from 'vitest';

export interface HttpAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One request to 127.0.0.1:port; rejects if no answer within `timeoutMs`. */
export function httpRequest(
  port: number,
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: string; timeoutMs?: number } = {},
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: options.method ?? 'GET',
        headers: options.headers,
        agent: false,
        timeout: options.timeoutMs ?? 10_000,
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (b: Buffer) => parts.push(b));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(parts).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer to ${path} within the timeout`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

export async function scrape(port: number): Promise<string> {
  const r = await httpRequest(port, '/metrics');
  if (r.status !== 200) throw new Error(`/metrics answered ${r.status}: ${r.body}`);
  return r.body;
}

/** Samples of Prometheus text: `name{labels}` (labels as written) -> value. */
export function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

/** The value of one sample, e.g. `dfs_namenode_rpcs_total{op="create",result="ok"}`; undefined if absent. */
export function sample(text: string, key: string): number | undefined {
  return samples(text).get(key);
}

/** Sum of every sample of metric `name` whose labels include each of `labels` (0 if none). */
export function sumOf(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const [key, v] of samples(text)) {
    const brace = key.indexOf('{');
    if ((brace < 0 ? key : key.slice(0, brace)) !== name) continue;
    if (Object.entries(labels).every(([k, val]) => key.includes(`${k}="${val}"`))) total += v;
  }
  return total;
}

/** Each sample is the number given, or at least n for `[n]` (a missing sample fails). */
export function expectSamples(text: string, expected: Record<string, number | [number]>): void {
  const all = samples(text);
  for (const [key, want] of Object.entries(expected)) {
    const got = all.get(key);
    if (typeof want === 'number') expect(got, key).toBe(want);
    else expect(got, key).toBeGreaterThanOrEqual(want[0]);
  }
}

/** A keep-alive connection that has had one answer to GET /healthz; `closed` resolves when the server ends it. */
export async function keptAlive(port: number): Promise<{ closed: Promise<void> }> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  socket.resume(); // read, so the server's close is seen
  socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n');
  await new Promise((resolve) => socket.once('data', resolve));
  return { closed };
}

/** Metric names present in the text (sample names: histograms show as _bucket, _sum, _count). */
export function sampleNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const key of samples(text).keys()) names.add(key.replace(/\{.*$/, ''));
  return names;
}

/** Whether promtool is installed (the Debian `prometheus` package; .ci/run installs it). */
export const PROMTOOL = spawnSync('promtool', ['--version'], { encoding: 'utf8' }).status === 0;

/** `promtool check metrics` on `text`: its exit status and what it printed. */
export function promtoolCheckMetrics(text: string): { status: number | null; output: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

export function promtoolCheckConfig(file: string): { status: number | null; output: string } {
  const r = spawnSync('promtool', ['check', 'config', file], { encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}
