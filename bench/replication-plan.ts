/**
 * What losing one DataNode costs, and how the raw baseline copies the same bytes
 * (dfs-bench replication, bench/replication.ts).
 *
 * Taken from the NameNode's block health of every file while all nodes are in service:
 * each block with a replica on the victim needs one new copy; its bytes are what
 * re-replication must move. Who else holds it are the possible copy sources (the victim
 * too when it is decommissioned: a draining node still serves its replicas), the nodes
 * holding no replica the possible targets.
 *
 * The baseline copies those blocks between the hops that stand for the same DataNodes
 * with the NameNode's parallelism, so the two rates compare the same work: the replication
 * monitor gives a copy to the least busy holder and lets no node run more than its
 * per-node transfer limit at once; here each copy goes to the holder with the fewest
 * copies assigned so far, to the target with the fewest copies coming in, and every source
 * runs at most `perSourceMax` copies at a time.
 */
import { ReplicaState, type BlockHealth } from '../protocol/admin-namenode-messages.js';
import type { DatanodeInfo } from '../protocol/shared-structures.js';

export type LossMode = 'kill' | 'decommission';

export interface LostBlock {
  blockId: number;
  bytes: number;
  /** DataNode indices that may send the copy. */
  sources: number[];
  /** DataNode indices that may receive it. */
  targets: number[];
}

export interface PlannedCopy {
  blockId: number;
  bytes: number;
  from: number;
  to: number;
}

/** Blocks and bytes each DataNode holds a counted replica of. */
export function replicaLoad(
  health: readonly BlockHealth[],
  indexOf: (node: DatanodeInfo) => number | undefined,
  datanodes: number,
): Array<{ blocks: number; bytes: number }> {
  const load = Array.from({ length: datanodes }, () => ({ blocks: 0, bytes: 0 }));
  for (const h of health) {
    for (const r of h.replicas) {
      const i = indexOf(r.node);
      if (i === undefined || r.state !== ReplicaState.LIVE) continue;
      load[i]!.blocks++;
      load[i]!.bytes += h.block.numBytes;
    }
  }
  return load;
}

/** The blocks `victim` holds, each with its possible sources and targets. */
export function lostBlocks(
  health: readonly BlockHealth[],
  indexOf: (node: DatanodeInfo) => number | undefined,
  victim: number,
  mode: LossMode,
  datanodes: number,
): LostBlock[] {
  const lost: LostBlock[] = [];
  for (const h of health) {
    const holders = h.replicas
      .filter((r) => r.state === ReplicaState.LIVE)
      .map((r) => indexOf(r.node))
      .filter((i): i is number => i !== undefined);
    if (!holders.includes(victim)) continue;
    lost.push({
      blockId: h.block.blockId,
      bytes: h.block.numBytes,
      sources: mode === 'kill' ? holders.filter((i) => i !== victim) : holders,
      targets: Array.from({ length: datanodes }, (_, i) => i).filter((i) => !holders.includes(i)),
    });
  }
  return lost;
}

/** One copy per lost block: the least-loaded source and target (ties: the lowest index). */
export function planCopies(lost: readonly LostBlock[], datanodes: number): PlannedCopy[] {
  const out = new Array<number>(datanodes).fill(0);
  const into = new Array<number>(datanodes).fill(0);
  const least = (candidates: readonly number[], load: number[]): number | undefined =>
    candidates.reduce<number | undefined>(
      (best, i) => (best === undefined || load[i]! < load[best]! ? i : best),
      undefined,
    );
  const plan: PlannedCopy[] = [];
  for (const b of lost) {
    const from = least(b.sources, out);
    const to = least(b.targets, into);
    if (from === undefined || to === undefined)
      throw new Error(`block ${b.blockId} has no copy source or no possible target`);
    out[from]!++;
    into[to]!++;
    plan.push({ blockId: b.blockId, bytes: b.bytes, from, to });
  }
  return plan;
}

/** Runs every copy, at most `perSourceMax` at a time from any one source. */
export async function runPerSource(
  plan: readonly PlannedCopy[],
  perSourceMax: number,
  copy: (c: PlannedCopy) => Promise<void>,
): Promise<void> {
  const bySource = new Map<number, PlannedCopy[]>();
  for (const c of plan) bySource.set(c.from, [...(bySource.get(c.from) ?? []), c]);
  const worker = async (queue: PlannedCopy[]): Promise<void> => {
    for (let c = queue.shift(); c !== undefined; c = queue.shift()) await copy(c);
  };
  await Promise.all(
    [...bySource.values()].flatMap((queue) =>
      Array.from({ length: Math.min(perSourceMax, queue.length) }, () => worker(queue)),
    ),
  );
}
