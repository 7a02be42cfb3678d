/**
 * The shipped systemd units (systemd/*.service) as the install tests read them: a small
 * parser of the unit-file syntax our units use (sections, `Key=value` lines, `#` comments,
 * a key given again adds a value), the command line of `ExecStart=`, and the directories
 * `StateDirectory=` makes systemd create. Tests run the units' own command lines instead of
 * copies, so a unit that names a wrong path or flag fails a test.
 *
 * Deliberately small: no line continuations, quoting or `%` specifiers. A unit that starts
 * using one fails `execStartArgv` loudly rather than being half understood.
 */
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../../src/local/daemon-process.js';

export const SYSTEMD_DIR = path.join(REPO_ROOT, 'systemd');
export const UNIT_NAMES = ['dfs-namenode.service', 'dfs-datanode.service'] as const;
export type UnitName = (typeof UNIT_NAMES)[number];

/** section -> key -> values in file order. */
export type Unit = Map<string, Map<string, string[]>>;

export function parseUnit(text: string): Unit {
  const unit: Unit = new Map();
  let section: Map<string, string[]> | null = null;
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = new Map();
      unit.set(header[1]!, section);
      continue;
    }
    const eq = line.indexOf('=');
    if (section === null || eq <= 0) throw new Error(`unit line ${i + 1} not understood: ${raw}`);
    if (line.endsWith('\\')) throw new Error(`unit line ${i + 1}: continuation lines are not supported`);
    const key = line.slice(0, eq).trim();
    section.set(key, [...(section.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  return unit;
}

export function readUnit(name: UnitName): Unit {
  return parseUnit(fs.readFileSync(path.join(SYSTEMD_DIR, name), 'utf8'));
}

/** Every value of `[section] key` (empty when the key is absent). */
export function unitValues(unit: Unit, section: string, key: string): string[] {
  return unit.get(section)?.get(key) ?? [];
}

/** The single `ExecStart=` command as argv, each argument passed through `rewrite`. */
export function execStartArgv(unit: Unit, rewrite: (arg: string) => string = (a) => a): string[] {
  const lines = unitValues(unit, 'Service', 'ExecStart');
  if (lines.length !== 1) throw new Error(`expected one ExecStart=, found ${lines.length}`);
  const line = lines[0]!;
  if (/["'%\\$]/.test(line)) throw new Error(`ExecStart= uses syntax this parser does not handle: ${line}`);
  return line.split(/\s+/).map(rewrite);
}

/**
 * The directories systemd creates before the service starts for `StateDirectory=`, each
 * relative to /var/lib (the last path component is owned by the service's user, its parents
 * by root), with the mode `StateDirectoryMode=` gives (systemd's default 0755).
 */
export function stateDirectories(unit: Unit): { dirs: string[]; mode: number } {
  const dirs = unitValues(unit, 'Service', 'StateDirectory').flatMap((v) => v.split(/\s+/));
  const modes = unitValues(unit, 'Service', 'StateDirectoryMode');
  return { dirs, mode: modes.length > 0 ? parseInt(modes.at(-1)!, 8) : 0o755 };
}
