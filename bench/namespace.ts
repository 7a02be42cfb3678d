/**
 * `dfs-bench namespace --files N`: what a big namespace costs the NameNode. A real `dfsd
 * namenode` process in a temp dir is filled with N one-block files, every replica reported
 * by simulated DataNodes (bench/namespace-fill.ts), and then measured:
 *
 *   memory      RSS (from /proc) and V8 heap used (its /metrics) before and after the fill,
 *               each after the process settled; per file = delta / N
 *   full report the round trip of one full block report from the node holding the most
 *               replicas, all already known (steady state), and all new (after the restart)
 *   checkpoint  the image's size, the checkpoint's duration (its own log line), and the
 *               p99 of stat RPCs while it runs against the p99 of the same load just before
 *   restart     stop, start again on the same name dir: image load and edit replay (the
 *               NameNode's "namespace loaded" line), then every node registers and sends its
 *               full report; the clock stops when safe mode ends (ready for writes)
 *
 * `--fill image` builds the namespace in the bench and gives it to the NameNode as its image
 * (bench/namespace-image.ts): minutes instead of an hour at ten million files; "memory
 * filled" is then the NameNode after loading it and taking every node's full report.
 *
 * The checkpoint is triggered by the edit count: the NameNode gets a `checkpointTxns` just
 * above what the fill logs, and after the baseline window the bench logs the rest (cheap
 * mkdirs), so the checkpoint starts at a known moment while the stat load runs. The nodes
 * count N x replication / 1,000,000 (at least `replication`), so at 1M and 10M files a node
 * holds about a million replicas.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { DaemonProcess } from '../src/local/daemon-process.js';
import { LocalCluster } from '../src/local/local-cluster.js';
import { DfsClient } from '../src/client/dfs-client.js';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  formatBytes,
  formatUs,
  machineHeader,
  machineInfo,
  newLatencyHistogram,
  recordUs,
  renderTable,
  summarize,
  writeJson,
  type LatencySummary,
  type MachineInfo,
} from './report.js';
import {
  clientConnections,
  fill,
  fileOf,
  FILES_PER_DIR,
  lanes,
  REPORTS_IN_FLIGHT,
  SimNodes,
} from './namespace-fill.js';
import { writeFillImage } from './namespace-image.js';

export interface NamespaceOptions {
  files: number;
  replication: number;
  datanodes: number | null;
  clients: number;
  depth: number;
  /** Seconds of stat load measured without a checkpoint. */
  baselineSeconds: number;
  /** How the files get there: N x 3 client RPCs, or an image built by the bench (namespace-image.ts). */
  fill: 'rpc' | 'image';
  json: boolean;
  progress: (line: string) => void;
}

export interface Memory {
  rssBytes: number;
  heapUsedBytes: number;
}

export interface NamespaceReport {
  suite: 'namespace';
  startedAt: string;
  settings: {
    files: number;
    replication: number;
    datanodes: number;
    clients: number;
    depth: number;
    fill: 'rpc' | 'image';
  };
  machine: MachineInfo;
  fill: { ms: number; filesPerSec: number };
  memory: {
    empty: Memory;
    filled: Memory;
    restarted: Memory;
    rssBytesPerFile: number;
    heapBytesPerFile: number;
    rssBytesPerFileAfterRestart: number;
  };
  fullReport: { replicas: number; steadyMs: number; firstMs: number };
  checkpoint: {
    imageBytes: number;
    ms: number;
    p99Us: number;
    baselineP99Us: number;
    during: LatencySummary;
    baseline: LatencySummary;
  };
  restart: {
    totalMs: number;
    loadMs: number;
    replayed: number;
    readyMs: number;
    reportsMs: number;
    safeModeOffMs: number;
  };
  notes: string[];
}

/** Edits the fill logs beyond 3 per file (mkdirs), plus room for what the bench cannot count. */
const TXN_SLACK = 1000;

