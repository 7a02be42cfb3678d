/**
 * `dfs-bench`: the benchmark suites, run against real daemon processes on loopback.
 *
 *   dfs-bench meta         NameNode metadata throughput (bench/meta.ts)
 *
 * Every suite prints a human report (machine, settings, one row per phase, notes on what
 * limited the figures) or, with --json, one JSON document and nothing else on stdout;
 * progress goes to stderr. `meta-worker` is the hidden mode in which `meta` forks copies
 * of this program to spread its client connections over several processes.
 */
import { Command, InvalidArgumentError } from 'commander';
import { fileURLToPath } from 'node:url';
import { emitMetaReport, runMeta } from '../../bench/meta.js';
import { runMetaWorkerProcess } from '../../bench/meta-workload.js';

const SELF = fileURLToPath(import.meta.url);

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`not a positive integer: ${value}`);
  return n;
}

const program = new Command('dfs-bench').description('DFS benchmarks (real processes on loopback)').showHelpAfterError();

program
  .command('meta')
  .description('NameNode metadata throughput: mkdir, create+complete, stat, list, rename, delete (NNThroughput-style)')
  .option('--ops <n>', 'operations per phase', positiveInt, 50_000)
  .option('--clients <n>', 'concurrent client connections', positiveInt, 8)
  .option('--depth <n>', 'requests in flight per connection', positiveInt, 64)
  .option('--client-processes <n>', 'spread the connections over this many worker processes (1 = in the bench process)', positiveInt, 1)
  .option('--namenode <host:port>', 'use this running NameNode instead of starting one in a temp dir')
  .option('--namenode-pid <pid>', 'with --namenode on this machine: sample that process\'s CPU', positiveInt)
  .option('--namenode-cpu-prof <dir>', 'CPU-profile the bench\'s NameNode (V8 .cpuprofile written to DIR) and show hot spots per phase')
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
(the HDFS paper measured 5,600 creates/s and 126,100 opens/s).`,
  )
  .action(async (opts: { ops: number; clients: number; depth: number; clientProcesses: number; namenode?: string; namenodePid?: number; namenodeCpuProf?: string; json?: boolean }) => {
    const json = opts.json === true;
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
      progress: (line) => process.stderr.write(`dfs-bench: ${line}\n`),
    });
    emitMetaReport(report, json);
  });

program.command('meta-worker', { hidden: true }).action(() => runMetaWorkerProcess());

program.parseAsync(process.argv).catch((err: unknown) => {
  const e = err as Error & { code?: string };
  process.stderr.write(`dfs-bench: ${e.code !== undefined ? `${e.code}: ` : ''}${e.message}\n`);
  process.exit(1);
});
