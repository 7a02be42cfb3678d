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
  /**
   * DataNode: a disk that fills up mid-write. Once this many replica data bytes have been
   * written by this process in total, every further replica write fails with a genuine
   * ENOSPC error (code 'ENOSPC', errno -28), the bytes that still fit written first, as a
   * short write to a full disk does; 0 = never. The volume stays writable otherwise (a
   * volume check passes), as a disk that the DataNode's own writes filled.
   */
  enospcAfterBytes: number;
  /**
   * NameNode: a crash between journal and answer. Once a client's call of this RPC (a name of
   * protocol/namenode-messages.ts, e.g. "create") is durable in the journal, the process
   * SIGKILLs itself before answering it (src/namenode/retry-cache.ts); '' = never.
   */
  crashAfterLoggedRpc: string;
  /** Packets received so far by this process (for crashAfterPackets). */
  packetsSeen: number;
  /** Replica data bytes written so far by this process (for enospcAfterBytes). */
  replicaBytesWritten: number;
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
    enospcAfterBytes: 0,
    crashAfterLoggedRpc: '',
    packetsSeen: 0,
    replicaBytesWritten: 0,
  };
  if (env.DFS_FAULTS) Object.assign(faults, JSON.parse(env.DFS_FAULTS) as Partial<FaultInjector>);
  return faults;
}

/** DataNode: counts a received packet; kills the process as a crash once crashAfterPackets is reached. */
export function countPacket(faults: FaultInjector): void {
  if (faults.crashAfterPackets > 0 && ++faults.packetsSeen >= faults.crashAfterPackets)
    process.kill(process.pid, 'SIGKILL');
}

/**
 * DataNode: how many of the next `bytes` replica data bytes fit on the disk that
 * enospcAfterBytes fills (all of them when the hook is off); counts them as written.
 */
export function replicaBytesFitting(faults: FaultInjector, bytes: number): number {
  if (faults.enospcAfterBytes <= 0) return bytes;
  const fit = Math.max(0, Math.min(bytes, faults.enospcAfterBytes - faults.replicaBytesWritten));
  faults.replicaBytesWritten += fit;
  return fit;
}

/** The error a write to a full disk fails with, as Node's fs reports it. */
export function enospcError(syscall = 'write'): NodeJS.ErrnoException {
  return Object.assign(new Error(`ENOSPC: no space left on device, ${syscall}`), {
    code: 'ENOSPC',
    errno: -28,
    syscall,
  });
}
