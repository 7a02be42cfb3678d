/**
 * Block recovery, the primary's half (HDFS `BlockRecoveryWorker`): the NameNode names this
 * node primary of a recovery (RECOVER_BLOCK: the block, the recovery id, the nodes that may
 * hold a replica). The primary
 *
 *   1. asks every holder, itself included, for its replica (INIT_REPLICA_RECOVERY: the
 *      holder stops a live writer, answers stamp, state and the length on disk);
 *   2. picks the length all of them hold (`chooseRecoveryLength`);
 *   3. has each participant cut its replica to it, take the recovery id as its stamp and
 *      finalize it (UPDATE_REPLICA_UNDER_RECOVERY);
 *   4. reports the outcome to the NameNode (commitBlockSynchronization), which closes the file.
 *
 * The calls to other DataNodes go over their data port (one short connection per call,
 * role DATANODE, each bounded by `RECOVERY_CALL_TIMEOUT_MS`): the port every DataNode
 * already serves to its peers, with its connection limits and frame checks; no second
 * listener. Calls to this node are made directly.
 *
 * Choosing the length (`chooseRecoveryLength`):
 *
 *   | replicas answered                          | length                  | participants          |
 *   |--------------------------------------------|-------------------------|-----------------------|
 *   | none (every holder: NOT_FOUND)             | 0: the block is dropped | none                  |
 *   | some finalized at the newest stamp         | the finalized length    | those at the newest   |
 *   |                                            |                         | stamp holding it all  |
 *   | only unfinished ones at the newest stamp   | the shortest of them    | all at the newest     |
 *   | (older stamps: left behind by a pipeline   |                         | stamp                 |
 *   |  recovery, stale)                          |                         |                       |
 *
 * Any failure before the commit is logged; the NameNode starts the recovery again, with a
 * newer id and if it can another primary, once its timeout passes.
 */
import {
  dataCodecs,
  decodeDataBody,
  encodeDataRequest,
  RecoveryReplicaState,
  type DataMessages,
  type InitReplicaRecoveryResponse,
} from '../../protocol/data-messages.js';
import { DfsError, isDfsError, rethrowIfBug } from '../../protocol/errors.js';
import { decodeError } from '../../protocol/error-frame.js';
import { FrameKind } from '../../protocol/frame.js';
import { Role } from '../../protocol/handshake.js';
import type { Block, DatanodeInfo } from '../../protocol/shared-structures.js';
import { DataConnection } from '../common/data-connection.js';
import type { DataNodeContext } from './datanode-context.js';
import { initReplicaRecovery, updateReplicaUnderRecovery } from './replica-recovery.js';

/** One call to another DataNode of a recovery, connection included. */
export const RECOVERY_CALL_TIMEOUT_MS = 20_000;

export interface ReplicaAnswer extends InitReplicaRecoveryResponse {
  nodeId: string;
}

/** What a recovery does with the replicas that answered (see the table in the header). */
export function chooseRecoveryLength(answers: readonly ReplicaAnswer[]): {
  length: number;
  participants: string[];
} {
  if (answers.length === 0) return { length: 0, participants: [] };
  const newest = Math.max(...answers.map((a) => a.genStamp));
  const current = answers.filter((a) => a.genStamp === newest);
  const finalized = current.filter((a) => a.state === RecoveryReplicaState.FINALIZED);
  const length =
    finalized.length > 0
      ? Math.min(...finalized.map((a) => a.numBytes))
      : Math.min(...current.map((a) => a.numBytes));
  return {
    length,
    participants: current
      .filter(
        (a) => a.numBytes >= length && (a.state !== RecoveryReplicaState.FINALIZED || a.numBytes === length),
      )
      .map((a) => a.nodeId),
  };
}

export interface RecoveryOutcome {
  block: Block;
  nodes: string[];
}

/**
 * Runs one recovery as primary and commits it; resolves with what was committed. Throws
 * (typed) when no replica could be recovered or the NameNode refused the commit.
 */
