/**
 * `dfs-bench webhdfs`: WebHDFS CREATE and OPEN throughput (src/webhdfs/) beside the native
 * client's upload and download of the same file, in the same run, on the same cluster (one
 * NameNode and DataNode processes on loopback, src/local/local-cluster.ts).
 *
 *   phase          how
 *   native put     DfsClient.put from the local source file (the `dfs put` path)
 *   webhdfs CREATE PUT to the NameNode (no body) -> 307 -> PUT the file to the DataNode
 *                  named, streamed from disk with its Content-Length (node:http)
 *   native get     DfsClient.get into a local file (the `dfs get` path)
 *   webhdfs OPEN   GET from the NameNode -> 307 -> GET from the DataNode, into a local file,
 *                  by `curl -L` when installed (else node:http; the report says which)
 *
 * Each round runs the four phases, native first in odd rounds and WebHDFS first in even
 * ones; before each timed phase the machine is left to settle (bench/report.ts
 * settleMachine). The file written by a CREATE phase is deleted after it; OPEN and native
 * get read one file put before the rounds. Reported: MiB/s per phase, over every round,
 * and WebHDFS as a fraction of native (target: at least 0.7, issue 13).
 */
import { execFile, execFileSync } from 'node:child_process';
import os from 'node:os';
import { promisify } from 'node:util';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { DfsClient } from '../src/client/index.js';
import { LocalCluster } from '../src/local/local-cluster.js';
import { writeRandomFile } from './data.js';
import {
  formatBytes,
  machineHeader,
  machineInfo,
  aggregateMiBps,
  mibPerSec,
  renderTable,
  settleMachine,
  writeJson,
  writeReport,
  type MachineInfo,
} from './report.js';
import { withTeardown } from './teardown.js';

/** WebHDFS calls act as the user running the bench, who owns the rig's NameNode (its superuser). */
const BENCH_USER = encodeURIComponent(os.userInfo().username);

export const WEBHDFS_TARGET = 0.7;

/** curl's path when installed (the OPEN client, see webHdfsOpen), else null. */
const CURL = ((): string | null => {
  try {
    execFileSync('curl', ['--version'], { stdio: 'ignore' });
    return 'curl';
  } catch {
    return null;
  }
})();

type Phase = 'native put' | 'webhdfs CREATE' | 'native get' | 'webhdfs OPEN';

export interface WebHdfsBenchOptions {
  sizeBytes: number;
  replication: number;
  datanodes: number;
  rounds: number;
  settleMs: number;
  dir: string;
  progress: (line: string) => void;
}

export interface WebHdfsPhase {
  phase: Phase;
  round: number;
  bytes: number;
  elapsedMs: number;
  mibPerSec: number;
}

export interface WebHdfsReport {
  suite: 'webhdfs';
  startedAt: string;
  settings: Omit<WebHdfsBenchOptions, 'progress'>;
  machine: MachineInfo;
  phases: WebHdfsPhase[];
  /** What read the OPEN phase's bytes (webHdfsOpen). */
  openClient: 'curl' | 'node:http';
  summary: {
    createMiBps: number;
    putMiBps: number;
    createRatio: number;
    openMiBps: number;
    getMiBps: number;
    openRatio: number;
    target: number;
  };
}

export async function runWebHdfsBench(o: WebHdfsBenchOptions): Promise<WebHdfsReport> {
  const startedAt = new Date().toISOString();
  fs.mkdirSync(o.dir, { recursive: true });
  const base = fs.mkdtempSync(path.join(o.dir, 'dfs-bench-webhdfs-'));
  const free = fs.statfsSync(base);
  const need = o.sizeBytes * (3 + 2 * o.replication);
  if (free.bavail * free.bsize < need)
    throw new Error(`${base} has too little free space; this run needs about ${formatBytes(need)}`);
  const cluster = new LocalCluster({
    baseDir: path.join(base, 'cluster'),
    datanodes: o.datanodes,
    logLevel: 'warn',
  });
  let client: DfsClient | null = null;
  const teardown = async (): Promise<void> => {
    client?.close();
    await cluster.stop().catch(() => {});
    fs.rmSync(base, { recursive: true, force: true });
  };
  return withTeardown(teardown, async () => {
    o.progress(`writing a ${formatBytes(o.sizeBytes)} random source file`);
    const source = path.join(base, 'source');
    writeRandomFile(source, o.sizeBytes);
    await cluster.start();
    await cluster.waitWritable();
    client = new DfsClient({ namenode: cluster.namenodeAddress, requestTimeoutMs: 120_000 });
    const c = client;
    const nnHttp = cluster.namenode.httpPort;
    await c.put(source, '/read-me', { replication: o.replication });
    const sink = path.join(base, 'sink');
    const run: Record<Phase, () => Promise<void>> = {
      'native put': () => c.put(source, '/w-native', { replication: o.replication }),
      'webhdfs CREATE': () => webHdfsCreate(nnHttp, '/w-webhdfs', source, o.sizeBytes, o.replication),
      'native get': () => c.get('/read-me', sink),
      'webhdfs OPEN': () => webHdfsOpen(nnHttp, '/read-me', sink),
    };
    const phases: WebHdfsPhase[] = [];
    for (let round = 0; round <= o.rounds; round++) {
      const order: Phase[] =
        round % 2 === 1
          ? ['native put', 'webhdfs CREATE', 'native get', 'webhdfs OPEN']
          : ['webhdfs CREATE', 'native put', 'webhdfs OPEN', 'native get'];
      for (const phase of order) {
        o.progress(round === 0 ? `warm-up: ${phase} (untimed)` : `round ${round}/${o.rounds}: ${phase}`);
        await settleMachine(o.settleMs);
        const t0 = performance.now();
        await run[phase]();
        const elapsedMs = performance.now() - t0;
        await c.delete('/w-native').catch(() => {});
        await c.delete('/w-webhdfs').catch(() => {});
        fs.rmSync(sink, { force: true });
        if (round === 0) continue;
        const p = {
          phase,
          round,
          bytes: o.sizeBytes,
          elapsedMs,
          mibPerSec: mibPerSec(o.sizeBytes, elapsedMs),
        };
        o.progress(`  ${p.mibPerSec.toFixed(1)} MiB/s`);
        phases.push(p);
      }
    }
    const total = (phase: Phase): number => aggregateMiBps(phases.filter((p) => p.phase === phase));
    const [putMiBps, createMiBps, getMiBps, openMiBps] = [
      total('native put'),
      total('webhdfs CREATE'),
      total('native get'),
      total('webhdfs OPEN'),
    ];
    const settings = {
      sizeBytes: o.sizeBytes,
      replication: o.replication,
      datanodes: o.datanodes,
      rounds: o.rounds,
      settleMs: o.settleMs,
      dir: o.dir,
    };
    return {
      openClient: CURL !== null ? 'curl' : 'node:http',
      suite: 'webhdfs',
      startedAt,
      settings,
      machine: machineInfo(base, { fdatasyncProbe: false }),
      phases,
      summary: {
        createMiBps,
        putMiBps,
        createRatio: putMiBps > 0 ? createMiBps / putMiBps : 0,
        openMiBps,
        getMiBps,
        openRatio: getMiBps > 0 ? openMiBps / getMiBps : 0,
        target: WEBHDFS_TARGET,
      },
    };
  });
}