export async function runNamespace(o: NamespaceOptions): Promise<NamespaceReport> {
  const startedAt = new Date().toISOString();
  const datanodes = o.datanodes ?? Math.max(o.replication, Math.ceil((o.files * o.replication) / 1e6));
  const tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dfs-bench-namespace-'));
  const dirs = Math.ceil(o.files / FILES_PER_DIR);
  // The fill's edits (none when it is an image) and the bench's mkdirs up to the checkpoint.
  const checkpointTxns = (o.fill === 'rpc' ? 3 * o.files + dirs : 0) + TXN_SLACK;
  const env: NodeJS.ProcessEnv = {
    DFS_NAMENODE_CHECKPOINT_TXNS: String(checkpointTxns),
    DFS_NAMENODE_DEAD_NODE_TIMEOUT_MS: String(24 * 3600 * 1000),
    DFS_NAMENODE_SAFE_MODE_EXTENSION_MS: '0',
    // A full report of a million replicas is 24 MB.
    DFS_NAMENODE_RPC_BODY_BYTES_MAX: String(256 * 1024 * 1024),
    DFS_NAMENODE_PARTIAL_FRAME_BYTES_MAX: String(512 * 1024 * 1024),
  };
  const cluster = new LocalCluster({
    baseDir: tempDir,
    namenodePort: 0,
    logLevel: 'info',
    namenodeEnv: env,
    namenodeReadyTimeoutMs: 900_000,
  });
  const nameDir = cluster.nameDir;
  const cleanup = async (): Promise<void> => {
    await cluster.namenode.stop(120_000).catch(() => {});
    fs.rmSync(tempDir, { recursive: true, force: true });
  };
  const onSignal = (): void => void cleanup().finally(() => process.exit(130));
  process.once('SIGINT', onSignal);
  let sims: SimNodes | null = null;
  try {
    await cluster.start();
    const nn = (): DaemonProcess => cluster.namenode;
    const address = cluster.namenodeAddress;
    let admin = new DfsClient({ namenode: address, requestTimeoutMs: 600_000 });
    const info = await admin.serverInfo();
    const txid0 = info.lastTxid;
    sims = new SimNodes(address, datanodes);
    await sims.registerAll(info.clusterId);
    const empty = await settledMemory(nn());
    const base = '/ns';
    let fillMs: number;
    if (o.fill === 'image') {
      o.progress(`building ${o.files} files into an image, ${datanodes} simulated DataNodes`);
      const t0 = performance.now();
      await nn().stop(120_000);
      await writeFillImage(
        { nameDir, txid: txid0, base, files: o.files, replication: o.replication, progress: o.progress },
        sims,
      );
      o.progress('loading the image: NameNode start, registrations, full reports');
      await cluster.restartNamenode();
      admin.close();
      admin = new DfsClient({ namenode: address, requestTimeoutMs: 600_000 });
      sims.reconnect(address);
      await sims.registerAll(info.clusterId);
      await sims.reportAll(REPORTS_IN_FLIGHT);
      while ((await admin.safeMode('get')).on) await sleep(20);
      fillMs = performance.now() - t0;
    } else {
      o.progress(
        `filling ${o.files} files over ${o.clients}x${o.depth} requests in flight, ${datanodes} simulated DataNodes`,
      );
      fillMs = await fill(
        {
          namenode: address,
          base,
          files: o.files,
          replication: o.replication,
          connections: o.clients,
          depth: o.depth,
          progress: o.progress,
        },
        sims,
      );
    }
    o.progress(`filled in ${(fillMs / 1000).toFixed(1)} s; letting the NameNode settle`);
    const filled = await settledMemory(nn());
    const largest = sims.largest();
    const steadyMs = await largest.fullReport();

    // Checkpoint: the stat load alone, then the same load while a checkpoint runs.
    const logged = (await admin.serverInfo()).lastTxid - txid0;
    const conns = clientConnections(address, 4);
    const statOne = async (i: number): Promise<void> => {
      await conns[i % conns.length]!.call('stat', { path: fileOf(base, (i * 7919) % o.files) });
    };
    await lanes(checkpointTxns - 1 - logged, conns, 16, (rpc, k) =>
      rpc.call('mkdir', { path: `/ckpt/k${k}`, parents: true, permission: 0o755 }),
    );
    o.progress(`stat load for ${o.baselineSeconds} s without a checkpoint`);
    const baseline = await statLoad(statOne, () => sleep(o.baselineSeconds * 1000));
    o.progress('stat load during a checkpoint');
    let checkpointMs = 0;
    const during = await statLoad(statOne, async () => {
      await admin.mkdir('/ckpt/trigger', { parents: true });
      const line = await waitLog(nn(), 'checkpoint written', 600_000);
      checkpointMs = Number(line.ms);
    });
    for (const c of conns) c.close();
    const images = fs
      .readdirSync(nameDir)
      .filter((f) => f.startsWith('fsimage_'))
      .sort();
    const imageBytes = fs.statSync(path.join(nameDir, images[images.length - 1]!)).size;
    admin.close();

    // Restart: image load, replay, registrations and full reports until safe mode ends.
    o.progress('restarting the NameNode');
    await nn().stop(600_000);
    const t0 = performance.now();
    await cluster.restartNamenode();
    const readyMs = performance.now() - t0;
    const loaded = await waitLog(nn(), 'namespace loaded', 1000);
    const admin2 = new DfsClient({ namenode: address, requestTimeoutMs: 600_000 });
    sims.reconnect(address);
    await sims.registerAll(info.clusterId);
    const r0 = performance.now();
    const firstMs = await largest.fullReport();
    await sims.reportAll(REPORTS_IN_FLIGHT, largest);
    const reportsMs = performance.now() - r0;
    while ((await admin2.safeMode('get')).on) await sleep(20);
    const totalMs = performance.now() - t0;
    const restarted = await settledMemory(nn());
    admin2.close();

    const perFile = (a: number, b: number): number => Math.round((b - a) / o.files);
    const report: NamespaceReport = {
      suite: 'namespace',
      startedAt,
      settings: {
        files: o.files,
        replication: o.replication,
        datanodes,
        clients: o.clients,
        depth: o.depth,
        fill: o.fill,
      },
      machine: machineInfo(tempDir, { fdatasyncProbe: false }),
      fill: { ms: Math.round(fillMs), filesPerSec: Math.round(o.files / (fillMs / 1000)) },
      memory: {
        empty,
        filled,
        restarted,
        rssBytesPerFile: perFile(empty.rssBytes, filled.rssBytes),
        heapBytesPerFile: perFile(empty.heapUsedBytes, filled.heapUsedBytes),
        rssBytesPerFileAfterRestart: perFile(empty.rssBytes, restarted.rssBytes),
      },
      fullReport: {
        replicas: largest.replicas.length,
        steadyMs: Math.round(steadyMs),
        firstMs: Math.round(firstMs),
      },
      checkpoint: {
        imageBytes,
        ms: checkpointMs,
        p99Us: during.p99Us,
        baselineP99Us: baseline.p99Us,
        during,
        baseline,
      },
      restart: {
        totalMs: Math.round(totalMs),
        loadMs: Number(loaded.ms),
        replayed: Number(loaded.replayed),
        readyMs: Math.round(readyMs),
        reportsMs: Math.round(reportsMs),
        safeModeOffMs: Math.round(totalMs - readyMs - reportsMs),
      },
      notes: [],
    };
    report.notes = notesFor(report);
    return report;
  } finally {
    process.off('SIGINT', onSignal);
    sims?.close();
    await cleanup();
  }
}

