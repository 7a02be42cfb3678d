/**
 * Where new replicas go (HDFS `BlockPlacementPolicyDefault`, without racks yet): `count`
 * distinct nodes chosen uniformly at random among the eligible ones, with a node on the
 * writer's own host first when there is one (the writer's local disk, as HDFS does).
 *
 * Why sampling: addBlock and every re-replication call this, and a cluster has thousands of
 * DataNodes. Shuffling every node per call cost O(nodes) — with 10,000 nodes it capped
 * addBlock near a thousand per second. Here a call draws random nodes and keeps the
 * eligible ones, O(count) expected while most nodes are eligible; only when a few draws in
 * a row miss (few eligible nodes: a small or nearly full cluster, many exclusions) does it
 * scan every node of the list once, so it still finds every eligible node when they are
 * rare. Either way each eligible node is equally likely, as with a full shuffle.
 *
 * Nodes are never forgotten (a dead node stays registered, just not eligible), so the lists
 * only grow; a node that re-registers from another host moves between host lists.
 */
import type { DatanodeInfo } from '../../protocol/shared-structures.js';

/** Random draws per node still wanted before falling back to a scan. */
const DRAWS_PER_PICK = 8;

export class BlockPlacement<N extends { info: DatanodeInfo }> {
  private readonly all: N[] = [];
  private readonly byHost = new Map<string, N[]>();

  constructor(private readonly random: () => number = Math.random) {}

  /** A newly registered node. */
  add(node: N): void {
    this.all.push(node);
    this.hostList(node.info.host).push(node);
  }

  /** A known node re-registered; `previousHost` is where it was before. */
  moved(node: N, previousHost: string): void {
    if (hostKey(previousHost) === hostKey(node.info.host)) return;
    const old = this.hostList(previousHost);
    const at = old.indexOf(node);
    if (at >= 0) old.splice(at, 1);
    this.hostList(node.info.host).push(node);
  }

  /**
   * Up to `count` distinct eligible nodes: one on `writerHost` first if any is eligible,
   * the rest at random. Fewer when fewer are eligible.
   */
  choose(count: number, writerHost: string, eligible: (node: N) => boolean): N[] {
    const chosen: N[] = [];
    if (count <= 0) return chosen;
    const local = this.byHost.get(hostKey(writerHost));
    if (local !== undefined) this.pick(local, 1, eligible, chosen);
    this.pick(this.all, count, eligible, chosen);
    return chosen;
  }

  /** Adds eligible nodes of `list` not chosen yet to `chosen` until it holds `upTo`. */
  private pick(list: readonly N[], upTo: number, eligible: (node: N) => boolean, chosen: N[]): void {
    let misses = 0;
    while (chosen.length < upTo && misses < DRAWS_PER_PICK * (upTo - chosen.length)) {
      const n = list[Math.floor(this.random() * list.length)];
      if (n !== undefined && !chosen.includes(n) && eligible(n)) chosen.push(n);
      else misses++;
    }
    if (chosen.length >= upTo) return;
    // Few eligible nodes: take the rest from all of them, in random order.
    const rest = list.filter((n) => !chosen.includes(n) && eligible(n));
    while (chosen.length < upTo && rest.length > 0) {
      const k = Math.floor(this.random() * rest.length);
      chosen.push(rest[k]!);
      rest[k] = rest[rest.length - 1]!;
      rest.pop();
    }
  }

  private hostList(host: string): N[] {
    const key = hostKey(host);
    let list = this.byHost.get(key);
    if (list === undefined) {
      list = [];
      this.byHost.set(key, list);
    }
    return list;
  }
}

/** Every loopback address is the same machine. */
function hostKey(host: string): string {
  return isLoopback(host) ? 'loopback' : host;
}

export function isLoopback(host: string): boolean {
  return host.startsWith('127.') || host === '::1' || host === '::ffff:127.0.0.1' || host === 'localhost';
}
