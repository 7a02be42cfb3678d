/**
 * `dfsd`: the daemon launcher. `dfsd namenode` runs a NameNode (`--format` creates its
 * name directory); `dfsd local` runs the embedded local cluster used by `npm start`, `dfsd demo` the
 * self-healing demo of `npm run demo`.
 * Both daemons serve WebHDFS on their HTTP port (src/webhdfs/), wired here: the gateway uses
 * the client library, which a DataNode itself never imports.
 * SIGTERM and SIGINT stop the daemon cleanly (stop listening, flush the edit log); a bug
 * (a failed assertion, anything thrown and not handled) logs at fatal and exits 70 at once
 * (src/common/crash.ts).
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { AssertionFailure, DfsError, isDfsError } from '../../protocol/errors.js';
import {
  DATANODE_DEFAULTS,
  HTTP_OFF,
  NAMENODE_DEFAULTS,
  resolveConfig,
  type DataNodeConfig,
  type NameNodeConfig,
} from '../common/config.js';
import { DataNode } from '../datanode/datanode.js';
import { crashOnUncaught, EXIT_BUG } from '../common/crash.js';
import { createLogger } from '../common/logger.js';
import { formatNameDir } from '../namenode/name-dir.js';
import { namenodeOwners } from '../namenode/ownership.js';
import { NameNode } from '../namenode/namenode.js';
import { runDemo } from '../local/demo.js';
import { runLocalCluster } from '../local/local-cluster-main.js';
import { systemClock } from '../common/clock.js';
import { datanodeWebHdfs } from '../webhdfs/datanode-webhdfs.js';
import { namenodeWebHdfs } from '../webhdfs/namenode-webhdfs.js';
import { configureProgram, reportCommandLineError } from './program-support.js';

function intArg(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`not a non-negative integer: ${value}`);
  return n;
}

/** Runs `stop` on the first SIGTERM/SIGINT; a second signal exits at once. */
export function onShutdownSignal(stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (stopping) process.exit(1);
    stopping = true;
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`dfsd: error while stopping after ${signal}: ${(err as Error).message}\n`);
        process.exit(err instanceof AssertionFailure ? EXIT_BUG : 1);
      },
    );
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
  // Started by a launcher (local cluster, tests): stop when the launcher is gone.
  if (process.env.DFS_LIFELINE === '1') {
    let gone = false;
    const lost = (): void => {
      if (gone) return;
      gone = true;
      handler('SIGTERM');
    };
    process.stdin.on('end', lost);
    process.stdin.on('close', lost);
    process.stdin.on('error', lost);
    process.stdin.resume();
  }
}

/** An HTTP port: 0 picks a free one, -1 turns HTTP off. */
function httpPortArg(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < HTTP_OFF || n > 65535)
    throw new InvalidArgumentError(`not a port (0-65535, or -1 for off): ${value}`);
  return n;
}

function httpPortOption(defaultPort: number): Option {
  return new Option(
    '--http-port <port>',
    `HTTP port (/metrics, /healthz, /readyz), 0 picks a free one, -1 turns HTTP off (default ${defaultPort})`,
  ).argParser(httpPortArg);
}

function httpHostOption(): Option {
  return new Option('--http-host <host>', `HTTP listen address (default ${NAMENODE_DEFAULTS.httpHost})`);
}

function logLevelOption(): Option {
  return new Option('--log-level <level>', 'log level').choices(LOG_LEVELS);
}

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

const program = new Command('dfsd').description('DFS daemons');

program
  .command('namenode')
  .description('run a NameNode (or format its name directory with --format)')
  .option('--name-dir <dir>', `name directory (default ${NAMENODE_DEFAULTS.nameDir})`)
  .option('--host <host>', `address to listen on (default ${NAMENODE_DEFAULTS.host})`)
  .option('--port <port>', `RPC port, 0 picks a free one (default ${NAMENODE_DEFAULTS.port})`, intArg)
  .addOption(httpPortOption(NAMENODE_DEFAULTS.httpPort))
  .addOption(httpHostOption())
  .option('--format', 'create a new name directory with a new cluster id, then exit')
  .option('--force', 'with --format: erase an existing name directory')
  .option('--cluster-id <id>', 'with --format: use this cluster id instead of a random one')
  .option('--config <file>', 'JSON configuration file (section "namenode")')
  .addOption(logLevelOption())
  .action(async (opts: Record<string, string | number | boolean | undefined>) => {
    const config = resolveConfig<NameNodeConfig>('namenode', NAMENODE_DEFAULTS, {
      file: opts.config as string | undefined,
      flags: {
        nameDir: opts.nameDir as string | undefined,
        host: opts.host as string | undefined,
        port: opts.port as number | undefined,
        httpPort: opts.httpPort as number | undefined,
        httpHost: opts.httpHost as string | undefined,
        logLevel: opts.logLevel as string | undefined,
      },
    });
    const log = createLogger({ name: 'namenode', level: config.logLevel as 'info' });
    crashOnUncaught(log);
    if (opts.format) {
      const v = await formatNameDir(config.nameDir, {
        force: Boolean(opts.force),
        clusterId: opts.clusterId as string | undefined,
        owners: namenodeOwners(config),
      });
      log.info({ nameDir: config.nameDir, clusterId: v.clusterId }, 'name directory formatted');
      return;
    }
    let nn = new NameNode(config, log, systemClock, [namenodeWebHdfs]);
    await nn.start();
    onShutdownSignal(() => nn.stop());
    // An HA standby whose journal position was purged fetched a peer's image and stopped
    // (src/namenode/ha-node.ts): it starts again from that image in this process, on the
    // same ports, so DataNodes and clients find it where it was. Any other fatal: exit 2.
    let reloads = 0;
    const onFatal = (): void => {
      const ports = { port: nn.address.port, httpPort: nn.httpPort };
      void nn.fatal.then(async (err) => {
        await nn.stop();
        if (!isDfsError(err, 'JOURNAL_COMPACTED') || ++reloads > 3) process.exit(2);
        log.warn({ reloads }, 'starting the NameNode again from the image it fetched');
        nn = new NameNode({ ...config, ...ports }, log, systemClock, [namenodeWebHdfs]);
        await nn.start().catch((e: unknown) => {
          log.fatal({ err: (e as Error).message }, 'the NameNode could not start again');
          process.exit(2);
        });
        onFatal();
      });
    };
    onFatal();
  });