export async function recoverBlock(
  dn: DataNodeContext,
  recovering: Block,
  targets: readonly DatanodeInfo[],
  commit: (outcome: RecoveryOutcome) => Promise<void>,
): Promise<RecoveryOutcome> {
  const { blockId, genStamp: recoveryId } = recovering;
  const self = dn.storage.nodeId;
  const log = dn.log.child({ block: blockId, recoveryId });
  const settled = await Promise.allSettled(
    targets.map(async (t): Promise<ReplicaAnswer> => {
      const answer =
        t.nodeId === self
          ? await initReplicaRecovery(dn, blockId, recoveryId)
          : await callPeer(t, 'initReplicaRecovery', { blockId, recoveryId });
      return { ...answer, nodeId: t.nodeId };
    }),
  );
  const answers: ReplicaAnswer[] = [];
  let notFound = 0;
  settled.forEach((s, i) => {
    if (s.status === 'fulfilled') return void answers.push(s.value);
    rethrowIfBug(s.reason);
    if (isDfsError(s.reason, 'NOT_FOUND')) notFound++;
    else
      log.warn(
        { node: targets[i]!.nodeId, err: (s.reason as Error).message },
        'replica holder did not join the recovery',
      );
  });
  if (answers.length === 0 && notFound < targets.length)
    throw new DfsError('NOT_REPLICATED', `no holder of block ${blockId} answered the recovery`);
  const { length, participants } = chooseRecoveryLength(answers);
  const nodes: string[] = [];
  if (length > 0) {
    const updated = await Promise.allSettled(
      participants.map((nodeId) => {
        const target = targets.find((t) => t.nodeId === nodeId)!;
        return nodeId === self
          ? updateReplicaUnderRecovery(dn, blockId, recoveryId, length)
          : callPeer(target, 'updateReplicaUnderRecovery', { blockId, recoveryId, newLength: length });
      }),
    );
    updated.forEach((u, i) => {
      if (u.status === 'fulfilled') return void nodes.push(participants[i]!);
      rethrowIfBug(u.reason);
      log.warn(
        { node: participants[i], err: (u.reason as Error).message },
        'replica update failed in a recovery',
      );
    });
    if (nodes.length === 0)
      throw new DfsError(
        'NOT_REPLICATED',
        `no replica of block ${blockId} could be updated to ${length} bytes`,
      );
  }
  const outcome = {
    block: { blockId, genStamp: recoveryId, numBytes: nodes.length > 0 ? length : 0 },
    nodes,
  };
  await commit(outcome);
  log.info(
    { length: outcome.block.numBytes, nodes, answered: answers.length, asked: targets.length },
    nodes.length > 0 ? 'block recovery committed' : 'block recovery found no replica; block dropped',
  );
  return outcome;
}

/** One request to another DataNode's data port, answered by one response or a typed error. */
export async function callPeer<N extends 'initReplicaRecovery' | 'updateReplicaUnderRecovery'>(
  target: DatanodeInfo,
  name: N,
  req: DataMessages[N]['req'],
  timeoutMs = RECOVERY_CALL_TIMEOUT_MS,
): Promise<DataMessages[N]['res']> {
  const deadline = Date.now() + timeoutMs;
  const conn = await DataConnection.open({
    host: target.host,
    port: target.port,
    role: Role.DATANODE,
    label: target.nodeId,
    connectTimeoutMs: timeoutMs,
    idleTimeoutMs: Math.max(1, deadline - Date.now()),
  });
  const codec = dataCodecs[name];
  return new Promise<DataMessages[N]['res']>((resolve, reject) => {
    let done = false;
    const finish = (err: Error | null, value?: DataMessages[N]['res']): void => {
      if (done) return;
      done = true;
      conn.close();
      if (err !== null) reject(err);
      else resolve(value!);
    };
    conn.onClose = (err) =>
      finish(
        err ??
          new DfsError(
            'CONNECTION',
            `DataNode ${target.nodeId} closed the connection before answering ${name}`,
          ),
      );
    conn.onFrame = (f) => {
      try {
        if (f.kind === FrameKind.ERROR) return finish(decodeError(f));
        if (f.kind !== FrameKind.RESPONSE || f.opcode !== codec.opcode || f.requestId !== 1)
          throw new DfsError(
            'PROTOCOL',
            `unexpected frame kind ${f.kind} opcode ${f.opcode} answering ${name}`,
          );
        finish(null, decodeDataBody(codec.res, f, `${name} response`));
      } catch (err) {
        rethrowIfBug(err);
        finish(err as Error);
      }
    };
    conn.send(encodeDataRequest(name, 1, req));
  });
}
