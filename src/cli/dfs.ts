/**
 * `dfs`: the user command line. Global options (`--namenode`, `--json`) apply to every
 * subcommand and may appear before or after it. Command groups live in ./commands/; this
 * file builds the program (`--version` and one-line usage errors with exit status 2 come
 * from ./program-support.ts, shared with dfsd and dfs-bench), and makes sure the process ends promptly once the command is done.
 */
import { Command } from 'commander';
import { DEFAULT_NAMENODE_PORT } from '../common/config.js';
import { registerAdminCommands } from './commands/admin.js';
import { EXIT_FAILED, describeError, printError } from './commands/command-context.js';
import { registerDataCommands } from './commands/data.js';
import { registerSpaceCommands } from './commands/space.js';
import { registerFsckCommand } from './commands/fsck.js';
import { registerInspectCommands } from './commands/inspect.js';
import { registerNamespaceCommands } from './commands/namespace.js';
import { registerSetrepCommand } from './commands/setrep.js';
import { registerPermissionCommands } from './commands/permissions.js';
import { configureProgram, exitOnClosedStdout, reportCommandLineError } from './program-support.js';

const HELP_FOOTER = `
The NameNode is --namenode HOST:PORT, else $DFS_NAMENODE, else 127.0.0.1:${DEFAULT_NAMENODE_PORT}.

Errors: one line per error on stderr, "dfs: <command>: <CODE>: <message>"
(CODE is a DFS error code such as NOT_FOUND, NOT_EMPTY, INVALID_PATH, CONNECTION,
or USAGE). Exit status: 0 success, 1 a DFS operation failed (for fsck also: a block
is corrupt or missing; for waits: TIMEOUT), 2 usage error, 128 + N when put or get was
interrupted by signal N (130 for Ctrl-C; error INTERRUPTED). Commands taking several
paths report a failing path and go on with the others. "dfs admin" commands connect
with the ADMIN role the NameNode requires for operator actions.

--json: results go to stdout as one JSON document with exact numbers; errors are never
written to stdout, they stay the stderr lines above and the exit status says whether
everything succeeded. ls, mkdir, rm, du and fsck always print their document (holding
what succeeded; fsck once its path is found); stat, mv, info, put, get, df, setrep and
the admin commands print nothing when they fail.`;

export function buildProgram(): Command {
  const program = new Command('dfs')
    .description('DFS file system commands')
    .option(
      '--namenode <host:port>',
      'NameNode address, or HA NameNodes comma-separated (default: $DFS_NAMENODE, else 127.0.0.1:8020)',
    )
    .option('--json', 'print results as JSON (exact byte counts); errors stay on stderr')
    .option(
      '--user <name>',
      'act as this user (default: $DFS_USER, else the OS user); its trash is /user/NAME/.Trash',
    )
    .option(
      '--umask <octal>',
      'bits taken from the mode of new files (0666) and directories (0777) (default: $DFS_UMASK, else 022)',
    )
    .configureHelp({ showGlobalOptions: true })
    // Help is --help only: -h is "human-readable sizes" (ls, du, df), as in hdfs dfs and ls.
    // Subcommands inherit this when they are created, so it is set before registering them.
    .helpOption('--help', 'display help for command')
    .addHelpText('after', HELP_FOOTER);
  registerNamespaceCommands(program);
  registerDataCommands(program);
  registerSpaceCommands(program);
  registerInspectCommands(program);
  registerSetrepCommand(program);
  registerPermissionCommands(program);
  registerFsckCommand(program);
  registerAdminCommands(program);
  configureProgram(program); // --version; usage errors as one line, exit 2
  return program;
}

async function main(argv: string[]): Promise<void> {
  exitOnClosedStdout();
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    if (!reportCommandLineError('dfs', err)) {
      const { code, message } = describeError(err);
      printError(null, code, message);
      process.exitCode = EXIT_FAILED;
    }
  }
  // The client is closed by now, so nothing should hold the event loop; if something still
  // does, it must not keep a finished command alive. unref(): this timer alone never waits.
  setTimeout(() => process.exit(), 2000).unref();
}

// Not awaited: the CLI runs from a CommonJS bundle (see bundle-loader.ts), which has no
// top-level await. main() reports its own errors; one escaping it is a bug, and crashes.
void main(process.argv);
