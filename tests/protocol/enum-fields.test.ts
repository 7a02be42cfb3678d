/**
 * Enum-valued fields (PROTOCOL.md sections 5, 6 and 11). The ones the codec checks are
 * literal unions on decode: every value of the union decodes, and 0, the first value past
 * the union and 255 are MALFORMED, one test per field (decoder-errors.test.ts style). The
 * ones the endpoint judges (command type, safe mode and decommission actions, write stage,
 * ack statuses) travel unjudged; round-trip.test.ts carries unknown values of each.
 *
 * Each test finds its field's byte by encoding the message twice with two different values
 * and taking the first byte that differs, then writes the out-of-range value there: the
 * encoder is typed to the union and cannot produce one.
 */
import { describe, expect, it } from 'vitest';
import {
  BlockHealthState,
  DatanodeReportState,
  FileType,
  ReplicaState,
  decodeResponse,
  encodeResponse,
  type DatanodeReportEntry,
  type FileStatus,
  type RpcName,
} from '../../protocol/index.js';
import { decodeOne, dfsErrorOf } from './protocol-support.js';

function firstDifference(a: Buffer, b: Buffer): number {
  expect(a.length).toBe(b.length);
  const at = a.findIndex((byte, i) => byte !== b[i]);
  expect(at).toBeGreaterThan(0);
  return at;
}

/** Every union value decodes to itself; each value in `outside` is MALFORMED naming `field`. */
function checkField<V extends number>(
  name: RpcName,
  encodeWith: (v: V) => Buffer,
  values: readonly V[],
  field: string,
  read: (decoded: unknown) => unknown,
): void {
  const [first, second] = values;
  const at = firstDifference(encodeWith(first!), encodeWith(second!));
  for (const v of values) expect(read(decodeResponse(name, decodeOne(encodeWith(v))))).toBe(v);
  const outside = [0, Math.max(...values) + 1, 255].filter((v) => !values.some((u) => u === v));
  expect(outside.length).toBeGreaterThan(1);
  for (const bad of outside) {
    const bytes = encodeWith(first!);
    bytes[at] = bad;
    const err = dfsErrorOf(() => decodeResponse(name, decodeOne(bytes)));
    expect(err.code, `${field} ${bad}`).toBe('MALFORMED');
    expect(err.message).toContain(`unknown ${field} ${bad}`);
  }
}

const status = (type: FileType): FileStatus => ({
  path: '/a',
  type,
  length: 0,
  replication: 1,
  blockBytes: 1,
  mtimeMs: 0,
  blockCount: 0,
  underConstruction: false,
  childCount: 0,
  owner: 'alice',
  group: 'staff',
  permission: 0o644,
});

const reportEntry = (state: DatanodeReportState): DatanodeReportEntry => ({
  nodeId: 'dn-1',
  host: '10.0.0.1',
  port: 9866,
  state,
  capacityBytes: 1,
  usedBytes: 0,
  remainingBytes: 1,
  failedVolumes: 0,
  blockCount: 0,
  activeTransfers: 0,
  lastHeartbeatAgoMs: 0,
  lastBlockReportMs: 0,
  lastBlockReportBlocks: 0,
  drainBlocks: 0,
  drainStuckBlocks: 0,
});

const healthResponse = (health: BlockHealthState, state: ReplicaState): Buffer =>
  encodeResponse('blockHealth', 1, {
    fileLength: 5,
    replication: 3,
    underConstruction: false,
    hasMore: false,
    blocks: [
      {
        block: { blockId: 1, genStamp: 1, numBytes: 5 },
        offset: 0,
        health,
        replicas: [{ node: { nodeId: 'dn-1', host: 'h', port: 1 }, state }],
      },
    ],
  });

describe('enum-valued fields checked on decode (MALFORMED outside the union)', () => {
  it('FileStatus.type (stat, create and list answers)', () => {
    checkField(
      'stat',
      (t: FileType) => encodeResponse('stat', 1, status(t)),
      Object.values(FileType),
      'type',
      (d) => (d as FileStatus).type,
    );
  });

  it('DatanodeReportEntry.state (datanodeReport)', () => {
    checkField(
      'datanodeReport',
      (s: DatanodeReportState) => encodeResponse('datanodeReport', 1, { nodes: [reportEntry(s)] }),
      Object.values(DatanodeReportState),
      'state',
      (d) => (d as { nodes: DatanodeReportEntry[] }).nodes[0]!.state,
    );
  });

  it('BlockHealth.health (blockHealth)', () => {
    checkField(
      'blockHealth',
      (h: BlockHealthState) => healthResponse(h, ReplicaState.LIVE),
      Object.values(BlockHealthState),
      'health',
      (d) => (d as { blocks: { health: number }[] }).blocks[0]!.health,
    );
  });

  it('ReplicaHealth.state (blockHealth)', () => {
    checkField(
      'blockHealth',
      (s: ReplicaState) => healthResponse(BlockHealthState.HEALTHY, s),
      Object.values(ReplicaState),
      'replica state',
      (d) => (d as { blocks: { replicas: { state: number }[] }[] }).blocks[0]!.replicas[0]!.state,
    );
  });
});