/** One HTTP exchange; `body` (a file) is streamed with its length. Resolves with status, headers, and the response. */
function request(
  url: string,
  method: string,
  body?: { file: string; bytes: number },
): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method,
      agent: false,
      headers: body === undefined ? {} : { 'Content-Length': String(body.bytes) },
    });
    req.on('response', resolve);
    req.on('error', reject);
    if (body === undefined) req.end();
    else pipeline(fs.createReadStream(body.file, { highWaterMark: 1024 * 1024 }), req).catch(reject);
  });
}

async function expectStatus(res: http.IncomingMessage, status: number, what: string): Promise<void> {
  if (res.statusCode === status) return;
  let text = '';
  for await (const b of res) text += String(b);
  throw new Error(`${what}: HTTP ${res.statusCode}: ${text.slice(0, 300)}`);
}

async function webHdfsCreate(
  nnHttp: number,
  dfsPath: string,
  file: string,
  bytes: number,
  replication: number,
) {
  const first = await request(
    `http://127.0.0.1:${nnHttp}/webhdfs/v1${dfsPath}?op=CREATE&overwrite=true&replication=${replication}&user.name=${BENCH_USER}`,
    'PUT',
  );
  await expectStatus(first, 307, 'CREATE at the NameNode');
  first.resume();
  const put = await request(first.headers.location!, 'PUT', { file, bytes });
  await expectStatus(put, 201, 'CREATE at the DataNode');
  put.resume();
}

/**
 * OPEN through curl when it is installed (`curl -L`: the NameNode's 307, then the DataNode's
 * bytes into the file), as WebHDFS's users read: a DataNode served it 620-720 MiB/s where
 * this process's node:http client, a 64 KiB 'data' event at a time into a write stream,
 * took ~430 (the client, not the server, was measured). Without curl: node:http.
 */
async function webHdfsOpen(nnHttp: number, dfsPath: string, sink: string) {
  const url = `http://127.0.0.1:${nnHttp}/webhdfs/v1${dfsPath}?op=OPEN&user.name=${BENCH_USER}`;
  if (CURL !== null) {
    await promisify(execFile)(CURL, ['-sS', '--fail', '-L', '-o', sink, url], { maxBuffer: 1 << 20 });
    return;
  }
  const first = await request(url, 'GET');
  await expectStatus(first, 307, 'OPEN at the NameNode');
  first.resume();
  const get = await request(first.headers.location!, 'GET');
  await expectStatus(get, 200, 'OPEN at the DataNode');
  await pipeline(get, fs.createWriteStream(sink, { highWaterMark: 1024 * 1024 }));
}

export function emitWebHdfsReport(r: WebHdfsReport, json: boolean): void {
  if (json) return writeJson(r);
  const s = r.summary;
  const lines = [
    machineHeader(r.machine),
    '',
    `webhdfs: ${formatBytes(r.settings.sizeBytes)} file, replication ${r.settings.replication}, ` +
      `${r.settings.datanodes} DataNode(s), ${r.settings.rounds} round(s)`,
    '',
    renderTable(
      ['round', 'phase', 'MiB/s', 'seconds'],
      r.phases.map((p) => [
        String(p.round),
        p.phase,
        p.mibPerSec.toFixed(1),
        (p.elapsedMs / 1000).toFixed(2),
      ]),
    ),
    '',
    `CREATE ${s.createMiBps.toFixed(1)} MiB/s vs native put ${s.putMiBps.toFixed(1)}: ${s.createRatio.toFixed(2)} (target ${s.target})`,
    `OPEN   ${s.openMiBps.toFixed(1)} MiB/s vs native get ${s.getMiBps.toFixed(1)}: ${s.openRatio.toFixed(2)} (target ${s.target}; read by ${r.openClient})`,
  ];
  writeReport(lines, [
    'WebHDFS bytes cross one more hop than the native client: HTTP to the DataNode, whose own DfsClient then reads the replicas that DataNode holds in its own process (src/datanode/short-circuit-reads.ts) and the others through their data ports, or writes the blocks it heads in its own process (src/datanode/local-first-hop.ts) and the others through their data ports.',
  ]);
}
