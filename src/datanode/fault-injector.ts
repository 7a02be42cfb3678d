/**
 * Fault hooks for tests (HDFS `DataNodeFaultInjector`): each does nothing unless the
 * DataNode was started with DFS_FAULTS set, e.g. DFS_FAULTS='{"corruptAfterFinalize":true}'.
 * Production never sets it; the checks are one property read.
 */
export interface FaultInjector {
  /** Stop sending heartbeats (a node that looks dead while its process lives). */
  dropHeartbeats: boolean;
  /** Delay every ack sent upstream by this many ms. */
  ackDelayMs: number;
  /** Exit the process (as a crash) after receiving this many packets in total; 0 = never. */
  crashAfterPackets: number;
}

export function faultsFromEnv(env: NodeJS.ProcessEnv = process.env): FaultInjector {
  const faults: FaultInjector = { dropHeartbeats: false, ackDelayMs: 0, crashAfterPackets: 0 };
  if (env.DFS_FAULTS) Object.assign(faults, JSON.parse(env.DFS_FAULTS) as Partial<FaultInjector>);
  return faults;
}
