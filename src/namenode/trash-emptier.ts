/**
 * The NameNode's trash emptier (HDFS `TrashPolicyDefault.Emptier`). Every checkpoint
 * interval, for each user's trash `/user/<user>/.Trash`: `Current` is renamed to a
 * checkpoint named for the time (`yyMMddHHmmss`, UTC), and checkpoints older than the trash
 * interval are deleted with everything in them. `dfs rm` puts paths into `Current`
 * (src/client/trash.ts).
 *
 * Each step is one ordinary rename or delete, applied and logged like a client's, and the
 * pass waits for each to be durable before the next: a kill -9 at any point leaves every
 * trashed path either in `Current` or in a checkpoint, never lost, and never deleted before
 * its time. The pass does nothing in safe mode (mutations are refused) and runs one at a time.
 */
import { rethrowIfBug } from '../../protocol/errors.js';
import type { Clock } from '../common/clock.js';
import type { Logger } from '../common/logger.js';
import type { EditOp } from './edit-ops.js';
import type { Namespace } from './namespace.js';

const TRASH_DIR = '.Trash';
const CURRENT = 'Current';
const CHECKPOINT_NAME = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:-\d+)?$/;

export interface TrashEmptierContext {
  namespace: Namespace;
  clock: Clock;
  logger: Logger;
  /** Applies and logs a NameNode-made edit; resolves once it is durable. */
  applyLogged(op: EditOp): Promise<void>;
}

/** `yyMMddHHmmss` in UTC, as HDFS names trash checkpoints (HDFS uses local time). */
export function checkpointName(ms: number): string {
  const d = new Date(ms);
  const two = (n: number): string => String(n).padStart(2, '0');
  return (
    two(d.getUTCFullYear() % 100) +
    two(d.getUTCMonth() + 1) +
    two(d.getUTCDate()) +
    two(d.getUTCHours()) +
    two(d.getUTCMinutes()) +
    two(d.getUTCSeconds())
  );
}

/** The time a checkpoint name stands for, or null for a name that is not one. */
export function checkpointTime(name: string): number | null {
  const m = CHECKPOINT_NAME.exec(name);
  if (m === null) return null;
  const [yy, mo, dd, hh, mi, ss] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  return Date.UTC(2000 + yy, mo - 1, dd, hh, mi, ss);
}

export class TrashEmptier {
  private running = false;

  constructor(
    private readonly ctx: TrashEmptierContext,
    private readonly trashIntervalMs: number,
  ) {}

  /** One pass over every user's trash; a pass still running makes this one a no-op. */
  async run(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const users = this.ctx.namespace.lookup('/user');
      if (users === null || users.kind !== 'dir') return;
      for (const name of [...users.children.keys()]) {
        const root = `/user/${name}/${TRASH_DIR}`;
        try {
          await this.checkpoint(root);
          await this.deleteExpired(root);
        } catch (err) {
          rethrowIfBug(err);
          this.ctx.logger.warn({ trash: root, err: (err as Error).message }, 'trash checkpoint failed');
        }
      }
    } finally {
      this.running = false;
    }
  }

  private async checkpoint(root: string): Promise<void> {
    const current = this.ctx.namespace.lookup(`${root}/${CURRENT}`);
    if (current === null || current.kind !== 'dir') return;
    const now = this.ctx.clock.nowMs();
    const trash = this.ctx.namespace.lookup(root);
    let name = checkpointName(now);
    for (let i = 1; trash?.kind === 'dir' && trash.children.has(name); i++)
      name = `${checkpointName(now)}-${i}`;
    await this.ctx.applyLogged({
      op: 'rename',
      src: `${root}/${CURRENT}`,
      dst: `${root}/${name}`,
      mtimeMs: now,
    });
    this.ctx.logger.info({ trash: root, checkpoint: name }, 'trash checkpoint created');
  }

  private async deleteExpired(root: string): Promise<void> {
    const trash = this.ctx.namespace.lookup(root);
    if (trash === null || trash.kind !== 'dir') return;
    const now = this.ctx.clock.nowMs();
    for (const name of [...trash.children.keys()]) {
      if (name === CURRENT) continue;
      const at = checkpointTime(name);
      if (at === null) continue; // not ours: left alone, as HDFS does
      if (now - at < this.trashIntervalMs) continue;
      await this.ctx.applyLogged({ op: 'delete', path: `${root}/${name}`, recursive: true, mtimeMs: now });
      this.ctx.logger.info({ trash: root, checkpoint: name }, 'expired trash checkpoint deleted');
    }
  }
}
