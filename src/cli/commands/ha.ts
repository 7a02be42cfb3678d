/**
 * `dfs admin ha`: NameNode HA on etcd for the operator (issue 14; HDFS `hdfs haadmin`).
 *
 *   admin ha status [--json]                       each configured NameNode: role, epoch, txid, lag
 *   admin ha failover [--to ID] [--timeout T]      graceful hand-over to a standby; waits for it
 *
 * Both ask every NameNode of `--namenode` (or DFS_NAMENODE) on its own ADMIN connection
 * (`haStatus`, served by standbys too: src/namenode/ha-admin.ts), so one that is down shows
 * as unreachable instead of failing the command. Lag is how many transactions a NameNode has
 * applied fewer than the active (or than the journal head when no active answers).
 *
 * Failover asks the active (`haFailover`); it stops serving, lets its journal writes finish,
 * answers and resigns its leader key; the command then polls until another NameNode answers
 * as the active with a higher epoch (bounded by --timeout, 30 s by default) and prints it.
 * The old active exits with status 2 after the hand-over, like any active that steps down;
 * systemd (`Restart=on-failure`) starts it again as a standby.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { DfsError, isDfsError, rethrowIfBug } from '../../../protocol/errors.js';
import { HaRole, type HaStatusResponse } from '../../../protocol/ha-admin-messages.js';
import { Role } from '../../../protocol/handshake.js';
import { DfsClient, namenodeAddressesFrom } from '../../client/dfs-client.js';
import { alignColumns } from '../format.js';
import { describeError, runCommand, type CommandContext, type GlobalOptions } from './command-context.js';
import { pollUntil, timeoutArg } from './waiting.js';

const STATUS_TIMEOUT_MS = 5_000;
const FAILOVER_TIMEOUT_MS = 30_000;

const ROLE_NAMES: Record<number, string> = {
  [HaRole.SINGLE]: 'single',
  [HaRole.ACTIVE]: 'active',
  [HaRole.STANDBY]: 'standby',
  [HaRole.STOPPING]: 'stopping',
};

/** One NameNode as `ha status` shows it. */
export interface HaNodeStatus {
  address: string;
  /** active, standby, single (no HA), stopping, unreachable, or role-N for a role this CLI does not know. */
  role: string;
  nodeId: string;
  epoch: number;
  lastAppliedTxid: number;
  journalHeadTxid: number;
  /** Transactions behind the active (or the journal head); 0 for the active. */
  lagTxids: number;
  /** The active this NameNode knows of (the leader key), "" if none. */
  activeId: string;
  error?: string;
}

function roleName(role: number): string {
  return ROLE_NAMES[role] ?? `role-${role}`;
}

