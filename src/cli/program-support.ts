/**
 * What the three programs `dfs`, `dfsd` and `dfs-bench` share on their command line:
 *
 *   - `--version` prints package.json's version (the one a user installed) and exits 0;
 *   - a usage error (unknown command or option, a missing or malformed argument) is ONE line
 *     on stderr, `<program>: [<command>: ]USAGE: <message> (see <program> [<command>] --help)`,
 *     and exit status 2, as `dfs` documents for all its errors (./commands/command-context.ts);
 *   - a reader that leaves early (`dfs ls -R / | head`, `dfs-bench --help | head`) ends the
 *     program quietly (`exitOnClosedStdout`), not with a stack trace.
 *
 * Commander would print "error: ..." and often the whole help after it; instead every command,
 * nested ones too, gets an exitOverride that throws a `CommandLineError` naming the command,
 * and the program's top-level catch hands it to `reportCommandLineError`.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Command, CommanderError } from 'commander';
import { REPO_ROOT } from '../local/daemon-process.js';

export const EXIT_USAGE = 2;

/** package.json's `version`, read once (the file sits at the root of the source tree and of the package). */
export const PACKAGE_VERSION = ((): string => {
  const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
    version?: unknown;
  };
  return typeof pkg.version === 'string' ? pkg.version : 'unknown';
})();

/** Thrown by our exitOverride, so the top-level catch knows which command a usage error came from. */
export class CommandLineError extends Error {
  constructor(
    /** `ls`, `admin safemode`; null for the program itself. */
    readonly command: string | null,
    readonly inner: CommanderError,
  ) {
    super(inner.message);
  }
}

/** The name a usage error shows: `ls` for a top-level command, `admin safemode` for a nested one. */
function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c !== null && c.parent !== null; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/**
 * Standard output's reader left (EPIPE): that is not the program's failure, so it exits at
 * once with the status it had (0 unless it already failed), as `cat | head` does.
 */
export function exitOnClosedStdout(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

/**
 * Adds `--version` and turns commander's own error output into our one-line format. Call it
 * once every command is registered (it walks them all).
 */
export function configureProgram(program: Command): void {
  program.version(PACKAGE_VERSION, '--version', 'print the version and exit');
  const override = (cmd: Command, name: string | null): void => {
    cmd.configureOutput({ outputError: () => {} });
    cmd.exitOverride((err) => {
      throw new CommandLineError(name, err);
    });
    for (const sub of cmd.commands) override(sub, commandPath(sub));
  };
  override(program, null);
}

/**
 * Reports what commander threw: nothing for help or version (already printed; their exit
 * status kept), else the one usage line and exit status 2. Returns false for anything that is
 * not a CommandLineError, which the caller then reports itself.
 */
export function reportCommandLineError(program: string, err: unknown): boolean {
  if (!(err instanceof CommandLineError)) return false;
  const { exitCode, code, message } = err.inner;
  if (exitCode === 0 || code === 'commander.helpDisplayed' || code === 'commander.version') {
    process.exitCode = exitCode;
  } else if (code === 'commander.help') {
    process.exitCode = EXIT_USAGE; // the program alone, no command: commander printed the help
  } else {
    const where = err.command === null ? '' : `${err.command}: `;
    const hint = err.command === null ? `${program} --help` : `${program} ${err.command} --help`;
    const text = message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ');
    process.stderr.write(`${program}: ${where}USAGE: ${text} (see ${hint})\n`);
    process.exitCode = EXIT_USAGE;
  }
  return true;
}
