/**
 * Waiting for the cluster to reach a state (`setrep -w`, `admin decommission --wait`,
 * `admin safemode wait`): poll a probe until it says done, with an optional deadline given as
 * `--timeout`. The probe describes where things stand; that text goes to the status line
 * while waiting and into the TIMEOUT error if the deadline passes, so a timed-out wait says
 * what it was still waiting for.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { InvalidArgumentError } from 'commander';
import { DfsError } from '../../../protocol/errors.js';
import { StatusLine } from '../status-line.js';

/** How often a wait asks the NameNode again. */
export const POLL_INTERVAL_MS = 500;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, '': 1000, m: 60_000, h: 3_600_000 };

/** `--timeout`: seconds (`30`, `2.5`), or with a unit: `500ms`, `30s`, `5m`, `1h`. Returns milliseconds. */
export function timeoutArg(value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(value.trim());
  const ms = m === null ? NaN : Number(m[1]) * UNIT_MS[m[2] ?? '']!;
  if (!Number.isFinite(ms) || ms <= 0)
    throw new InvalidArgumentError(
      'must be a positive duration: seconds, or with a unit such as 500ms, 30s, 5m, 1h',
    );
  return ms;
}

export interface ProbeResult {
  done: boolean;
  /** Where things stand, e.g. "3 of 12 files have 2 replicas". */
  status: string;
}

/**
 * Calls `probe` every POLL_INTERVAL_MS until it reports done; fails with TIMEOUT (naming
 * `what` and the last status) once `timeoutMs` has passed. No timeout: waits as long as it takes.
 */
export async function pollUntil(
  what: string,
  probe: () => Promise<ProbeResult>,
  options: { timeoutMs?: number; json: boolean },
): Promise<void> {
  const line = new StatusLine(options.json);
  const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
  try {
    for (;;) {
      const r = await probe();
      if (r.done) return;
      if (Date.now() >= deadline)
        throw new DfsError(
          'TIMEOUT',
          `gave up waiting for ${what} after ${options.timeoutMs} ms: ${r.status}`,
        );
      line.show(`waiting for ${what}: ${r.status}`);
      await sleep(Math.min(POLL_INTERVAL_MS, Math.max(1, deadline - Date.now())));
    }
  } finally {
    line.clear();
  }
}