/** RSS and heap once two readings 1 s apart differ by less than 1% (at most 30 s). */
async function settledMemory(nn: DaemonProcess): Promise<Memory> {
  let last = await memoryOf(nn);
  for (let i = 0; i < 30; i++) {
    await sleep(1000);
    const now = await memoryOf(nn);
    const stable = Math.abs(now.rssBytes - last.rssBytes) < last.rssBytes * 0.01;
    last = now;
    if (stable) break;
  }
  return last;
}

async function memoryOf(nn: DaemonProcess): Promise<Memory> {
  const status = fs.readFileSync(`/proc/${nn.pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  const metrics = await (await fetch(`http://127.0.0.1:${nn.httpPort}/metrics`)).text();
  const heap = Number(/^nodejs_heap_size_used_bytes (\S+)/m.exec(metrics)?.[1] ?? 0);
  return { rssBytes: rssKb * 1024, heapUsedBytes: heap };
}

/** The first log line with `msg` (each wait is on a fresh process or the first of its kind). */
async function waitLog(nn: DaemonProcess, msg: string, timeoutMs: number): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const line = nn.logs.find((l) => l.msg === msg);
    if (line !== undefined) return line;
    if (Date.now() > deadline) throw new Error(`the NameNode did not log '${msg}' in ${timeoutMs} ms`);
    await sleep(20);
  }
}

