/**
 * The NameNode SIGKILLed with real DataNodes and real data behind it (issue 15, item 6):
 * uploads run at replication 3 while the NameNode is killed mid-workload; it restarts on
 * the same port, comes up in safe mode, and leaves it only because the DataNodes' block
 * reports account for the blocks (nobody forces it out). Then every upload that was
 * acknowledged before the kill reads back byte for byte, and fsck finds nothing missing.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DfsClient } from '../../src/client/dfs-client.js';
import { startCluster } from '../support/cluster.js';
import { getBuffer, putBuffer, sleep, testBytes, waitForDatanodes } from '../support/data-path.js';

const KiB = 1024;
const LAYOUT = { blockBytes: 256 * KiB, chunkBytes: 16 * KiB, packetBytes: 64 * KiB };

type Started = Awaited<ReturnType<typeof startCluster>>;
let started: Started | null = null;
const clients: DfsClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await started?.cleanup();
  started = null;
});

describe('the NameNode killed under real uploads', () => {
  it('restarts, leaves safe mode by block reports alone, and every acknowledged file reads back', async () => {
    started = await startCluster({
      datanodes: 3,
      namenodeEnv: { DFS_NAMENODE_SAFE_MODE_EXTENSION_MS: '500' },
      datanodeEnv: () => ({ DFS_DATANODE_HEARTBEAT_INTERVAL_MS: '300' }),
    });
    const { cluster } = started;
    const writer = new DfsClient({ namenode: cluster.namenodeAddress, requestTimeoutMs: 5_000 });
    clients.push(writer);
    await waitForDatanodes(writer, 3);

    const acknowledged = new Map<string, Buffer>();
    let stop = false;
    const uploads = (async () => {
      for (let i = 0; !stop && i < 200; i++) {
        const remote = `/killed/f${i}`;
        const data = testBytes(LAYOUT.blockBytes + 5_000 * (i + 1), 900 + i);
        try {
          await putBuffer(writer, remote, data, { replication: 3, ...LAYOUT });
          acknowledged.set(remote, data);
        } catch {
          // In flight when the NameNode died: not acknowledged, so nothing is promised.
          return;
        }
      }
    })();
    // Let some uploads be acknowledged, then kill the NameNode in the middle of the next ones.
    for (let i = 0; i < 200 && acknowledged.size < 5; i++) await sleep(50);
    expect(acknowledged.size).toBeGreaterThanOrEqual(5);
    await cluster.namenode.kill();
    stop = true;
    await uploads;

    await cluster.restartNamenode();
    const reader = new DfsClient({ namenode: cluster.namenodeAddress, requestTimeoutMs: 10_000 });
    clients.push(reader);
    const first = await reader.safeMode('get');
    expect(first.on, 'a restarted NameNode starts in safe mode').toBe(true);
    const off = await reader.waitSafeModeOff(30_000, 100);
    expect(off.manual).toBe(false);
    expect(off.reportedBlocks).toBeGreaterThanOrEqual(acknowledged.size);

    for (const [remote, data] of acknowledged) {
      expect((await getBuffer(reader, remote)).equals(data), remote).toBe(true);
    }
    const stats = await reader.replicationStats();
    expect(stats.missing).toBe(0);
    expect(stats.corrupt).toBe(0);
  });
});
