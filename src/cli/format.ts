/**
 * Human output of the `dfs` CLI: sizes (`1.5K`, `23M`, `4.0G`), local dates, `ls -l` style
 * rows in aligned columns and aligned `key: value` blocks. Pure functions of their inputs
 * (the clock and the time zone are those of the caller's process), so they are unit-tested
 * without a cluster. `--json` output never passes through here: it carries exact numbers.
 *
 * ls, du and df print exact byte counts, or with `-h` human sizes, as `ls -l` / `ls -lh` and
 * `hdfs dfs -ls -h` do (`SizeStyle`).
 *
 * Column alignment is computed per batch of rows, so a recursive listing can print one
 * directory page at a time with bounded memory. The minimum widths below are wide enough
 * for every value the columns normally hold (a human size is at most 5 characters, an exact
 * one below 10 GB at most 10, a date exactly 16), so rows from different batches still line up.
 *
 * `fileStatusJson` is the one JSON shape of a FileStatus (`ls --json`, `stat --json`): the
 * wire's numeric `type` is shown by name, as users read and `jq` selects it.
 */
import { FileType, type FileStatus } from '../../protocol/shared-structures.js';
import type { ServerInfo } from '../../protocol/client-namenode-messages.js';
import { formatMode, octalMode } from '../common/mode-bits.js';

const UNITS = ['K', 'M', 'G', 'T', 'P', 'E'] as const;

/**
 * Bytes the way `ls -lh` shows them: exact below 1024, then one decimal below 10 units and
 * whole units above, always rounded up so a size is never under-reported (1025 -> "1.1K").
 */
export function humanBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return String(bytes);
  if (bytes < 1024) return String(Math.trunc(bytes));
  let value = bytes;
  for (const unit of UNITS) {
    value /= 1024;
    const tenths = Math.ceil(value * 10) / 10;
    if (tenths < 10) return `${tenths.toFixed(1)}${unit}`;
    const whole = Math.ceil(value);
    if (whole < 1024) return `${whole}${unit}`;
  }
  return `${Math.ceil(value)}${UNITS[UNITS.length - 1]}`;
}

/** How ls, du and df show sizes: exact byte counts (the default), or `-h` human sizes. */
export type SizeStyle = 'exact' | 'human';

export function formatSize(bytes: number, style: SizeStyle): string {
  return style === 'human' ? humanBytes(bytes) : String(bytes);
}

/** The width a size column is padded to at least, so separately printed batches align. */
function sizeMinWidth(style: SizeStyle): number {
  return style === 'human' ? 5 : 10;
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** `YYYY-MM-DD HH:MM` (or `:SS` with seconds) in the local time zone, like `ls -l --time-style=long-iso`. */
export function formatDateTime(ms: number, options: { seconds?: boolean } = {}): string {
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) return String(ms);
  const date = `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}`;
  const time = `${pad2(d.getHours())}:${pad2(d.getMinutes())}${options.seconds ? `:${pad2(d.getSeconds())}` : ''}`;
  return `${date} ${time}`;
}

export type Align = 'left' | 'right';

/**
 * Pads each column to the widest cell of the batch (at least `minWidths[i]`), separated by
 * one space. The last column is never padded, so lines carry no trailing blanks. Widths are
 * counted in UTF-16 code units, which is right for the ASCII columns this is used with.
 */
export function alignColumns(
  rows: readonly (readonly string[])[],
  align: readonly Align[],
  minWidths: readonly number[] = [],
): string[] {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? minWidths[i] ?? 0, cell.length);
    });
  }
  return rows.map((row) =>
    row
      .map((cell, i) => {
        if (align[i] === 'right') return cell.padStart(widths[i] ?? 0);
        return i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0);
      })
      .join(' '),
  );
}

/** `key: value` lines with the values aligned after the longest key. */
export function formatKeyValues(pairs: readonly (readonly [string, string])[]): string[] {
  const width = Math.max(0, ...pairs.map(([k]) => k.length + 1));
  return pairs.map(([k, v]) => `${`${k}:`.padEnd(width)} ${v}`);
}

// ---- `dfs ls` ---------------------------------------------------------------------------

/** type and permissions, replication, owner, group, size, mtime, path (`hdfs dfs -ls`). */
export const LS_ALIGN: readonly Align[] = ['left', 'right', 'left', 'left', 'right', 'left', 'left'];

/**
 * One `ls` row, as `hdfs dfs -ls`: `drwxr-xr-x` / `-rw-r--r--`, replication (`-` for
 * directories), owner, group, size, mtime, full path.
 */
export function lsRow(status: FileStatus, fullPath: string, sizes: SizeStyle): string[] {
  const isDir = status.type === FileType.DIRECTORY;
  return [
    (isDir ? 'd' : '-') + formatMode(status.permission),
    isDir ? '-' : String(status.replication),
    status.owner,
    status.group,
    formatSize(status.length, sizes),
    formatDateTime(status.mtimeMs),
    fullPath,
  ];
}

export function formatLsRows(rows: readonly (readonly string[])[], sizes: SizeStyle): string[] {
  return alignColumns(rows, LS_ALIGN, [10, 3, 8, 10, sizeMinWidth(sizes), 16, 0]);
}

// ---- `dfs stat`, `dfs info` -------------------------------------------------------------