program
  .command('datanode')
  .description('run a DataNode')
  .option(
    '--namenode <host:port>',
    `NameNode address, or HA NameNodes comma-separated (default ${DATANODE_DEFAULTS.namenode})`,
  )
  .option(
    '--data-dir <dir>',
    'data directory; repeat for several disks',
    (v: string, acc: string[] | undefined) => [...(acc ?? []), v],
  )
  .option('--host <host>', `address to listen on (default ${DATANODE_DEFAULTS.host})`)
  .option(
    '--advertise-host <host>',
    'address others use to reach this node (default: the listen address, or as seen by the NameNode)',
  )
  .option('--port <port>', `data port, 0 picks a free one (default ${DATANODE_DEFAULTS.port})`, intArg)
  .addOption(httpPortOption(DATANODE_DEFAULTS.httpPort))
  .addOption(httpHostOption())
  .option('--config <file>', 'JSON configuration file (section "datanode")')
  .addOption(logLevelOption())
  .action(async (opts: Record<string, string | number | string[] | undefined>) => {
    const config = resolveConfig<DataNodeConfig>('datanode', DATANODE_DEFAULTS, {
      file: opts.config as string | undefined,
      flags: {
        namenode: opts.namenode as string | undefined,
        dataDirs: opts.dataDir as string[] | undefined,
        host: opts.host as string | undefined,
        advertiseHost: opts.advertiseHost as string | undefined,
        port: opts.port as number | undefined,
        httpPort: opts.httpPort as number | undefined,
        httpHost: opts.httpHost as string | undefined,
        logLevel: opts.logLevel as string | undefined,
      },
    });
    const log = createLogger({ name: 'datanode', level: config.logLevel as 'info' });
    crashOnUncaught(log);
    const dn = new DataNode(config, log, [datanodeWebHdfs]);
    await dn.start();
    onShutdownSignal(() => dn.stop());
    void dn.fatal.then(() => dn.stop().finally(() => process.exit(2)));
  });

program
  .command('local')
  .description('run a local cluster in the foreground (formatted on first run); Ctrl-C stops it')
  .option('--dir <dir>', 'where the cluster keeps its data', '.dfs-local')
  .option('--port <port>', 'NameNode port', intArg, NAMENODE_DEFAULTS.port)
  .option(
    '--http-port <port>',
    'NameNode HTTP port (web UI and metrics); DataNodes pick free ones; -1 turns HTTP off',
    httpPortArg,
    NAMENODE_DEFAULTS.httpPort,
  )
  .option('--datanodes <n>', 'number of DataNodes', intArg, 3)
  .action(async (opts: { dir: string; port: number; httpPort: number; datanodes: number }) => {
    await runLocalCluster(opts);
  });

program
  .command('demo')
  .description(
    'start a local cluster in a temp folder, upload a file, kill a DataNode, watch it heal, read the file back, stop',
  )
  .option('--dead-timeout <ms>', 'a DataNode silent this long is dead', intArg, 6000)
  .option('--heartbeat-interval <ms>', 'DataNode heartbeat period', intArg, 1000)
  .option('--timeout <ms>', 'longest wait for each step', intArg, 120_000)
  .action(async (opts: { deadTimeout: number; heartbeatInterval: number; timeout: number }) => {
    await runDemo({
      deadTimeoutMs: opts.deadTimeout,
      heartbeatIntervalMs: opts.heartbeatInterval,
      stepTimeoutMs: opts.timeout,
    });
  });

configureProgram(program); // --version; usage errors as one line, exit 2

program.parseAsync(process.argv).catch((err: unknown) => {
  if (reportCommandLineError('dfsd', err)) return;
  if (err instanceof AssertionFailure) {
    process.stderr.write(`dfsd: internal error (a bug): ${err.stack ?? err.message}\n`);
    process.exit(EXIT_BUG);
  }
  const e = err as Error & { code?: string };
  process.stderr.write(`dfsd: ${e instanceof DfsError ? `${e.code}: ` : ''}${e.message}\n`);
  process.exit(1);
});
