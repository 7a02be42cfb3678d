/**
 * `dfs-bench`: the benchmark suites, run against real daemon processes on loopback.
 *
 *   dfs-bench meta         NameNode metadata throughput (bench/meta.ts); with
 *                          --sim-datanodes N, DataNode traffic (bench/meta-sim.ts)
 *   dfs-bench upload       write throughput vs a raw TCP baseline (bench/data.ts)
 *   dfs-bench download     read throughput vs a raw TCP baseline (bench/data.ts)
 *   dfs-bench replication  re-replication after losing a DataNode vs a raw copy baseline
 *                          (bench/replication.ts)
 *   dfs-bench webhdfs      WebHDFS CREATE and OPEN beside the native put and get
 *                          (bench/webhdfs.ts)
 *   dfs-bench namespace    a NameNode holding N one-block files: memory per file, image,
 *                          checkpoint stall, restart time (bench/namespace.ts)
 *
 * Every suite prints a human report (machine, settings, one row per phase, notes on what
 * limited the figures) or, with --json, one JSON document and nothing else on stdout;
 * progress goes to stderr. `meta-worker` is the hidden mode in which `meta` forks copies
 * of this program to spread its client connections over several processes, and
 * `sim-datanode-worker` the one that hosts a group of simulated DataNodes;
 * `baseline-hop` is one hop process of the raw baseline (bench/baseline-hop.ts).
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runBaselineHop } from './baseline-hop.js';
import { defaultBenchDir, runDataBench, type DataSuite, type Durability } from './data.js';
import { emitDataReport } from './data-report.js';
import { emitHaReport, HA_CREATE_TARGET, runHaBench } from './ha.js';
import { emitMetaReport, runMeta, type MetaOptions } from './meta.js';
import { runMetaWorkerProcess } from './meta-workload.js';
import { emitMetaSimReport, runMetaSim } from './meta-sim.js';
import { emitNamespaceReport, runNamespace, type NamespaceOptions } from './namespace.js';
import { emitReplicationReport, runReplicationBench } from './replication.js';
import { runSimDatanodeWorker } from './sim-datanodes.js';
import { emitWebHdfsReport, runWebHdfsBench, WEBHDFS_TARGET } from './webhdfs.js';
import { DEFAULT_BLOCK_BYTES } from '../src/client/dfs-client.js';
import { parseByteSize } from '../src/cli/format.js';
import { configureProgram, exitOnClosedStdout, reportCommandLineError } from '../src/cli/program-support.js';

const SELF = fileURLToPath(import.meta.url);

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`not a positive integer: ${value}`);
  return n;
}

/** "1,3": etcd cluster sizes, each 1 or more. */
function memberList(value: string): number[] {
  return value.split(',').map((v) => positiveInt(v.trim()));
}

function byteSize(value: string): number {
  const n = parseByteSize(value);
  if (n === null || n < 1) throw new InvalidArgumentError(`not a size (e.g. 1GiB, 64MiB, 4096): ${value}`);
  return n;
}

const progress = (line: string): void => {
  process.stderr.write(`dfs-bench: ${line}\n`);
};

function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`not a non-negative integer: ${value}`);
  return n;
}

interface HaCommandOptions {
  ops: number;
  clients: number;
  depth: number;
  clientProcesses: number;
  etcdMembers: number[];
  ttl: number;
  failovers: number;
  json?: boolean;
}

interface MetaCommandOptions extends Omit<MetaOptions, 'json' | 'workerScript' | 'progress'> {
  simDatanodes: number;
  blocksPerNode: number;
  simReplication: number;
  heartbeatInterval: number;
  simSeconds: number;
  simProcesses: number;
  simNodesPerConnection: number;
  simHeartbeatDepth: number;
  simReportDepth: number;
  json?: boolean;
}

const program = new Command('dfs-bench').description('DFS benchmarks (real processes on loopback)');

