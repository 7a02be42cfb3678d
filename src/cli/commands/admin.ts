/**
 * `dfs admin`: the operator commands (HDFS `hdfs dfsadmin`).
 *
 *   admin safemode get|enter|leave|wait [--timeout T]       read or change safe mode; wait until off
 *   admin report                                            DataNodes, capacity, block health counts
 *   admin decommission NODE [--wait [--timeout T]]          drain a DataNode (NODE = HOST:PORT or id)
 *   admin recommission NODE                                 return it to service
 *   admin trigger-block-report NODE [--wait [--timeout T]]  ask a DataNode for a full block report now
 *   admin ha status|failover                                NameNode HA on etcd (./ha.ts)
 *
 * Every `dfs admin` command connects with the handshake role ADMIN: the NameNode refuses
 * safe mode enter/leave, (re|de)commissioning and triggerBlockReport on CLIENT connections
 * (ACCESS_DENIED). The role is a guard against a stray client call, not security: there is
 * no authentication yet.
 *
 * Waits poll the NameNode (./waiting.ts) and show a status line on stderr when it is a
 * terminal. `--timeout` bounds them; without it they wait as long as it takes (like HDFS).
 * A timed-out wait fails with TIMEOUT and exit status 1.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { DfsError } from '../../../protocol/errors.js';
import { Role } from '../../../protocol/handshake.js';
import {
  DatanodeReportState,
  type DatanodeReportEntry,
  type SafeModeResponse,
} from '../../../protocol/admin-namenode-messages.js';
import {
  drainLine,
  formatBlockReport,
  formatReport,
  nodeStateName,
  nodeTotals,
  reportNode,
  type ClusterReport,
} from '../admin-format.js';
import { formatKeyValues } from '../format.js';
import { runCommand, type CommandContext } from './command-context.js';
import { registerHaCommands } from './ha.js';
import { registerQuotaCommands } from './quota.js';
import { pollUntil, timeoutArg } from './waiting.js';

const SAFEMODE_ACTIONS = ['get', 'enter', 'leave', 'wait'] as const;
type SafeModeVerb = (typeof SAFEMODE_ACTIONS)[number];

function safeModeActionArg(value: string): SafeModeVerb {
  if (!(SAFEMODE_ACTIONS as readonly string[]).includes(value))
    throw new InvalidArgumentError(`must be one of ${SAFEMODE_ACTIONS.join(', ')}`);
  return value as SafeModeVerb;
}

/** Runs an admin command on an ADMIN connection. */
function runAdmin(cmd: Command, body: (ctx: CommandContext) => Promise<void>): Promise<void> {
  return runCommand(cmd, body, { role: Role.ADMIN });
}

// ---- safemode ---------------------------------------------------------------------------

async function printSafeMode(ctx: CommandContext, s: SafeModeResponse): Promise<void> {
  if (ctx.json) await ctx.writeJson(s);
  else
    await ctx.writeLines([
      s.on
        ? `Safe mode is ON${s.status.replace(/^safe mode is on:?/i, '').replace(/^ (?!\()/, ': ')}`
        : 'Safe mode is OFF',
    ]);
}

async function safemode(
  ctx: CommandContext,
  action: SafeModeVerb,
  timeoutMs: number | undefined,
): Promise<void> {
  if (action !== 'wait') {
    await printSafeMode(ctx, await ctx.client.safeMode(action));
    return;
  }
  let last: SafeModeResponse | null = null;
  await pollUntil(
    'safe mode to be off',
    async () => {
      last = await ctx.client.safeMode('get');
      return { done: !last.on, status: last.status };
    },
    { timeoutMs, json: ctx.json },
  );
  await printSafeMode(ctx, last!);
}

// ---- report -----------------------------------------------------------------------------

async function report(ctx: CommandContext): Promise<void> {
  const [nodes, stats, info] = await Promise.all([
    ctx.client.datanodeReport(),
    ctx.client.replicationStats(),
    ctx.client.serverInfo(),
  ]);
  const sorted = [...nodes].sort((a, b) => (a.host === b.host ? a.port - b.port : a.host < b.host ? -1 : 1));
  const r: ClusterReport = {
    namenode: ctx.client.namenode,
    safeMode: info.safeMode,
    ...nodeTotals(sorted),
    blocks: info.blockCount,
    ...stats,
    nodes: sorted.map(reportNode),
  };
  if (ctx.json) await ctx.writeJson(r);
  else await ctx.writeLines(formatReport(r));
}

// ---- decommission, recommission ----------------------------------------------------------

function findNode(nodes: readonly DatanodeReportEntry[], node: string): DatanodeReportEntry {
  const found = nodes.find((n) => n.nodeId === node || `${n.host}:${n.port}` === node);
  if (found === undefined)
    throw new DfsError(
      'NOT_FOUND',
      `no DataNode ${node} in the NameNode's report (give HOST:PORT or a node id, see dfs admin report)`,
    );
  return found;
}

