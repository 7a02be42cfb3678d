/**
 * The machinery `dfs put` and `dfs get` share (./data.ts): local file errors as typed errors,
 * the interruption of a transfer by a signal, best-effort clean-up bounded in time, the
 * progress bar's sampling, the --json result of a transfer, and copying to stdout (with the
 * binary-to-a-terminal warning of `get REMOTE -`). Split from ./data.ts so the
 * commands themselves read beside their decision table.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import { DfsError, type ErrorCode } from '../../../protocol/errors.js';
import type { DfsInputStream } from '../../client/dfs-input-stream.js';
import { downloadToStream } from '../../client/local-transfer.js';
import { ProgressBar } from '../progress.js';
import type { Command } from 'commander';
import { printError, runCommand, type CommandContext } from './command-context.js';

// The copy put and get write before renaming it onto the destination, its clean-up and the
// error wording are the client's (src/client/write-through-copy.ts), shared with WebHDFS.
export { bestEffort, COPYING_SUFFIX, withoutCopyName } from '../../client/write-through-copy.js';
const MIB = 1024 * 1024;
const PROGRESS_INTERVAL_MS = 100;

const ERRNO_CODES: Record<string, ErrorCode> = {
  ENOENT: 'NOT_FOUND',
  EEXIST: 'ALREADY_EXISTS',
  EISDIR: 'IS_A_DIRECTORY',
  ENOTDIR: 'NOT_A_DIRECTORY',
  EACCES: 'ACCESS_DENIED',
  EPERM: 'ACCESS_DENIED',
  EROFS: 'ACCESS_DENIED',
  ENOSPC: 'NO_SPACE',
  EDQUOT: 'NO_SPACE',
  ENXIO: 'INVALID_ARGUMENT', // opening a socket, or a device with nothing behind it
};

/** A local file system error as a typed error naming the local path; anything else unchanged. */
export function localError(err: unknown, localPath: string): unknown {
  const e = err as NodeJS.ErrnoException;
  if (!(err instanceof Error) || typeof e.code !== 'string' || typeof e.syscall !== 'string') return err;
  // "ENOENT: no such file or directory, open '/x'" -> "no such file or directory"
  const reason = e.message.replace(/^[A-Z]+: /, '').replace(/, \w+ '.*$/, '');
  return new DfsError(ERRNO_CODES[e.code] ?? 'INTERNAL', `local ${localPath}: ${reason}`);
}

export async function localStat(localPath: string): Promise<fs.Stats | null> {
  try {
    return await fsp.stat(localPath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw localError(err, localPath);
  }
}

const SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * Turns SIGINT / SIGTERM / SIGHUP into an abort of the running transfer, so the command can
 * clean up before it exits; a second signal exits at once. Installed for one command only.
 */
export class Interruption {
  private readonly controller = new AbortController();
  readonly signal = this.controller.signal;
  received: NodeJS.Signals | null = null;

  private readonly onSignal = (sig: NodeJS.Signals): void => {
    if (this.received !== null) process.exit(this.exitStatus); // impatient: no more clean-up
    this.received = sig;
    this.controller.abort(new Error(`interrupted by ${sig}`));
  };

  constructor() {
    for (const sig of SIGNALS) process.on(sig, this.onSignal);
  }

  /** 128 + the signal number, as a shell reports a process killed by it (SIGINT: 130). */
  get exitStatus(): number {
    return 128 + (this.received === null ? 0 : (os.constants.signals[this.received] ?? 0));
  }

  dispose(): void {
    for (const sig of SIGNALS) process.off(sig, this.onSignal);
  }
}

export interface Progress {
  /** Stops sampling and replaces the bar with a summary line. */
  finish(bytes: number): void;
  /** Stops sampling and erases the bar (before an error line). */
  clear(): void;
}

export const NO_PROGRESS: Progress = { finish: () => {}, clear: () => {} };

/** A progress bar sampling `bytesDone` 10 times a second, if stderr is a terminal and not --json. */
export function startProgress(
  ctx: CommandContext,
  label: string,
  totalBytes: number | null,
  bytesDone: () => number,
): Progress {
  if (ctx.json || process.stderr.isTTY !== true) return NO_PROGRESS;
  const bar = new ProgressBar({
    label,
    totalBytes,
    output: process.stderr,
    minIntervalMs: PROGRESS_INTERVAL_MS - 10,
  });
  bar.update(0);
  const timer = setInterval(() => bar.update(bytesDone()), PROGRESS_INTERVAL_MS);
  timer.unref();
  return {
    finish(bytes) {
      clearInterval(timer);
      bar.finish(bytes);
    },
    clear() {
      clearInterval(timer);
      bar.clear();
    },
  };
}

/** The --json result of put and get. */
export interface TransferResult {
  path: string;
  bytes: number;
  seconds: number;
  mibPerSecond: number;
}

export function transferResult(pathShown: string, bytes: number, startedMs: number): TransferResult {
  const seconds = Math.max(0, performance.now() - startedMs) / 1000;
  const mibPerSecond = seconds > 0 ? bytes / MIB / seconds : 0;
  return {
    path: pathShown,
    bytes,
    seconds: Number(seconds.toFixed(3)),
    mibPerSecond: Number(mibPerSecond.toFixed(3)),
  };
}

/**
 * Reports an interrupted transfer: one line saying what became of the destination, and the
 * exit status becomes 128 + signal (see `transfer` in ./data.ts).
 */
export function reportInterrupted(ctx: CommandContext, intr: Interruption, outcome: string): void {
  ctx.failed = true;
  printError(ctx.command, 'INTERRUPTED', `${intr.received}: transfer aborted; ${outcome}`);
}

/** How much of a file's start `looksBinary` judges it by. */
export const BINARY_SNIFF_BYTES = 8192;

/**
 * True when `head` (a file's first bytes) is not text a terminal shows as it is: it holds a
 * NUL, a control character other than tab, newline, carriage return, form feed, backspace and
 * escape (coloured logs are text), or bytes that are not UTF-8. A multi-byte character cut
 * at the end of the sample is not held against it.
 */
export function looksBinary(head: Buffer): boolean {
  const sample = head.subarray(0, BINARY_SNIFF_BYTES);
  for (const b of sample) {
    if (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d && b !== 0x0c && b !== 0x08 && b !== 0x1b)
      return true;
    if (b === 0x7f) return true;
  }
  // Trim up to 3 bytes of a sequence cut by the sample's end, then ask for strict UTF-8.
  let end = sample.length;
  for (let back = 1; back <= 3 && end - back >= 0; back++) {
    const b = sample[end - back]!;
    if ((b & 0xc0) !== 0x80) {
      const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
      if (need > back) end -= back;
      break;
    }
  }
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(sample.subarray(0, end));
    return false;
  } catch {
    return true;
  }
}

/**
 * The decision of `get REMOTE -`: the warning to print on stderr before the first byte goes
 * out, or null. Only a terminal is warned about (a pipe or a file wants the bytes as they
 * are), and only when the file looks binary, which would fill the screen with garbage and can
 * send the terminal control sequences.
 */
export function binaryToTerminalWarning(remote: string, stdoutIsTTY: boolean, head: Buffer): string | null {
  if (!stdoutIsTTY || !looksBinary(head)) return null;
  return `${remote} looks like binary data and stdout is a terminal; writing it anyway (redirect stdout, or use dfs get ${remote} LOCAL)`;
}

/**
 * Copies `input` to stdout, each packet once the one before is written (which also waits out
 * a full pipe), its memory then reused (src/client/local-transfer.ts). Returns the bytes copied.
 */
export function copyToStdout(
  input: DfsInputStream,
  signal?: AbortSignal,
  beforeFirst?: (head: Buffer) => void,
): Promise<number> {
  return downloadToStream(input, process.stdout, signal, beforeFirst);
}

/**
 * Runs a transfer command: signals abort it (instead of killing the process mid-write), and
 * an interrupted command exits with 128 + the signal number once it has cleaned up.
 */
export function runTransfer(
  cmd: Command,
  body: (ctx: CommandContext, intr: Interruption) => Promise<void>,
): Promise<void> {
  const intr = new Interruption();
  return runCommand(cmd, (ctx) => body(ctx, intr)).finally(() => {
    intr.dispose();
    if (intr.received !== null) process.exit(intr.exitStatus);
  });
}