program
  .command('meta')
  .description(
    'NameNode metadata throughput: mkdir, create+complete, stat, list, rename, delete (NNThroughput-style)',
  )
  .option('--ops <n>', 'operations per phase', positiveInt, 50_000)
  .option('--clients <n>', 'concurrent client connections', positiveInt, 8)
  .option('--depth <n>', 'requests in flight per connection', positiveInt, 64)
  .option(
    '--client-processes <n>',
    'spread the connections over this many worker processes (1 = in the bench process)',
    positiveInt,
    1,
  )
  .option('--namenode <host:port>', 'use this running NameNode instead of starting one in a temp dir')
  .option('--namenode-pid <pid>', "with --namenode on this machine: sample that process's CPU", positiveInt)
  .option(
    '--namenode-cpu-prof <dir>',
    "CPU-profile the bench's NameNode (V8 .cpuprofile written to DIR) and show hot spots per phase",
  )
  .option(
    '--sim-datanodes <n>',
    'simulated-DataNode mode: N simulated DataNodes heartbeat and send block reports (alone and during create/stat)',
    nonNegativeInt,
    0,
  )
  .option('--blocks-per-node <n>', "sim mode: blocks in each node's full block report", positiveInt, 100)
  .option(
    '--sim-replication <n>',
    'sim mode: replication of the blocks created for the reports',
    positiveInt,
    3,
  )
  .option(
    '--heartbeat-interval <ms>',
    'sim mode: each node heartbeats this often (0 = back to back, as fast as the NameNode answers)',
    nonNegativeInt,
    0,
  )
  .option(
    '--sim-seconds <s>',
    'sim mode: length of the heartbeat-only and report-only phases',
    positiveInt,
    5,
  )
  .option(
    '--sim-processes <n>',
    'sim mode: worker processes the simulated nodes are spread over',
    positiveInt,
    2,
  )
  .option(
    '--sim-nodes-per-connection <n>',
    'sim mode: simulated nodes sharing one DATANODE connection (1 = as a real cluster)',
    positiveInt,
    1,
  )
  .option(
    '--sim-heartbeat-depth <n>',
    'sim mode: back-to-back heartbeats in flight per connection',
    positiveInt,
    1,
  )
  .option(
    '--sim-report-depth <n>',
    'sim mode: full block reports in flight (all processes together)',
    positiveInt,
    8,
  )
  .option('--json', 'print one JSON document instead of the table')
  .addHelpText(
    'after',
    `
Recommended (best figures on a 2-core machine; 4096 requests in flight):
  dfs-bench meta --clients 8 --depth 512
With only 2 cores, NameNode and clients share them: --client-processes 2 did not beat
one client process there. More in flight mainly helps the durable mutations (bigger
group commits); latencies then are mostly queueing.
Where the NameNode spends its time, per phase:
  dfs-bench meta --clients 8 --depth 512 --namenode-cpu-prof /tmp/nn-prof

Targets printed beside the results: durable creates >= 20,000/s, stats >= 130,000/s
(the HDFS paper measured 5,600 creates/s and 126,100 opens/s).

Simulated DataNodes (heartbeats/s and reported blocks/s the NameNode sustains, alone and
while serving clients; the HDFS paper: 300,000 heartbeats/s, 639,700 blocks/s):
  dfs-bench meta --sim-datanodes 10000 --blocks-per-node 100 --clients 8 --depth 512`,
  )
  .action(async (opts: MetaCommandOptions) => {
    const json = opts.json === true;
    if (opts.simDatanodes > 0) {
      const report = await runMetaSim({
        ...opts,
        replication: opts.simReplication,
        heartbeatIntervalMs: opts.heartbeatInterval,
        nodesPerConnection: opts.simNodesPerConnection,
        heartbeatDepth: opts.simHeartbeatDepth,
        reportDepth: opts.simReportDepth,
        workerScript: SELF,
        progress,
      });
      emitMetaSimReport(report, json);
      return;
    }
    const report = await runMeta({
      ops: opts.ops,
      clients: opts.clients,
      depth: opts.depth,
      clientProcesses: opts.clientProcesses,
      namenode: opts.namenode,
      namenodePid: opts.namenodePid,
      namenodeCpuProf: opts.namenodeCpuProf,
      json,
      workerScript: SELF,
      progress,
    });
    emitMetaReport(report, json);
  });

