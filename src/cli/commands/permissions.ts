/**
 * `dfs chmod [-R] MODE PATH...`, `dfs chown [-R] OWNER[:GROUP] PATH...`, `dfs chgrp [-R]
 * GROUP PATH...`, as `hdfs dfs` has them. The NameNode judges who may (only the owner or a
 * superuser changes a mode or a group, the owner only to a group it is in; only a superuser
 * changes an owner: src/namenode/rpc-permissions.ts); these commands only parse and walk.
 *
 * MODE is octal (`755`, `1777`) or symbolic: comma-separated clauses `[ugoa]*[+-=][rwxXt]*`
 * (`u+x,g-w,o=r`, `a+rwx`, `+t`). No who means all (`a`), without the umask (as hdfs).
 * `X` is execute for a directory, or for a file some class may already execute. `t` is the
 * sticky bit (directories: only an entry's owner, or the directory's, removes the entry).
 * A symbolic mode applies to each path's own current mode.
 *
 * -R applies to the path and everything beneath it, in pre-order (tree-walk.ts). A path
 * that fails is reported and the others go on (exit status 1). Globs are expanded. Silent on
 * success, as hdfs; with --json {"done": [paths changed]}.
 */
import type { Command } from 'commander';
import { FileType, type FileStatus } from '../../../protocol/shared-structures.js';
import { EXECUTE, READ, STICKY, WRITE } from '../../common/mode-bits.js';
import { isFatal, runCommand, UsageError, type CommandContext } from './command-context.js';
import { expandPath } from './glob.js';
import { walkTree } from './tree-walk.js';

/** A new mode from a path's current mode and kind. */
export type ModeChange = (current: number, isDir: boolean) => number;

const CLAUSE = /^([ugoa]*)([+\-=])([rwxXt]*)$/;
const SHIFTS: Record<string, number[]> = { u: [6], g: [3], o: [0], a: [6, 3, 0] };

/** Parses an octal or symbolic MODE (see the file header); a bad one is a usage error. */
export function parseMode(text: string): ModeChange {
  if (/^[0-7]{1,4}$/.test(text)) {
    const mode = parseInt(text, 8);
    return () => mode;
  }
  const clauses = text.split(',').map((c) => {
    const m = CLAUSE.exec(c);
    if (m === null)
      throw new UsageError(
        'USAGE',
        `mode '${text}' is neither octal (755, 1777) nor symbolic ([ugoa]*[+-=][rwxXt]*, e.g. u+x,g-w)`,
      );
    return { who: m[1] === '' ? 'a' : m[1]!, op: m[2]!, perms: m[3]! };
  });
  return (current, isDir) => {
    let mode = current;
    for (const { who, op, perms } of clauses) {
      const shifts = new Set([...who].flatMap((w) => SHIFTS[w]!));
      let bits = 0;
      if (perms.includes('r')) bits |= READ;
      if (perms.includes('w')) bits |= WRITE;
      if (perms.includes('x') || (perms.includes('X') && (isDir || (current & 0o111) !== 0))) bits |= EXECUTE;
      let mask = 0;
      let set = 0;
      for (const shift of shifts) {
        mask |= 7 << shift;
        set |= bits << shift;
      }
      // The sticky bit belongs to "other" (ls shows it there): `=` without t clears it there.
      const sticky = perms.includes('t') ? STICKY : 0;
      if (op === '+') mode |= set | sticky;
      else if (op === '-') mode &= ~(set | sticky);
      else mode = (mode & ~mask & ~(shifts.has(0) ? STICKY : 0)) | set | sticky;
    }
    return mode & 0o1777;
  };
}

const NAME = /^[^:/\s]+$/;