/** Stat RPCs from 4 connections x 4 in flight while `during` runs; their latency. */
async function statLoad(
  stat: (i: number) => Promise<void>,
  during: () => Promise<void>,
): Promise<LatencySummary> {
  const h = newLatencyHistogram();
  let stop = false;
  let next = 0;
  const lane = async (): Promise<void> => {
    while (!stop) {
      const t = performance.now();
      await stat(next++);
      recordUs(h, (performance.now() - t) * 1000);
    }
  };
  const running = Array.from({ length: 16 }, lane);
  await during();
  stop = true;
  await Promise.all(running);
  const s = summarize(h);
  h.destroy();
  return s;
}

function notesFor(r: NamespaceReport): string[] {
  const c = r.checkpoint;
  return [
    `Targets at 10M files (issue 12): <= 300 B RSS per file, restart <= 60 s, p99 during a checkpoint <= 2x the p99 without: here ${r.memory.rssBytesPerFile} B, ${(r.restart.totalMs / 1000).toFixed(1)} s, ${(c.p99Us / Math.max(1, c.baselineP99Us)).toFixed(1)}x.`,
    'Memory is read after the process settled (RSS stable within 1% over 1 s); no GC is forced, so garbage not yet collected counts.',
    `The full report is of ${r.fullReport.replicas} replicas; "first" is the first after the restart (every replica new), "steady" one where all are known.`,
    "Latency: 16 stat RPCs in flight over 4 connections; checkpoint time is the NameNode's own (serialize, roll, write, fsync).",
  ];
}

export function emitNamespaceReport(r: NamespaceReport, json: boolean): void {
  if (json) return writeJson(r);
  const mem = (m: Memory): string => `RSS ${formatBytes(m.rssBytes)}, heap ${formatBytes(m.heapUsedBytes)}`;
  const out = [
    'dfs-bench namespace',
    machineHeader(r.machine),
    `settings: ${r.settings.files} files of one block, replication ${r.settings.replication}, ${r.settings.datanodes} simulated DataNodes, ${r.settings.clients}x${r.settings.depth} requests in flight`,
    '',
    renderTable(
      ['measure', 'value'],
      [
        [
          r.settings.fill === 'image' ? 'fill (image built, loaded, reported)' : 'fill',
          `${(r.fill.ms / 1000).toFixed(1)} s (${r.fill.filesPerSec} files/s)`,
        ],
        ['memory empty', mem(r.memory.empty)],
        ['memory filled', mem(r.memory.filled)],
        ['memory after restart', mem(r.memory.restarted)],
        [
          'RSS per file',
          `${r.memory.rssBytesPerFile} B (after restart ${r.memory.rssBytesPerFileAfterRestart} B)`,
        ],
        ['heap per file', `${r.memory.heapBytesPerFile} B`],
        [
          'image size',
          `${formatBytes(r.checkpoint.imageBytes)} (${(r.checkpoint.imageBytes / r.settings.files).toFixed(0)} B per file)`,
        ],
        ['checkpoint time', `${r.checkpoint.ms} ms`],
        [
          'stat p99 without / during checkpoint',
          `${formatUs(r.checkpoint.baselineP99Us)} / ${formatUs(r.checkpoint.p99Us)} us (max ${formatUs(r.checkpoint.during.maxUs)} us)`,
        ],
        ['full report, steady', `${r.fullReport.steadyMs} ms for ${r.fullReport.replicas} replicas`],
        ['full report, first after restart', `${r.fullReport.firstMs} ms`],
        ['restart to safe mode off', `${(r.restart.totalMs / 1000).toFixed(1)} s`],
        [
          '  process start to listening',
          `${r.restart.readyMs} ms (image load + replay of ${r.restart.replayed}: ${r.restart.loadMs} ms)`,
        ],
        ['  registrations + full reports', `${r.restart.reportsMs} ms`],
        ['  then safe mode off', `${r.restart.safeModeOffMs} ms`],
      ],
    ),
    '',
    'notes:',
    ...r.notes.map((n) => `- ${n}`),
  ];
  process.stdout.write(`${out.join('\n')}\n`);
}