program
  .command('ha')
  .description(
    'NameNode HA on etcd: durable mkdir/create beside the local edit log, standby lag, failover time after kill -9',
  )
  .option('--ops <n>', 'operations per phase', positiveInt, 50_000)
  .option('--clients <n>', 'concurrent client connections', positiveInt, 8)
  .option('--depth <n>', "requests in flight per connection (meta's recommended run)", positiveInt, 512)
  .option(
    '--client-processes <n>',
    'spread the connections over this many worker processes (1 = in the bench process)',
    positiveInt,
    1,
  )
  .option('--etcd-members <list>', 'etcd cluster sizes to run the HA pair on', memberList, [1, 3])
  .option('--ttl <s>', "the HA leader lease's TTL in seconds", positiveInt, 2)
  .option(
    '--failovers <n>',
    'kill -9 rounds of the active for the failover time (0: none)',
    nonNegativeInt,
    5,
  )
  .option('--json', 'print one JSON document instead of the table')
  .addHelpText(
    'after',
    `
Needs etcd (Debian etcd-server, /usr/bin/etcd or DFS_ETCD). Target (issue 14): at least
${HA_CREATE_TARGET.toLocaleString('en-US')} durable creates/s with a three-member etcd; failover under the TTL + 2 s.`,
  )
  .action(async (opts: HaCommandOptions) => {
    const report = await runHaBench({
      ops: opts.ops,
      clients: opts.clients,
      depth: opts.depth,
      clientProcesses: opts.clientProcesses,
      etcdMembers: opts.etcdMembers,
      ttlSeconds: opts.ttl,
      failovers: opts.failovers,
      workerScript: SELF,
      progress,
    });
    emitHaReport(report, opts.json === true);
  });

program
  .command('namespace')
  .description(
    'a NameNode holding N one-block files: memory per file, image, checkpoint stall, restart, full block report',
  )
  .option('--files <n>', 'one-block files to create', positiveInt, 100_000)
  .option(
    '--replication <n>',
    'replicas of each block (each reported by a simulated DataNode)',
    positiveInt,
    3,
  )
  .option(
    '--datanodes <n>',
    'simulated DataNodes (default: files x replication / 1,000,000, at least the replication)',
    positiveInt,
  )
  .option('--clients <n>', 'client connections filling the namespace', positiveInt, 8)
  .option('--depth <n>', 'files being created at once per connection', positiveInt, 128)
  .option('--baseline-seconds <s>', 'seconds of stat load measured without a checkpoint', positiveInt, 5)
  .addOption(
    new Option('--fill <how>', 'rpc: N x 3 client RPCs; image: the bench builds the image the NameNode loads')
      .choices(['rpc', 'image'])
      .default('rpc'),
  )
  .option('--json', 'print one JSON document instead of the table')
  .action(
    async (
      opts: Omit<NamespaceOptions, 'json' | 'progress' | 'datanodes'> & {
        datanodes?: number;
        json?: boolean;
      },
    ) => {
      const json = opts.json === true;
      const report = await runNamespace({ ...opts, datanodes: opts.datanodes ?? null, json, progress });
      emitNamespaceReport(report, json);
    },
  );

program.command('meta-worker', { hidden: true }).action(() => runMetaWorkerProcess());
program.command('sim-datanode-worker', { hidden: true }).action(() => runSimDatanodeWorker());

interface DataCommandOptions {
  size: number;
  replication: number;
  clients: number;
  durability: 'durable' | 'page-cache' | 'both';
  yardstick?: string;
  cli?: boolean;
  datanodes?: number;
  rounds: number;
  warmup?: number;
  settleMs: number;
  blockSize?: number;
  packetSize?: number;
  window?: number;
  dir: string;
  datanodeNodeArg: string[];
  json?: boolean;
}

/** Both data suites and replication: how each timed phase waits for a quiet machine (bench/report.ts settleMachine). */
const SETTLE_OPTION = [
  '--settle-ms <ms>',
  'before each timed phase: sync, then wait at most this long for the machine to go nearly idle (0 = neither)',
  nonNegativeInt,
  15_000,
] as const;

const DURABILITY_MODES: Record<DataCommandOptions['durability'], Durability[]> = {
  durable: ['durable'],
  'page-cache': ['page-cache'],
  both: ['durable', 'page-cache'],
};

