/**
 * The DataNode's node-wide bound on what replica reads hold (`readBufferBytesMax`), across
 * real processes: peers that ask for a block and never read the answer make a DataNode with
 * a 2 MiB bound (one read's two 1 MiB packets) hold no more than that, whatever their
 * number; the reads past it wait (`dfs_datanode_reads_waiting`), and once those peers are
 * gone nothing stays held and the block reads back identical.
 */
import { describe, expect, it } from 'vitest';
import { encodeDataRequest } from '../../protocol/index.js';
import type { Block } from '../../protocol/shared-structures.js';
import { DfsClient } from '../../src/client/dfs-client.js';
import { startCluster } from '../support/cluster.js';
import { getBuffer, putBuffer, testBytes, waitFor, waitForDatanodes } from '../support/data-path.js';
import { sample, scrape } from '../support/http.js';
import { connectData } from '../support/raw-data-peer.js';

const MiB = 1024 * 1024;
const BOUND = 2 * MiB;
const HOSTILE = 4;

describe('a DataNode with a 2 MiB readBufferBytesMax', () => {
  it('peers that never read their blocks hold at most the bound; the rest wait; all is given back', async () => {
    const { cluster, cleanup } = await startCluster({
      datanodes: 1,
      datanodeEnv: () => ({ DFS_DATANODE_READ_BUFFER_BYTES_MAX: String(BOUND) }),
    });
    const client = new DfsClient({ namenode: cluster.namenodeAddress, requestTimeoutMs: 30_000 });
    const peers: Array<Awaited<ReturnType<typeof connectData>>> = [];
    try {
      await waitForDatanodes(client, 1);
      // Larger than the loopback socket buffers, so a peer that does not read stalls the send.
      const data = testBytes(48 * MiB + 123, 31);
      await putBuffer(client, '/held/big', data, { replication: 1 });
      const block: Block = (await client.getBlockLocations('/held/big', 0, 0)).blocks[0]!.block;
      const dn = cluster.datanodes[0]!;
      for (let i = 0; i < HOSTILE; i++) {
        const p = await connectData(dn.port);
        p.socket.pause();
        p.write(encodeDataRequest('readBlock', 1, { block, offset: 0, length: block.numBytes }));
        peers.push(p);
      }
      const metrics = await waitFor('the reads past the bound to wait', async () => {
        const text = await scrape(dn.httpPort);
        return sample(text, 'dfs_datanode_reads_waiting') === HOSTILE - 1 ? text : undefined;
      });
      expect(sample(metrics, 'dfs_datanode_read_buffer_bytes')).toBe(BOUND);
      for (const p of peers) p.socket.destroy();
      await waitFor('every read buffer given back', async () => {
        const text = await scrape(dn.httpPort);
        return sample(text, 'dfs_datanode_read_buffer_bytes') === 0 &&
          sample(text, 'dfs_datanode_reads_waiting') === 0
          ? true
          : undefined;
      });
      expect((await getBuffer(client, '/held/big')).equals(data)).toBe(true);
    } finally {
      for (const p of peers) p.socket.destroy();
      client.close();
      await cleanup();
    }
  });
});
