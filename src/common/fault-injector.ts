/**
 * Fault hooks for tests (HDFS `DataNodeFaultInjector`): each does nothing unless the daemon
 * was started with DFS_FAULTS set, e.g. DFS_FAULTS='{"corruptAfterFinalize":true}'.
 * Production never sets it; the checks are one property read. Some hooks inject faults
 * from the world (a node that stops heartbeating, a crash mid-block); the `bug*` hooks
 * inject our own bugs, so tests can show that an assertion crashes the daemon instead of
 * letting it serve on from a broken state.
 */
export interface FaultInjector {
  /** DataNode: stop sending heartbeats (a node that looks dead while its process lives). */
  dropHeartbeats: boolean;
  /** DataNode: delay every ack sent upstream by this many ms. */
  ackDelayMs: number;
  /** DataNode: exit the process (as a crash) after receiving this many packets in total; 0 = never. */
  crashAfterPackets: number;
  /** DataNode (a bug): the block receiver lets go of this many bytes more than it held. */
  bugUnholdExtraBytes: number;
  /** NameNode (a bug): the edit-log append that would get this txid gets the next one; 0 = never. */
  bugSkipTxidAt: number;
  /** Both daemons: every fdatasync and fsync waits this many ms first (file-sync.ts); 0 = none. */
  syncDelayMs: number;
  /** DataNode: every packet's write to a replica file waits this many ms first (a slow disk); 0 = none. */
  writeDelayMs: number;
  /**
   * DataNode: refuse every incoming replica copy (WRITE_BLOCK stage TRANSFER) with
   * ALREADY_EXISTS, as a node still holding a surplus replica being deleted does.
   */
  refuseTransfers: boolean;
  /** Packets received so far by this process (for crashAfterPackets). */
  packetsSeen: number;
}

export function faultsFromEnv(env: NodeJS.ProcessEnv = process.env): FaultInjector {
  const faults: FaultInjector = {
    dropHeartbeats: false,
    ackDelayMs: 0,
    crashAfterPackets: 0,
    bugUnholdExtraBytes: 0,
    bugSkipTxidAt: 0,
    syncDelayMs: 0,
    writeDelayMs: 0,
    refuseTransfers: false,
    packetsSeen: 0,
  };
  if (env.DFS_FAULTS) Object.assign(faults, JSON.parse(env.DFS_FAULTS) as Partial<FaultInjector>);
  return faults;
}

/** DataNode: counts a received packet; kills the process as a crash once crashAfterPackets is reached. */
export function countPacket(faults: FaultInjector): void {
  if (faults.crashAfterPackets > 0 && ++faults.packetsSeen >= faults.crashAfterPackets)
    process.kill(process.pid, 'SIGKILL');
}