async function printNode(ctx: CommandContext, n: DatanodeReportEntry): Promise<void> {
  const shown = reportNode(n);
  if (ctx.json)
    await ctx.writeJson({
      nodeId: shown.nodeId,
      address: shown.address,
      state: shown.state,
      blockCount: shown.blockCount,
      drainBlocks: shown.drainBlocks,
      drainStuckBlocks: shown.drainStuckBlocks,
    });
  else
    await ctx.writeLines([
      ...formatKeyValues([
        ['node', shown.nodeId],
        ['address', shown.address],
        ['state', shown.state],
        ['blocks', String(shown.blockCount)],
      ]),
      ...(shown.state === 'decommissioning' ? [drainLine(shown)] : []),
    ]);
}

async function decommission(
  ctx: CommandContext,
  node: string,
  options: { wait?: boolean; timeout?: number },
): Promise<void> {
  await ctx.client.decommission(node, true);
  let last = findNode(await ctx.client.datanodeReport(), node);
  if (options.wait === true) {
    await pollUntil(
      `${node} to be decommissioned`,
      async () => {
        const [nodes, stats] = await Promise.all([
          ctx.client.datanodeReport(),
          ctx.client.replicationStats(),
        ]);
        last = findNode(nodes, node);
        return {
          done: last.state === DatanodeReportState.DECOMMISSIONED,
          status:
            last.state === DatanodeReportState.DECOMMISSIONING
              ? `${drainLine(last)}; ${stats.pendingCopies} copies under way in the cluster`
              : `${nodeStateName(last.state)}, ${stats.underReplicated} under-replicated blocks in the cluster, ${stats.pendingCopies} copies under way`,
        };
      },
      { timeoutMs: options.timeout, json: ctx.json },
    );
  }
  await printNode(ctx, last);
}

async function recommission(ctx: CommandContext, node: string): Promise<void> {
  await ctx.client.decommission(node, false);
  const nodes = await ctx.client.datanodeReport();
  // A node remembered from before a NameNode restart may not have registered again yet.
  const n = nodes.find((e) => e.nodeId === node || `${e.host}:${e.port}` === node);
  if (n !== undefined) await printNode(ctx, n);
  else if (ctx.json) await ctx.writeJson({ nodeId: node, address: node, state: 'unregistered' });
  else await ctx.writeLines([`${node}: recommissioned (not registered at the moment)`]);
}

// ---- trigger-block-report ---------------------------------------------------------------

/**
 * The NameNode queues BLOCK_REPORT for the node's next heartbeat and answers with the time
 * of the report it had before; with --wait, a later one in datanodeReport is the one asked for.
 */
async function triggerBlockReport(
  ctx: CommandContext,
  node: string,
  options: { wait?: boolean; timeout?: number },
): Promise<void> {
  const asked = await ctx.client.namenodeClient.triggerBlockReport({ node });
  let last = findNode(await ctx.client.datanodeReport(), asked.nodeId);
  const address = `${last.host}:${last.port}`;
  if (options.wait === true) {
    await pollUntil(
      `a full block report from ${address}`,
      async () => {
        last = findNode(await ctx.client.datanodeReport(), asked.nodeId);
        return {
          done: last.lastBlockReportMs > asked.lastBlockReportMs,
          status: `${nodeStateName(last.state)}, last full report: ${formatBlockReport(last.lastBlockReportMs, last.lastBlockReportBlocks)}`,
        };
      },
      { timeoutMs: options.timeout, json: ctx.json },
    );
  }
  if (ctx.json) {
    await ctx.writeJson({
      nodeId: asked.nodeId,
      address,
      previousBlockReportMs: asked.lastBlockReportMs,
      lastBlockReportMs: last.lastBlockReportMs,
      lastBlockReportBlocks: last.lastBlockReportBlocks,
      waited: options.wait === true,
    });
    return;
  }
  const lines = [`Block report requested: ${address} (${asked.nodeId})`];
  if (options.wait === true)
    lines.push(
      `Block report processed: ${formatBlockReport(last.lastBlockReportMs, last.lastBlockReportBlocks)}`,
    );
  await ctx.writeLines(lines);
}

// ---- registration -----------------------------------------------------------------------

