/**
 * The NameNode's recent notable events, for the web UI's overview (`/api/v1/overview`,
 * `/api/v1/events`): DataNodes registered, dead or decommissioned, safe mode on and off,
 * block recoveries, checkpoints. The log says all of this too, but an operator looking at
 * a browser should not need the journal to learn why a node turned red.
 *
 * A fixed-size ring: recording is O(1) and allocates one small object, so the components
 * that record (datanode-registry.ts, safe-mode.ts, block-recovery.ts, namenode.ts) pay
 * nothing that grows with time or cluster size. Each event has a sequence number, so a
 * poller asks only for what it has not seen (`afterSeq`).
 */

export type NotableKind =
  | 'datanode-registered'
  | 'datanode-dead'
  | 'datanode-decommission'
  | 'safe-mode'
  | 'block-recovery'
  | 'checkpoint';

/** Where components report notable events; declared here so each needs only this type. */
export interface NotableEvents {
  record(kind: NotableKind, message: string): void;
}

export interface NotableEvent {
  seq: number;
  /** ms since the epoch, on the NameNode's clock. */
  atMs: number;
  kind: NotableKind;
  message: string;
}

/** Events kept; the oldest is overwritten first. */
export const EVENTS_KEPT = 256;

/** Records nothing: the default until the NameNode wires its ring in. */
export const NO_EVENTS: NotableEvents = { record: () => {} };

export class EventRing implements NotableEvents {
  private readonly slots: Array<NotableEvent | undefined>;
  private nextSeq = 1;

  constructor(
    private readonly nowMs: () => number,
    readonly capacity = EVENTS_KEPT,
  ) {
    this.slots = new Array<NotableEvent | undefined>(capacity);
  }

  record(kind: NotableKind, message: string): void {
    const seq = this.nextSeq++;
    this.slots[seq % this.capacity] = { seq, atMs: this.nowMs(), kind, message };
  }

  /** Up to `limit` of the newest events with a sequence number above `afterSeq`, newest first. */
  recent(limit: number, afterSeq = 0): NotableEvent[] {
    const out: NotableEvent[] = [];
    const oldest = Math.max(afterSeq + 1, this.nextSeq - this.capacity);
    for (let seq = this.nextSeq - 1; seq >= oldest && out.length < limit; seq--) {
      const e = this.slots[seq % this.capacity];
      if (e !== undefined && e.seq === seq) out.push(e);
    }
    return out;
  }

  /** The sequence number of the newest event (0 before the first). */
  get lastSeq(): number {
    return this.nextSeq - 1;
  }
}
