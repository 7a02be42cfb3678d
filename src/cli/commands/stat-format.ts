/**
 * `dfs stat FORMAT PATH`: the conversions of `hdfs dfs -stat` that DFS's FileStatus has.
 * Times are UTC, as hdfs prints them. An unknown conversion is a usage error before any
 * path is looked at, so a typo never prints half a report.
 */
import type { FileStatus } from '../../../protocol/shared-structures.js';
import { FileType } from '../../../protocol/shared-structures.js';
import { formatMode, octalMode } from '../../common/mode-bits.js';
import { UsageError } from './command-context.js';

const CONVERSIONS: Record<string, { help: string; value: (s: FileStatus, path: string) => string }> = {
  n: { help: 'name', value: (_s, path) => (path === '/' ? '/' : path.slice(path.lastIndexOf('/') + 1)) },
  b: { help: 'length in bytes', value: (s) => String(s.length) },
  r: {
    help: 'replication (0 for a directory)',
    value: (s) => (s.type === FileType.DIRECTORY ? '0' : String(s.replication)),
  },
  o: {
    help: 'block size (0 for a directory)',
    value: (s) => (s.type === FileType.DIRECTORY ? '0' : String(s.blockBytes)),
  },
  F: { help: 'type', value: (s) => (s.type === FileType.DIRECTORY ? 'directory' : 'regular file') },
  y: { help: 'modification time, yyyy-MM-dd HH:mm:ss UTC', value: (s) => utcDateTime(s.mtimeMs) },
  Y: { help: 'modification time, ms since the epoch', value: (s) => String(s.mtimeMs) },
  u: { help: 'owner', value: (s) => s.owner },
  g: { help: 'group', value: (s) => s.group },
  a: { help: 'permissions in octal', value: (s) => octalMode(s.permission) },
  A: { help: 'permissions, symbolic (rwxr-xr-x)', value: (s) => formatMode(s.permission) },
};

export const STAT_FORMAT_HELP = Object.entries(CONVERSIONS)
  .map(([c, { help }]) => `%${c} ${help}`)
  .join(', ');

function utcDateTime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}

/** Throws a usage error naming the first conversion FORMAT has that stat does not know. */
export function checkStatFormat(format: string): void {
  for (let i = 0; i < format.length; i++) {
    if (format[i] !== '%') continue;
    const c = format[++i];
    if (c === '%') continue;
    if (c === undefined || CONVERSIONS[c] === undefined)
      throw new UsageError('USAGE', `unknown stat format %${c ?? ''} (known: ${STAT_FORMAT_HELP})`);
  }
}

/** FORMAT with each conversion replaced by its value for `status` at `path`. */
export function formatStatWith(format: string, status: FileStatus, path: string): string {
  return format
    .replace(/%(.)/g, (_m, c: string) => (c === '%' ? '%' : CONVERSIONS[c]!.value(status, path)))
    .replace(/\\n/g, '\n');
}
