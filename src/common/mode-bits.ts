/**
 * Mode bits as people read them: `rwxr-xr-t` (as `ls -l` and `hdfs dfs -ls` show them; the
 * sticky bit is `t` in the other-execute place, `T` when other has no execute) and octal
 * strings. Shared by the NameNode's denial messages (src/namenode/permission-checker.ts) and
 * the CLI (ls, stat, chmod), so both spell a mode the same way.
 */

export const READ = 4;
export const WRITE = 2;
export const EXECUTE = 1;
export const STICKY = 0o1000;

/** `rwxr-xr-x` for 0o755; `rwxrwxrwt` for 0o1777. */
export function formatMode(mode: number): string {
  let out = '';
  for (const shift of [6, 3, 0]) {
    const bits = (mode >> shift) & 7;
    out += bits & READ ? 'r' : '-';
    out += bits & WRITE ? 'w' : '-';
    if (shift === 0 && mode & STICKY) out += bits & EXECUTE ? 't' : 'T';
    else out += bits & EXECUTE ? 'x' : '-';
  }
  return out;
}

/** `755`, `1777`: octal, as `stat %a` and `--json` show it. */
export function octalMode(mode: number): string {
  return mode.toString(8);
}

/** "read", "write and execute", "read, write and execute" for a set of READ/WRITE/EXECUTE bits. */
export function accessWords(bits: number): string {
  const words = [bits & READ && 'read', bits & WRITE && 'write', bits & EXECUTE && 'execute'].filter(
    (w): w is string => typeof w === 'string',
  );
  if (words.length <= 1) return words[0] ?? 'access';
  return `${words.slice(0, -1).join(', ')} and ${words[words.length - 1]!}`;
}
