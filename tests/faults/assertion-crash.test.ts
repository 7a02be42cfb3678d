/**
 * Our own bugs crash the daemon; they are never answered as errors. Each test plants a bug
 * through a DFS_FAULTS `bug*` hook in a real daemon process and expects the process to log
 * the failed assertion at fatal and exit with status 70 (src/common/crash.ts), instead of
 * carrying on from a broken state. Unit tests pin the paired assertions themselves.
 */
import { describe, expect, it } from 'vitest';
import { AssertionFailure, DfsError } from '../../protocol/errors.js';
import { EXIT_BUG } from '../../src/common/crash.js';
import { TransferCount, WritesInProgress } from '../../src/datanode/datanode-context.js';
import { clusterPerTest } from '../support/cluster.js';
import { putBuffer, testBytes, waitForDatanodes, within } from '../support/data-path.js';

const per = clusterPerTest();

function fatalLine(logs: ReadonlyArray<Record<string, unknown>>): Record<string, unknown> | undefined {
  return logs.find((l) => l.level === 60);
}

describe('a failed assertion in a daemon', () => {
  it('NameNode: a skipped txid crashes it before the record is written; what was acknowledged survives', async () => {
    const cluster = await per.start({ namenodeEnv: { DFS_FAULTS: JSON.stringify({ bugSkipTxidAt: 4 }) } });
    let client = per.client(cluster);
    for (const d of ['/a1', '/a2', '/a3']) await client.mkdir(d);
    // The fourth mutation would be txid 4; the planted bug gives it 5.
    await expect(client.mkdir('/a4')).rejects.toBeInstanceOf(DfsError);
    expect(await within(10_000, 'the NameNode to exit', cluster.namenode.waitExit())).toBe(EXIT_BUG);
    const fatal = fatalLine(cluster.namenode.logs);
    expect(fatal?.msg).toBe('internal error; exiting');
    expect(JSON.stringify(fatal?.err)).toContain('assertion failed: edit log txid 5 queued, expected 4');

    client.close();
    cluster.options.namenodeEnv = {};
    await cluster.restartNamenode();
    client = per.client(cluster);
    for (const d of ['/a1', '/a2', '/a3']) expect(await client.exists(d)).not.toBeNull();
    expect(await client.exists('/a4')).toBeNull();
  });

  it('DataNode: letting go of more held bytes than were held crashes it', async () => {
    const cluster = await per.start({
      datanodes: 1,
      datanodeEnv: () => ({ DFS_FAULTS: JSON.stringify({ bugUnholdExtraBytes: 1 }) }),
    });
    const client = per.client(cluster);
    await waitForDatanodes(client, 1);
    await expect(putBuffer(client, '/f', testBytes(256 * 1024, 1), { replication: 1 })).rejects.toThrow();
    const dn = cluster.datanodes[0]!;
    expect(await within(10_000, 'the DataNode to exit', dn.waitExit())).toBe(EXIT_BUG);
    const fatal = fatalLine(dn.logs);
    expect(fatal?.msg).toBe('internal error; exiting');
    expect(JSON.stringify(fatal?.err)).toMatch(
      /assertion failed: connection \d+: unhold of \d+ bytes with \d+ held/,
    );
  });
});

describe('paired counters', () => {
  it('a transfer ended twice is an AssertionFailure, not a DfsError', () => {
    const transfers = new TransferCount();
    const end = transfers.begin();
    expect(transfers.active).toBe(1);
    end();
    expect(transfers.active).toBe(0);
    expect(end).toThrow(AssertionFailure);
    expect(() => end()).not.toThrow(DfsError);
  });

  it('a block claimed by a second writer is an AssertionFailure; stopWriter stops the owner, whose teardown lets go', () => {
    const writes = new WritesInProgress();
    let stopped = 0;
    const first = {
      stopForRecovery: () => {
        stopped++;
        writes.release(7, first);
      },
    };
    writes.claim(7, first);
    expect(() => writes.claim(7, { stopForRecovery: () => {} })).toThrow(AssertionFailure);
    writes.release(7, { stopForRecovery: () => {} }); // not the owner: nothing happens
    expect(writes.isWriting(7)).toBe(true);
    writes.stopWriter(7);
    expect(stopped).toBe(1);
    expect(writes.isWriting(7)).toBe(false);
    writes.stopWriter(7); // nobody holds it: nothing happens
    expect(stopped).toBe(1);
  });
});
