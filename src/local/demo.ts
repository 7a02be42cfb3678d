/**
 * `dfsd demo` (npm run demo): self-healing shown end to end on one machine. It starts a
 * local cluster (a NameNode and four DataNodes, separate processes) in a temp folder,
 * uploads a file at replication 3, SIGKILLs a DataNode holding it, and prints what the
 * NameNode sees (fsck of the file, with times) before the kill, once it declares the node
 * dead (under-replicated), and once every block has three live replicas again; then it
 * reads the file back, checks it is identical, and stops everything it started.
 *
 * Timings are shortened so the demo takes seconds, not the HDFS default of minutes: a node
 * silent for `deadTimeoutMs` is dead, heartbeats every `heartbeatIntervalMs`. Ctrl-C (or
 * SIGTERM, SIGHUP) at any point stops the daemons, removes the folder and exits 130 (143,
 * 129); the daemons run in process groups of their own (daemon-process.ts) so the demo
 * stops them itself, in order.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { finished } from 'node:stream/promises';
import { waitUntil } from './poll.js';
import { BlockHealthState, DatanodeReportState } from '../../protocol/admin-namenode-messages.js';
import { DfsError, rethrowIfBug } from '../../protocol/errors.js';
import { fsckBlock, formatFsckBlock } from '../cli/admin-format.js';
import { humanBytes } from '../cli/format.js';
import { DfsClient } from '../client/dfs-client.js';
import { LocalCluster } from './local-cluster.js';

export interface DemoOptions {
  deadTimeoutMs: number;
  heartbeatIntervalMs: number;
  /** Longest wait for each step (start, detection, healing). */
  stepTimeoutMs: number;
}

const DATANODES = 4;
const REPLICATION = 3;
const BLOCK_BYTES = 1024 * 1024;
const FILE_BYTES = 3 * BLOCK_BYTES + 12_345;
const REMOTE = '/demo/data.bin';
const REPEAT_IGNORED_MS = 1000;
const SIGNAL_EXIT: Record<string, number> = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 };