for (const suite of ['upload', 'download'] as const satisfies readonly DataSuite[]) {
  program
    .command(suite)
    .description(
      suite === 'upload'
        ? 'write throughput of a local cluster (dfs put path) against a raw TCP baseline with the same hops, in the same run'
        : 'read throughput of a local cluster (dfs get path) against a raw TCP baseline, in the same run',
    )
    .option('--size <bytes>', 'bytes per file (1GiB, 256MiB, ...)', byteSize, 1024 * 1024 * 1024)
    .option(
      '--replication <n>',
      'replication of the files (baseline: the same number of hops)',
      positiveInt,
      suite === 'upload' ? 3 : 1,
    )
    .option('--clients <n>', 'transfers at once, each on its own file (aggregate MiB/s)', positiveInt, 1)
    .option(
      '--datanodes <n>',
      'DataNode processes (and baseline hops); default max(3, replication)',
      positiveInt,
    )
    .option(
      '--rounds <n>',
      'baseline + DFS rounds (order alternating); figures are over all rounds',
      positiveInt,
      1,
    )
    .option(
      '--warmup <n>',
      'untimed baseline + DFS rounds first; default datanodes / replication, rounded up, so each DataNode has carried about a round before the timing',
      nonNegativeInt,
    )
    .option(...SETTLE_OPTION)
    .addOption(
      new Option(
        '--durability <mode>',
        suite === 'upload'
          ? 'durable (DFS defaults vs sync-behind + final fdatasync), page-cache (syncOnFinalize off vs no sync), or both'
          : 'ignored: reads come from the page cache',
      )
        .choices(['durable', 'page-cache', 'both'])
        .default('both'),
    )
    .option(
      '--yardstick <file>',
      'also run this plain-Node program (../shared/yardstick/raw-chain.mjs) each round, to show the baseline is at least as fast',
    )
    .option(
      '--cli',
      'time DFS as the dfs command, a process per transfer (dfs put, dfs get F - > /dev/null), start-up included, as a user timing it sees it; the baseline and yardstick are timed as without it',
    )
    .option('--block-size <bytes>', `DFS block size (default ${DEFAULT_BLOCK_BYTES / 1048576}MiB)`, byteSize)
    .option('--packet-size <bytes>', 'DFS packet payload (default 2MiB, the maximum)', byteSize)
    .option('--window <bytes>', 'DFS unacknowledged bytes in flight per writer (default 32MiB)', byteSize)
    .option(
      '--dir <dir>',
      'where the daemons and baseline hops write (a temp dir inside it is removed at the end)',
      defaultBenchDir(),
    )
    .option(
      '--datanode-node-arg <arg>',
      'extra node flag for every DataNode (e.g. --cpu-prof); repeatable',
      (v: string, prev: string[]) => [...prev, v],
      [] as string[],
    )
    .option('--json', 'print one JSON document instead of the table')
    .addHelpText(
      'after',
      `
Target: DFS at least 90% of the baseline's MiB/s on a 1 GiB file, at replication 1 and 3,
durable and page cache, one client and several.
  dfs-bench ${suite} --size 1GiB --replication ${suite === 'upload' ? '3' : '1'} --rounds 3 --yardstick ../shared/yardstick/raw-chain.mjs`,
    )
    .action(async (opts: DataCommandOptions) => {
      const datanodes = opts.datanodes ?? Math.max(3, opts.replication);
      const report = await runDataBench({
        suite,
        sizeBytes: opts.size,
        replication: opts.replication,
        clients: opts.clients,
        durability: DURABILITY_MODES[opts.durability],
        yardstick: opts.yardstick === undefined ? null : path.resolve(opts.yardstick),
        cli: opts.cli === true,
        datanodes,
        rounds: opts.rounds,
        // A file's blocks are spread over the DataNodes, so at replication 1 each sees a
        // third of a round's packets (of three): one warm-up round left their hot paths in
        // V8's first tiers, and downloads at 0.73 of the baseline where three gave 1.04.
        warmupRounds: opts.warmup ?? Math.ceil(datanodes / opts.replication),
        settleMs: opts.settleMs,
        blockBytes: opts.blockSize,
        packetBytes: opts.packetSize,
        windowBytes: opts.window,
        dir: opts.dir,
        datanodeNodeArgs: opts.datanodeNodeArg,
        benchScript: SELF,
        progress,
      });
      emitDataReport(report, opts.json === true);
    });
}

interface ReplicationCommandOptions {
  mode: string;
  datanodes: number;
  files: number;
  size: number;
  replication: number;
  blockSize?: number;
  rounds: number;
  deadTimeout: number;
  heartbeatInterval: number;
  transfersPerNode?: number;
  replicationInterval?: number;
  settleMs: number;
  dir: string;
  json?: boolean;
}