function withHuman(bytes: number): string {
  return bytes < 1024 ? String(bytes) : `${bytes} (${humanBytes(bytes)})`;
}

function typeName(type: number): string {
  if (type === FileType.DIRECTORY) return 'directory';
  if (type === FileType.FILE) return 'file';
  return `unknown (${type})`;
}

/**
 * A FileStatus as `--json` prints it: every field, `type` by name ("file" / "directory"),
 * `permission` as an octal string ("755", "1777"), as `stat %a` shows it.
 */
export type FileStatusJson = Omit<FileStatus, 'type' | 'permission'> & { type: string; permission: string };

/** `fullPath` replaces the status's own path (a listing entry carries only its name). */
export function fileStatusJson(status: FileStatus, fullPath: string = status.path): FileStatusJson {
  return { ...status, path: fullPath, type: typeName(status.type), permission: octalMode(status.permission) };
}

/** Every FileStatus field under its own name, values made readable. */
export function formatStat(status: FileStatus): string[] {
  return formatKeyValues([
    ['path', status.path],
    ['type', typeName(status.type)],
    ['length', withHuman(status.length)],
    ['replication', String(status.replication)],
    ['blockBytes', withHuman(status.blockBytes)],
    ['mtimeMs', `${status.mtimeMs} (${formatDateTime(status.mtimeMs, { seconds: true })})`],
    ['blockCount', String(status.blockCount)],
    ['underConstruction', status.underConstruction ? 'yes' : 'no'],
    ['childCount', String(status.childCount)],
    ['owner', status.owner],
    ['group', status.group],
    ['permission', `${octalMode(status.permission)} (${formatMode(status.permission)})`],
  ]);
}

export function formatServerInfo(info: ServerInfo, namenode: string): string[] {
  return formatKeyValues([
    ['namenode', namenode],
    ['clusterId', info.clusterId],
    ['version', info.version],
    ['safeMode', info.safeMode ? 'ON (mutations are refused)' : 'off'],
    ['lastTxid', String(info.lastTxid)],
    ['fileCount', String(info.fileCount)],
    ['directoryCount', String(info.directoryCount)],
    ['blockCount', String(info.blockCount)],
    ['trash', info.trashIntervalMs > 0 ? `on, kept ${formatDuration(info.trashIntervalMs)}` : 'off'],
  ]);
}

/** 86400000 -> "1440 min" (whole minutes as configured; seconds below a minute). */
function formatDuration(ms: number): string {
  return ms >= 60_000 ? `${+(ms / 60_000).toFixed(2)} min` : `${+(ms / 1000).toFixed(1)} s`;
}

// ---- sizes on the command line ----------------------------------------------------------

const SIZE_SHIFT: Record<string, number> = { '': 0, k: 10, m: 20, g: 30, t: 40, p: 50 };

/**
 * A byte count as a user types it: `1048576`, `64M`, `1G`, `512k`, `64MiB`, `1.5G`. Suffixes
 * are binary (K = 1024), as in `hdfs dfs -D dfs.blocksize=64m` and `ls -h`; `B`, `iB` after the
 * letter are accepted. Returns null for anything else, or a fraction of a byte, or a value past
 * 2^53 (the largest integer a number holds exactly).
 */
export function parseByteSize(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)(?:i?b)?$/i.exec(text.trim());
  if (m === null) return null;
  const bytes = Number(m[1]) * 2 ** (SIZE_SHIFT[m[2]!.toLowerCase()] ?? 0);
  return Number.isSafeInteger(bytes) ? bytes : null;
}

// ---- `dfs du`, `dfs df` ------------------------------------------------------------------

/** What `du` reports for one path: bytes, bytes times each file's replication, and counts. */
export interface DiskUsage {
  path: string;
  bytes: number;
  /** Disk space the replicas take: the sum over files of length x replication. */
  replicatedBytes: number;
  files: number;
  /** Directories at and beneath the path (the path itself counts). */
  directories: number;
}

/** size, size with replicas, path. The minimum widths fit usual sizes, so batches align. */
export const DU_ALIGN: readonly Align[] = ['right', 'right', 'left'];

export function formatDuRows(usages: readonly DiskUsage[], sizes: SizeStyle): string[] {
  const width = sizeMinWidth(sizes);
  return alignColumns(
    usages.map((u) => [formatSize(u.bytes, sizes), formatSize(u.replicatedBytes, sizes), u.path]),
    DU_ALIGN,
    [width, width, 0],
  );
}

/** What `df` reports: the capacity of the live DataNodes and how many are live and dead. */
export interface ClusterUsage {
  namenode: string;
  capacityBytes: number;
  usedBytes: number;
  remainingBytes: number;
  /** usedBytes / capacityBytes x 100; 0 when there is no capacity. */
  usedPercent: number;
  liveDataNodes: number;
  deadDataNodes: number;
}

export function formatDf(usage: ClusterUsage, sizes: SizeStyle): string[] {
  return formatKeyValues([
    ['namenode', usage.namenode],
    ['capacity', formatSize(usage.capacityBytes, sizes)],
    ['used', formatSize(usage.usedBytes, sizes)],
    ['remaining', formatSize(usage.remainingBytes, sizes)],
    ['use%', `${usage.usedPercent.toFixed(1)}%`],
    ['dataNodes', `${usage.liveDataNodes} live, ${usage.deadDataNodes} dead`],
  ]);
}
