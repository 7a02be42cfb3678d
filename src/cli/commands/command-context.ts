/**
 * What every `dfs` subcommand shares: the global options, one DfsClient that is always
 * closed (so the process exits as soon as the work is done), buffered stdout with
 * backpressure, and the one error line format.
 *
 * Error contract (also in `dfs --help`):
 *   - every error is ONE line on stderr: `dfs: <command>: <CODE>: <message>`;
 *   - exit status 0 when everything succeeded, 1 when a DFS operation failed, 2 for usage
 *     errors (bad flags, missing arguments, a malformed --namenode address), 70 for a failed
 *     assertion (a bug in dfs itself; its stack is printed);
 *   - multi-path commands (ls, mkdir, rm) report a failed path and go on with the next one,
 *     except after CONNECTION or TIMEOUT, which end the command (the NameNode is gone);
 *   - with --json, stdout carries only results (never error objects): one JSON document for
 *     what succeeded. Multi-path commands always print their document; stat, mv and info
 *     print nothing when they fail. Scripts read the exit status, and stderr for the reason.
 */
import { once } from 'node:events';
import type { Command } from 'commander';
import { AssertionFailure, DfsError, isDfsError } from '../../../protocol/errors.js';
import { EXIT_BUG } from '../../common/crash.js';
import { Role } from '../../../protocol/handshake.js';
import { DfsClient, namenodeAddressFrom, umaskFrom } from '../../client/dfs-client.js';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

export interface GlobalOptions {
  namenode?: string;
  json?: boolean;
  user?: string;
  umask?: string;
}

/** A usage error found by the CLI itself (commander's own errors are mapped in dfs.ts). */
export class UsageError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Writes `dfs: <command>: <CODE>: <message>` to stderr. Messages are kept to one line. */
export function printError(command: string | null, code: string, message: string): void {
  const oneLine = message.replace(/\s*\n\s*/g, ' ').trim();
  process.stderr.write(`dfs: ${command === null ? '' : `${command}: `}${code}: ${oneLine}\n`);
}

/** The code and message to show for anything thrown: typed errors keep their code. */
export function describeError(err: unknown): { code: string; message: string } {
  if (err instanceof DfsError || err instanceof UsageError) return { code: err.code, message: err.message };
  if (err instanceof Error)
    return { code: 'INTERNAL', message: process.env.DFS_DEBUG ? (err.stack ?? err.message) : err.message };
  return { code: 'INTERNAL', message: String(err) };
}

/**
 * Buffered stdout. Lines collect in a string and go out in ~64 KiB writes; when the pipe is
 * full, `write` waits for 'drain' so a huge recursive listing never piles up in memory.
 */
export class Output {
  private buffered = '';
  private static readonly FLUSH_CHARS = 64 * 1024;

  constructor(private readonly stream: NodeJS.WriteStream = process.stdout) {}

  async write(text: string): Promise<void> {
    this.buffered += text;
    if (this.buffered.length >= Output.FLUSH_CHARS) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.buffered.length === 0) return;
    const text = this.buffered;
    this.buffered = '';
    if (!this.stream.write(text)) await once(this.stream, 'drain');
  }
}

/** Path operands: repeated and trailing slashes are forgiven (`/a//b/` is `/a/b`), nothing else. */
export function normalizePath(path: string): string {
  if (!path.includes('/')) return path;
  const collapsed = path.replace(/\/{2,}/g, '/');
  return collapsed.length > 1 && collapsed.endsWith('/') ? collapsed.slice(0, -1) : collapsed;
}

export function joinChild(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

/**
 * `fn` over `items`, at most `size` calls in flight (pipelined on the one NameNode
 * connection), results in the order of `items`.
 */
export async function mapInBatches<T, R>(
  items: readonly T[],
  size: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += size)
    out.push(...(await Promise.all(items.slice(i, i + size).map(fn))));
  return out;
}

/** True for errors after which talking to the NameNode again is pointless. */
export function isFatal(err: unknown): boolean {
  return isDfsError(err, 'CONNECTION') || isDfsError(err, 'TIMEOUT') || !(err instanceof DfsError);
}

export class CommandContext {
  /** Set once any operation failed; the exit status becomes 1. */
  failed = false;
  /** Operations that failed and were reported (fsck counts the paths it could not check). */
  errorCount = 0;
  readonly out = new Output();

  constructor(
    readonly command: string,
    readonly client: DfsClient,
    readonly json: boolean,
  ) {}

  /** Reports one failed operation and remembers the failure. */
  reportError(err: unknown): void {
    this.failed = true;
    this.errorCount++;
    const { code, message } = describeError(err);
    printError(this.command, code, message);
  }

  /** Writes one JSON document (a line) to stdout. */
  async writeJson(value: unknown): Promise<void> {
    await this.out.write(`${JSON.stringify(value)}\n`);
  }

  async writeLines(lines: readonly string[]): Promise<void> {
    if (lines.length > 0) await this.out.write(`${lines.join('\n')}\n`);
  }
}

/** The name errors show: `ls` for a top-level command, `admin safemode` for a nested one. */
export function commandName(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c !== null && c.parent !== null; c = c.parent) names.unshift(c.name());
  return names.length === 0 ? cmd.name() : names.join(' ');
}

/**
 * Runs one subcommand: resolves the global options, opens a client (with the handshake
 * `role`: ADMIN for `dfs admin`), runs `body`, flushes stdout, closes the client and sets the
 * exit status. Never throws for DFS errors.
 */
export async function runCommand(
  cmd: Command,
  body: (ctx: CommandContext) => Promise<void>,
  options: { role?: Role } = {},
): Promise<void> {
  const name = commandName(cmd);
  const globals = cmd.optsWithGlobals<GlobalOptions>();
  try {
    namenodeAddressFrom(globals.namenode); // a malformed address is a usage error, not a DFS one
  } catch (err) {
    const { code, message } = describeError(err);
    printError(
      name,
      code,
      `${message} (from ${globals.namenode !== undefined ? '--namenode' : 'DFS_NAMENODE'})`,
    );
    process.exitCode = EXIT_USAGE;
    return;
  }
  let client: DfsClient;
  try {
    client = new DfsClient({
      ...(globals.namenode !== undefined ? { namenode: globals.namenode } : {}),
      ...(globals.user !== undefined ? { user: globals.user } : {}),
      ...(globals.umask !== undefined ? { umask: umaskFrom(globals.umask) } : {}),
      role: options.role ?? Role.CLIENT,
    });
  } catch (err) {
    const { message } = describeError(err);
    printError(name, 'USAGE', message);
    process.exitCode = EXIT_USAGE;
    return;
  }
  const ctx = new CommandContext(name, client, globals.json === true);
  let usage = false;
  let bug: AssertionFailure | null = null;
  try {
    await body(ctx);
  } catch (err) {
    if (err instanceof AssertionFailure) bug = err;
    else {
      usage = err instanceof UsageError;
      ctx.reportError(err);
    }
  } finally {
    client.close();
  }
  await ctx.out.flush();
  if (bug !== null) {
    // Our own bug, not a DFS error: the stack goes with it, and the status says so (70).
    process.stderr.write(`dfs: ${name}: internal error (a bug in dfs): ${bug.stack ?? bug.message}\n`);
    process.exitCode = EXIT_BUG;
    return;
  }
  process.exitCode = usage ? EXIT_USAGE : ctx.failed ? EXIT_FAILED : EXIT_OK;
}