export function registerAdminCommands(program: Command): void {
  const admin = program
    .command('admin')
    .description(
      'operator commands: safe mode, cluster report, decommissioning, block reports (connects with role ADMIN)',
    )
    .addHelpText(
      'after',
      '\nEvery admin command connects with the handshake role ADMIN, which the NameNode requires for\nsafe mode enter/leave, decommission/recommission, trigger-block-report and the quota commands.',
    );

  admin
    .command('safemode')
    .description('show safe mode (get), enter or leave it, or wait until it is off')
    .argument('<action>', 'get, enter, leave or wait', safeModeActionArg)
    .option(
      '--timeout <duration>',
      'wait: give up after this long (seconds, or 500ms, 30s, 5m, 1h); default: no limit',
      timeoutArg,
    )
    .addHelpText(
      'after',
      '\nWhile safe mode is on the NameNode refuses mutations (SAFE_MODE). After a start it leaves safe mode' +
        '\non its own once enough blocks are reported; safe mode entered by an operator lasts until "leave".' +
        '\nwait: exit 0 once safe mode is off; TIMEOUT and exit 1 if --timeout passes first.' +
        '\nWith --json: {"on", "manual", "reportedBlocks", "totalBlocks", "status"} (the state after the action).',
    )
    .action((action: SafeModeVerb, options: { timeout?: number }, cmd: Command) =>
      runAdmin(cmd, (ctx) => safemode(ctx, action, options.timeout)),
    );

  admin
    .command('report')
    .description(
      'show every DataNode (state, capacity, used, remaining, blocks, failed volumes, last heartbeat, last full block report), cluster totals and block health counts',
    )
    .addHelpText(
      'after',
      '\nStates: live, dead, decommissioning (draining; replicas still readable), decommissioned.' +
        '\nCapacity totals count the nodes that are not dead. LAST BLOCK REPORT is when the NameNode processed the' +
        '\nnode\'s last full report (UTC) and how many replicas it listed; "never" until one came since it registered.' +
        '\nFAILED VOLS counts the data directories the node took out of service after I/O errors (not in its capacity).' +
        '\nWith --json: {"namenode", "safeMode", "live", "dead", "decommissioning", "decommissioned", "capacityBytes",' +
        '\n"usedBytes", "remainingBytes", "usedPercent", "failedVolumes", "blocks", "underReplicated", "corrupt", "missing", "pendingCopies",' +
        '\n"corruptBlockIds", "missingBlockIds", "nodes": [{"nodeId", "host", "port", "address", "state", "capacityBytes",' +
        '\n"usedBytes", "remainingBytes", "usedPercent", "failedVolumes", "blockCount", "activeTransfers", "lastHeartbeatAgoMs",' +
        '\n"lastBlockReportMs" (ms since the epoch, NameNode clock; 0 = never), "lastBlockReportBlocks"}]}.',
    )
    .action((_options: unknown, cmd: Command) => runAdmin(cmd, (ctx) => report(ctx)));

  admin
    .command('decommission')
    .description('drain a DataNode: its blocks are copied elsewhere, then it is marked decommissioned')
    .argument('<node>', 'HOST:PORT (as dfs admin report shows it) or node id')
    .option('-w, --wait', 'wait until the node is decommissioned')
    .option(
      '--timeout <duration>',
      'with --wait: give up after this long (seconds, or 30s, 5m, 1h); default: no limit',
      timeoutArg,
    )
    .addHelpText(
      'after',
      '\nWhile draining, the node still serves reads but its replicas no longer count. The decommissioned set' +
        "\nis kept in the NameNode's name directory, so it survives a NameNode restart." +
        '\nWith --json: {"nodeId", "address", "state", "blockCount"} once requested (with --wait: once decommissioned).',
    )
    .action((node: string, options: { wait?: boolean; timeout?: number }, cmd: Command) =>
      runAdmin(cmd, (ctx) => decommission(ctx, node, options)),
    );

  admin
    .command('recommission')
    .description('return a decommissioning or decommissioned DataNode to service')
    .argument('<node>', 'HOST:PORT or node id')
    .addHelpText(
      'after',
      '\nSurplus replicas (now that its copies count again) are removed by the NameNode.\nWith --json: {"nodeId", "address", "state", "blockCount"}.',
    )
    .action((node: string, _options: unknown, cmd: Command) =>
      runAdmin(cmd, (ctx) => recommission(ctx, node)),
    );

  registerQuotaCommands(admin);
  registerHaCommands(admin);

  admin
    .command('trigger-block-report')
    .description('ask a DataNode for a full block report now (HDFS dfsadmin -triggerBlockReport)')
    .argument('<node>', 'HOST:PORT (as dfs admin report shows it) or node id')
    .option('-w, --wait', 'wait until the NameNode has processed the report')
    .option(
      '--timeout <duration>',
      'with --wait: give up after this long (seconds, or 30s, 5m, 1h); default: no limit',
      timeoutArg,
    )
    .addHelpText(
      'after',
      "\nThe NameNode sends the request with the node's next heartbeat answer; the report then replaces what it" +
        "\nknew of the node's replicas. NOT_FOUND for a node that is not registered, DATANODE_DEAD for a dead one." +
        '\nWith --json: {"nodeId", "address", "previousBlockReportMs", "lastBlockReportMs", "lastBlockReportBlocks",' +
        '\n"waited"}: the report before the request, and the last one the NameNode shows (with --wait: the new one).',
    )
    .action((node: string, options: { wait?: boolean; timeout?: number }, cmd: Command) =>
      runAdmin(cmd, (ctx) => triggerBlockReport(ctx, node, options)),
    );
}