/** OWNER, OWNER:GROUP or :GROUP (hdfs chown); a usage error otherwise. */
export function parseOwnerGroup(text: string): { owner: string; group: string } {
  const colon = text.indexOf(':');
  const owner = colon < 0 ? text : text.slice(0, colon);
  const group = colon < 0 ? '' : text.slice(colon + 1);
  const ok = (s: string): boolean => s === '' || NAME.test(s);
  if ((owner === '' && group === '') || !ok(owner) || !ok(group))
    throw new UsageError('USAGE', `'${text}' is not OWNER[:GROUP] (names without ':', '/' or spaces)`);
  return { owner, group };
}

/** Applies `change` to each path (with -R, to each beneath too); reports failures and goes on. */
async function eachTarget(
  ctx: CommandContext,
  paths: readonly string[],
  recursive: boolean,
  change: (path: string, status: FileStatus) => Promise<void>,
): Promise<void> {
  const done: string[] = [];
  try {
    for (const arg of paths) {
      try {
        for (const top of await expandPath(ctx, arg)) {
          try {
            const status = await ctx.client.stat(top);
            const entries = recursive ? walkTree(ctx, top, status) : [{ path: top, status }];
            for await (const { path, status: st } of entries) {
              try {
                await change(path, st);
                done.push(path);
              } catch (err) {
                if (isFatal(err) || path === top) throw err;
                ctx.reportError(err);
              }
            }
          } catch (err) {
            if (isFatal(err)) throw err;
            ctx.reportError(err);
          }
        }
      } catch (err) {
        if (isFatal(err)) throw err;
        ctx.reportError(err);
      }
    }
  } finally {
    if (ctx.json) await ctx.writeJson({ done });
  }
}

const JSON_HELP =
  '\nWith --json: {"done": [paths changed]}. A path that fails is reported and the others go on.';

export function registerPermissionCommands(program: Command): void {
  program
    .command('chmod')
    .description('change the mode of files and directories (owner or superuser)')
    .argument('<mode>', 'octal (755, 1777) or symbolic ([ugoa]*[+-=][rwxXt]*, comma-separated: u+x,g-w,+t)')
    .argument('<paths...>', 'paths (globs allowed)')
    .option('-R, --recursive', 'also everything beneath each directory')
    .addHelpText(
      'after',
      `\nt is the sticky bit: in such a directory only an entry's owner (or the directory's) removes it.${JSON_HELP}`,
    )
    .action((mode: string, paths: string[], options: { recursive?: boolean }, cmd: Command) =>
      runCommand(cmd, async (ctx) => {
        const change = parseMode(mode);
        await eachTarget(ctx, paths, options.recursive === true, (path, st) =>
          ctx.client.setPermission(path, change(st.permission, st.type === FileType.DIRECTORY)),
        );
      }),
    );

  program
    .command('chown')
    .description('change the owner (superuser only) and/or group of files and directories')
    .argument('<owner>', 'OWNER, OWNER:GROUP or :GROUP')
    .argument('<paths...>', 'paths (globs allowed)')
    .option('-R, --recursive', 'also everything beneath each directory')
    .addHelpText('after', JSON_HELP)
    .action((spec: string, paths: string[], options: { recursive?: boolean }, cmd: Command) =>
      runCommand(cmd, async (ctx) => {
        const to = parseOwnerGroup(spec);
        await eachTarget(ctx, paths, options.recursive === true, (path) => ctx.client.setOwner(path, to));
      }),
    );

  program
    .command('chgrp')
    .description('change the group of files and directories (owner: to a group it is in; or superuser)')
    .argument('<group>', 'the new group')
    .argument('<paths...>', 'paths (globs allowed)')
    .option('-R, --recursive', 'also everything beneath each directory')
    .addHelpText('after', JSON_HELP)
    .action((group: string, paths: string[], options: { recursive?: boolean }, cmd: Command) =>
      runCommand(cmd, async (ctx) => {
        if (!NAME.test(group)) throw new UsageError('USAGE', `'${group}' is not a group name`);
        await eachTarget(ctx, paths, options.recursive === true, (path) =>
          ctx.client.setOwner(path, { group }),
        );
      }),
    );
}