/** The configured NameNodes, "host:port" each. */
function addressesOf(cmd: Command): string[] {
  return namenodeAddressesFrom(cmd.optsWithGlobals<GlobalOptions>().namenode).map(({ host, port }) =>
    host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`,
  );
}

/** Asks `address` alone (no failover) for its HA status. */
async function askOne(ctx: CommandContext, address: string): Promise<HaStatusResponse> {
  const client = new DfsClient({
    namenode: address,
    user: ctx.client.user,
    role: Role.ADMIN,
    requestTimeoutMs: STATUS_TIMEOUT_MS,
  });
  try {
    return await client.namenodeClient.haStatus();
  } finally {
    client.close();
  }
}

/** Every configured NameNode's status, in the configured order; lag against the active. */
export async function haStatuses(ctx: CommandContext, addresses: readonly string[]): Promise<HaNodeStatus[]> {
  const answers = await Promise.all(
    addresses.map((a) =>
      askOne(ctx, a).then(
        (s) => ({ address: a, s, error: undefined }),
        (err: unknown) => {
          rethrowIfBug(err);
          // Not a NameNode that is down: the caller may not ask (dfs admin needs a superuser).
          if (isDfsError(err, 'ACCESS_DENIED')) throw err;
          const { code, message } = describeError(err);
          return { address: a, s: undefined, error: `${code}: ${message}` };
        },
      ),
    ),
  );
  const active = activeOf(answers.flatMap((x) => (x.s === undefined ? [] : [x.s])));
  return answers.map(({ address, s, error }) => {
    if (s === undefined)
      return {
        address,
        role: 'unreachable',
        nodeId: '',
        epoch: 0,
        lastAppliedTxid: 0,
        journalHeadTxid: 0,
        lagTxids: 0,
        activeId: '',
        error: error ?? '',
      };
    const ahead = active?.lastAppliedTxid ?? s.journalHeadTxid;
    return {
      address,
      role: roleName(s.role),
      nodeId: s.nodeId,
      epoch: s.epoch,
      lastAppliedTxid: s.lastAppliedTxid,
      journalHeadTxid: s.journalHeadTxid,
      lagTxids: Math.max(0, ahead - s.lastAppliedTxid),
      activeId: s.activeId,
    };
  });
}

/** The active among the answers: the highest epoch if two claim it (one is about to find it lost). */
function activeOf(answers: readonly HaStatusResponse[]): HaStatusResponse | undefined {
  let best: HaStatusResponse | undefined;
  for (const s of answers)
    if (
      (s.role === HaRole.ACTIVE || s.role === HaRole.SINGLE) &&
      (best === undefined || s.epoch > best.epoch)
    )
      best = s;
  return best;
}

function activeIn(nodes: readonly HaNodeStatus[]): HaNodeStatus | undefined {
  const serving = nodes.filter((n) => n.role === 'active' || n.role === 'single');
  return serving.sort((a, b) => b.epoch - a.epoch)[0];
}

async function status(ctx: CommandContext, addresses: readonly string[]): Promise<void> {
  const nodes = await haStatuses(ctx, addresses);
  const active = activeIn(nodes);
  if (ctx.json) await ctx.writeJson({ active: active?.address ?? null, namenodes: nodes });
  else {
    const rows = [['NAMENODE', 'ADDRESS', 'ROLE', 'EPOCH', 'APPLIED TXID', 'LAG', 'NOTE']];
    for (const n of nodes)
      rows.push([
        n.nodeId || '-',
        n.address,
        n.role,
        n.role === 'unreachable' ? '-' : String(n.epoch),
        n.role === 'unreachable' ? '-' : String(n.lastAppliedTxid),
        n.role === 'unreachable' ? '-' : String(n.lagTxids),
        n.error ?? (n.role === 'standby' && n.activeId !== '' ? `follows ${n.activeId}` : ''),
      ]);
    await ctx.writeLines(alignColumns(rows, ['left', 'left', 'left', 'right', 'right', 'right', 'left']));
  }
  if (active === undefined) ctx.reportError(new DfsError('STANDBY', 'no NameNode is active'));
}

async function failover(
  ctx: CommandContext,
  addresses: readonly string[],
  options: { to?: string; timeout?: number },
): Promise<void> {
  const started = Date.now();
  const before = await haStatuses(ctx, addresses);
  const from = activeIn(before);
  if (from === undefined || from.role !== 'active')
    throw new DfsError(
      from === undefined ? 'STANDBY' : 'INVALID_ARGUMENT',
      from === undefined ? 'no NameNode is active: nothing to hand over' : 'no HA: the NameNode serves alone',
    );
  const target = options.to ?? '';
  const standbys = before.filter((n) => n.role === 'standby');
  if (target !== '' && !standbys.some((n) => n.nodeId === target))
    throw new DfsError(
      'INVALID_ARGUMENT',
      `--to ${target}: not a standby that answers (standbys: ${standbys.map((n) => n.nodeId).join(', ') || 'none'})`,
    );
  if (standbys.length === 0)
    throw new DfsError('INVALID_ARGUMENT', 'no standby answers: nobody could take over');
  const client = new DfsClient({ namenode: from.address, user: ctx.client.user, role: Role.ADMIN });
  try {
    await client.namenodeClient.haFailover({ target });
  } finally {
    client.close();
  }
  let to: HaNodeStatus | undefined;
  await pollUntil(
    `a new active NameNode after ${from.nodeId}`,
    async () => {
      const now = await haStatuses(
        ctx,
        addresses.filter((a) => a !== from.address),
      );
      to = now.find(
        (n) => n.role === 'active' && n.epoch > from.epoch && (target === '' || n.nodeId === target),
      );
      return {
        done: to !== undefined,
        status: now.map((n) => `${n.nodeId || n.address}: ${n.role}`).join(', '),
      };
    },
    { timeoutMs: options.timeout ?? FAILOVER_TIMEOUT_MS, json: ctx.json },
  );
  const ms = Date.now() - started;
  const side = (n: HaNodeStatus): { nodeId: string; address: string; epoch: number } => ({
    nodeId: n.nodeId,
    address: n.address,
    epoch: n.epoch,
  });
  if (ctx.json) await ctx.writeJson({ from: side(from), to: side(to!), ms });
  else
    await ctx.writeLines([
      `Failover: ${from.nodeId} (${from.address}, epoch ${from.epoch}) -> ${to!.nodeId} (${to!.address}, epoch ${to!.epoch}) in ${(ms / 1000).toFixed(1)} s`,
      `${from.nodeId} stops after handing over (exit status 2); its service manager starts it again as a standby.`,
    ]);
}

function nodeIdArg(value: string): string {
  if (value.trim() === '') throw new InvalidArgumentError('must be a NameNode id');
  return value.trim();
}

export function registerHaCommands(admin: Command): void {
  const ha = admin
    .command('ha')
    .description('NameNode high availability on etcd: status of every NameNode, graceful failover');

  ha.command('status')
    .description(
      "each configured NameNode's role (active, standby, unreachable), epoch, applied txid and lag",
    )
    .addHelpText(
      'after',
      '\nAsks every NameNode of --namenode (or DFS_NAMENODE) on its own. LAG is how many transactions it has' +
        '\napplied fewer than the active (or the etcd journal head when no active answers). Exit status 1 when' +
        '\nno NameNode is active. Roles: active, standby, stopping (stepped down, about to exit), single (no HA),' +
        '\nunreachable. With --json: {"active" (its address or null), "namenodes": [{"address", "role", "nodeId",' +
        '\n"epoch", "lastAppliedTxid", "journalHeadTxid", "lagTxids", "activeId", "error"}]}.',
    )
    .action((_options: unknown, cmd: Command) =>
      runCommand(cmd, (ctx) => status(ctx, addressesOf(cmd)), { role: Role.ADMIN }),
    );

  ha.command('failover')
    .description('hand the active role over to a standby and wait until it serves (HDFS haadmin -failover)')
    .option('--to <nodeId>', 'the standby that should take over (default: whichever wins)', nodeIdArg)
    .option(
      '--timeout <duration>',
      'give up waiting for the new active after this long (default 30s)',
      timeoutArg,
    )
    .addHelpText(
      'after',
      '\nThe active stops serving (clients move on to the other NameNodes), lets its journal writes finish,' +
        '\nthen resigns its etcd leader key; a standby takes over with a higher epoch. The old active then exits' +
        '\n(status 2) like any active that steps down, and systemd (Restart=on-failure) starts it again as a' +
        '\nstandby. With --json: {"from": {"nodeId", "address", "epoch"}, "to": {...}, "ms"}.',
    )
    .action((options: { to?: string; timeout?: number }, cmd: Command) =>
      runCommand(cmd, (ctx) => failover(ctx, addressesOf(cmd), options), { role: Role.ADMIN }),
    );
}