program
  .command('webhdfs')
  .description('WebHDFS CREATE and OPEN throughput beside the native client, in the same run')
  .option('--size <bytes>', 'bytes of the file (1GiB, 256MiB, ...)', byteSize, 1024 * 1024 * 1024)
  .option('--replication <n>', 'replication of the files', positiveInt, 1)
  .option('--datanodes <n>', 'DataNode processes; default max(1, replication)', positiveInt)
  .option('--rounds <n>', 'rounds of the four phases (order alternating), after one untimed', positiveInt, 1)
  .option(...SETTLE_OPTION)
  .option(
    '--dir <dir>',
    'where the daemons write (a temp dir inside it is removed at the end)',
    defaultBenchDir(),
  )
  .option('--json', 'print one JSON document instead of the table')
  .addHelpText(
    'after',
    `
Target: WebHDFS at least ${WEBHDFS_TARGET} of the native client's MiB/s on a 1 GiB file.
  dfs-bench webhdfs --size 1GiB --rounds 3`,
  )
  .action(
    async (opts: {
      size: number;
      replication: number;
      datanodes?: number;
      rounds: number;
      settleMs: number;
      dir: string;
      json?: boolean;
    }) => {
      const report = await runWebHdfsBench({
        sizeBytes: opts.size,
        replication: opts.replication,
        datanodes: opts.datanodes ?? Math.max(1, opts.replication),
        rounds: opts.rounds,
        settleMs: opts.settleMs,
        dir: opts.dir,
        progress,
      });
      emitWebHdfsReport(report, opts.json === true);
    },
  );

program
  .command('replication')
  .description(
    'time to restore full replication after a DataNode is killed or decommissioned, and its MiB/s against a raw copy baseline, in the same run',
  )
  .option('--mode <mode>', 'kill (SIGKILL the node) or decommission (drain it)', 'kill')
  .option('--datanodes <n>', 'DataNode processes (and baseline hops)', positiveInt, 4)
  .option('--files <n>', 'files loaded before the node is lost', positiveInt, 8)
  .option('--size <bytes>', 'bytes per file', byteSize, 128 * 1024 * 1024)
  .option('--replication <n>', 'replication of the files', positiveInt, 3)
  .option('--block-size <bytes>', 'DFS block size (default 64MiB)', byteSize)
  .option(
    '--rounds <n>',
    'rounds, each on a freshly loaded cluster; figures are over all rounds',
    positiveInt,
    1,
  )
  .option('--dead-timeout <ms>', 'NameNode dead-node timeout for the bench cluster', positiveInt, 3000)
  .option('--heartbeat-interval <ms>', 'DataNode heartbeat interval for the bench cluster', positiveInt, 500)
  .option(
    '--transfers-per-node <n>',
    "NameNode limit of copies per source node (default: the NameNode's); the baseline uses the same",
    positiveInt,
  )
  .option(
    '--replication-interval <ms>',
    "how often the replication monitor runs (default: the NameNode's)",
    positiveInt,
  )
  .option(...SETTLE_OPTION)
  .option(
    '--dir <dir>',
    'where the daemons and baseline hops write (a temp dir inside it is removed at the end)',
    defaultBenchDir(),
  )
  .option('--json', 'print one JSON document instead of the table')
  .addHelpText(
    'after',
    `
Target: re-replication at least 70% of the baseline's MiB/s.
  dfs-bench replication --files 8 --size 128MiB --mode kill --rounds 3
  dfs-bench replication --files 8 --size 128MiB --mode decommission --rounds 3`,
  )
  .action(async (opts: ReplicationCommandOptions) => {
    if (opts.mode !== 'kill' && opts.mode !== 'decommission')
      throw new InvalidArgumentError(`--mode must be kill or decommission, not ${opts.mode}`);
    const report = await runReplicationBench({
      ...opts,
      mode: opts.mode,
      sizeBytes: opts.size,
      blockBytes: opts.blockSize,
      deadTimeoutMs: opts.deadTimeout,
      heartbeatIntervalMs: opts.heartbeatInterval,
      transfersPerNode: opts.transfersPerNode,
      replicationIntervalMs: opts.replicationInterval,
      benchScript: SELF,
      progress,
    });
    emitReplicationReport(report, opts.json === true);
  });

program
  .command('baseline-hop', { hidden: true })
  .requiredOption('--dir <dir>', 'where this hop writes its files')
  .action((opts: { dir: string }) => runBaselineHop(opts.dir));

configureProgram(program); // --version; usage errors as one line, exit 2
exitOnClosedStdout(); // `dfs-bench --help | head`

program.parseAsync(process.argv).catch((err: unknown) => {
  if (reportCommandLineError('dfs-bench', err)) return;
  const e = err as Error & { code?: string };
  process.stderr.write(`dfs-bench: ${e.code !== undefined ? `${e.code}: ` : ''}${e.message}\n`);
  process.exit(1);
});