const t0 = performance.now();
function say(line: string): void {
  const s = ((performance.now() - t0) / 1000).toFixed(1).padStart(5);
  process.stdout.write(`[${s}s] ${line}\n`);
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex').slice(0, 16);

type FileHealth = Awaited<ReturnType<DfsClient['blockHealth']>>;

/** The file's blocks as `dfs fsck --blocks --locations` prints them. */
function printFsck(h: FileHealth, title: string): void {
  const healthy = h.blocks.filter((b) => b.health === BlockHealthState.HEALTHY).length;
  say(`fsck ${title}: ${healthy} of ${h.blocks.length} blocks healthy`);
  for (const b of h.blocks)
    process.stdout.write(`         ${formatFsckBlock(fsckBlock(b), h.replication, true)}\n`);
}

export async function runDemo(options: DemoOptions): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dfs-demo-'));
  const cluster = new LocalCluster({
    baseDir: dir,
    namenodePort: 0,
    datanodes: DATANODES,
    logLevel: 'warn',
    ownProcessGroups: true,
    namenodeEnv: {
      DFS_NAMENODE_DEAD_NODE_TIMEOUT_MS: String(options.deadTimeoutMs),
      DFS_NAMENODE_HEARTBEAT_RECHECK_MS: String(Math.min(1000, Math.ceil(options.deadTimeoutMs / 10))),
    },
    datanodeEnv: () => ({ DFS_DATANODE_HEARTBEAT_INTERVAL_MS: String(options.heartbeatIntervalMs) }),
  });
  let client: DfsClient | null = null;
  let cleaning: Promise<void> | null = null;
  const cleanup = (): Promise<void> =>
    (cleaning ??= (async () => {
      client?.close();
      await cluster.stop().catch(async (err: unknown) => {
        rethrowIfBug(err);
        await cluster.killAll();
      });
      fs.rmSync(dir, { recursive: true, force: true });
      say(`stopped the cluster and removed ${dir}`);
    })());
  let firstSignalMs = 0;
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      if (firstSignalMs === 0) {
        firstSignalMs = performance.now();
        say(`${signal}: stopping`);
        void cleanup().finally(() => process.exit(SIGNAL_EXIT[signal]));
        return;
      }
      // A Ctrl-C arrives twice under npm (from the terminal and forwarded): only a later one hurries.
      if (performance.now() - firstSignalMs >= REPEAT_IGNORED_MS) process.exit(SIGNAL_EXIT[signal]);
    });
  }

  try {
    say(`starting a NameNode and ${DATANODES} DataNodes in ${dir}`);
    say(
      `(a node silent for ${options.deadTimeoutMs} ms is dead; heartbeats every ${options.heartbeatIntervalMs} ms)`,
    );
    await cluster.start();
    await cluster.waitWritable(options.stepTimeoutMs);
    client = new DfsClient({ namenode: cluster.namenodeAddress });
    say(`cluster up: NameNode ${cluster.namenodeAddress}, ${DATANODES} DataNodes live`);

    const data = randomBytes(FILE_BYTES);
    const out = client.create(REMOTE, { replication: REPLICATION, blockBytes: BLOCK_BYTES });
    out.end(data);
    await finished(out);
    say(
      `uploaded ${REMOTE}: ${humanBytes(FILE_BYTES)} in ${BLOCK_BYTES / 1024 / 1024} MiB blocks, sha256 ${sha256(data)}`,
    );
    // `complete` waits for the minimal count of replicas; the others' reports may come just
    // after it (the last block's above all): "before" shows the file fully replicated.
    const c = client;
    const allHealthy = async (): Promise<FileHealth | undefined> => {
      const h = await c.blockHealth(REMOTE);
      return h.blocks.every((b) => b.health === BlockHealthState.HEALTHY) ? h : undefined;
    };
    printFsck(await waitUntil('every replica to be reported', options.stepTimeoutMs, allHealthy), 'before');

    const holder = (await client.blockHealth(REMOTE)).blocks[0]!.replicas[0]!.node;
    const victimIndex = cluster.datanodes.findIndex((d) => d.port === holder.port);
    const victim = cluster.datanodes[victimIndex]!;
    const victimPid = victim.pid;
    await victim.kill();
    const killedAt = performance.now();
    say(`killed ${victim.options.name} (pid ${victimPid}, 127.0.0.1:${holder.port}) with SIGKILL`);

    // Block health is read in the same poll that sees the node dead, often (every 10 ms), so
    // "during" shows the blocks before the copies heal them. The NameNode schedules them the
    // moment it declares the node dead, so on a busy machine they may have landed first.
    const during = await waitUntil(
      'the NameNode to notice',
      options.stepTimeoutMs,
      async () => {
        const [nodes, health] = await Promise.all([c.datanodeReport(), c.blockHealth(REMOTE)]);
        const n = nodes.find((e) => e.port === holder.port);
        return n?.state === DatanodeReportState.DEAD ? health : undefined;
      },
      10,
    );
    const noticedAt = performance.now();
    say(`the NameNode declared it dead ${((noticedAt - killedAt) / 1000).toFixed(1)} s after the kill`);
    printFsck(during, 'during');
    if (during.blocks.every((b) => b.health === BlockHealthState.HEALTHY))
      say('(the copies had landed before this look: they start as soon as the node is declared dead)');

    const after = await waitUntil('the blocks to heal', options.stepTimeoutMs, allHealthy);
    say(
      `healed: every block has ${REPLICATION} live replicas, ${((performance.now() - noticedAt) / 1000).toFixed(1)} s after detection`,
    );
    printFsck(after, 'after');

    const chunks: Buffer[] = [];
    for await (const chunk of client.open(REMOTE)) chunks.push(chunk as Buffer);
    const back = Buffer.concat(chunks);
    if (!back.equals(data)) {
      throw new DfsError('CHECKSUM', `read back ${back.length} bytes, sha256 ${sha256(back)}: NOT identical`);
    }
    say(`read back ${humanBytes(back.length)}, sha256 ${sha256(back)}: identical`);
  } finally {
    await cleanup();
  }
}
