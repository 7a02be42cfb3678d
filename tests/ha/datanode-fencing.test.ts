/**
 * DataNode epoch fencing across real processes on a real etcd (issue 14; src/datanode/
 * namenode-epoch.ts, HDFS `BPOfferService`): a delayed delete command from a deposed active
 * is ignored by DataNodes.
 *
 * The deposed active's delete is one the new active never heard of: nn1 is cut off from
 * etcd (its etcd endpoint is a TCP forwarder the test drops, tests/support/tcp-proxy.ts), a
 * client deletes a file through it while its lease still counts, and nn1 applies the delete
 * in memory and queues the replica's deletion before its journal write (which can no longer
 * succeed) is durable (src/namenode/client-rpc.ts `mutate`). The DataNode reaches nn1
 * through a second forwarder, which holds nn1's heartbeat answer carrying that DELETE_BLOCKS
 * command. nn1 steps down and exits; nn2 takes over with a higher epoch, which the DataNode
 * hears (and writes down) in nn2's heartbeat answers; only then is the held answer
 * delivered. The DataNode must drop the command: the replica stays on disk, the file reads
 * back through the new active, and the drop is logged and counted.
 * Without etcd the file is skipped, saying why.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DfsClient } from '../../src/client/dfs-client.js';
import { waitFor, waitForLocations } from '../support/data-path.js';
import { ETCD_SKIP_REASON, etcdSuite, HAVE_ETCD } from '../support/etcd.js';
import { HaPair, untilActive, untilLogged } from '../support/ha-pair.js';
import { sample, scrape } from '../support/http.js';
import { startTcpProxy } from '../support/tcp-proxy.js';

if (!HAVE_ETCD) console.warn(ETCD_SKIP_REASON);

/** Long enough that the delete reaches the DataNode while nn1 still counts its lease valid. */
const TTL_SECONDS = 4;
const EPOCH_ADVANCED = 'a NameNode with a higher epoch: only its commands are carried out now';
const DROPPED = 'commands from a NameNode with an older epoch (a deposed active) dropped';
const DELETED = 'replica deleted on NameNode request';

describe.skipIf(!HAVE_ETCD)('DataNode epoch fencing', () => {
  const suite = etcdSuite();
  let pair: HaPair | null = null;
  afterEach(async () => {
    await pair?.cleanup();
    pair = null;
  });

  it('a delayed delete command from a deposed active is ignored by DataNodes', async () => {
    const ha = (pair = new HaPair(suite.etcd.endpoints, TTL_SECONDS));
    const etcdForNn1 = await startTcpProxy(suite.etcd.members[0]!.clientPort);
    ha.onCleanup(() => etcdForNn1.close());
    const nn1 = await ha.namenode(0, 'nn1', { endpoints: [`http://127.0.0.1:${etcdForNn1.port}`] });
    await untilActive(nn1);
    const nn2 = await ha.namenode(1, 'nn2');
    const toNn1 = await startTcpProxy(nn1.port);
    ha.onCleanup(() => toNn1.close());
    const { dn, dataDir } = await ha.datanode('dn0', `127.0.0.1:${toNn1.port},127.0.0.1:${nn2.port}`);

    const c1 = new DfsClient({ namenode: `127.0.0.1:${nn1.port}`, requestTimeoutMs: 20_000 });
    ha.onCleanup(() => c1.close());
    await waitFor('the DataNode live on nn1', async () =>
      (await c1.datanodeReport()).some((n) => n.state === 1) ? true : undefined,
    );
    const data = randomBytes(20_000);
    const out = c1.create('/keep', { replication: 1 });
    out.end(data);
    await new Promise<void>((resolve, reject) => out.on('finish', resolve).on('error', reject));
    const [located] = await waitForLocations(c1, '/keep', 1);
    const blockId = located!.block.blockId;
    const replicaDir = path.join(dataDir, 'current', 'finalized', `blk_${blockId}`);
    expect(fs.existsSync(replicaDir)).toBe(true);
    const epoch1 = sample(await scrape(nn1.httpPort), 'dfs_namenode_ha_epoch')!;
    expect(epoch1).toBeGreaterThan(0);
    await untilLogged(
      dn,
      'the DataNode to hear epoch 1',
      (l) => l.msg === EPOCH_ADVANCED && l.epoch === epoch1,
    );

    // nn1's next answer naming the block (its DELETE_BLOCKS command) is held on its way.
    const id = Buffer.alloc(8);
    id.writeBigUInt64BE(BigInt(blockId));
    toNn1.holdRepliesFrom((chunk) => chunk.includes(id));
    // Cut from etcd, nn1 still serves until its lease may lapse: it applies the delete and
    // queues the deletion, but the delete never reaches the journal.
    etcdForNn1.drop();
    const deleted = c1.delete('/keep').then(
      () => 'acknowledged',
      (err: { code?: string }) => err.code ?? 'failed',
    );
    await waitFor('the delete command held', () => (toNn1.bytesHeld > 0 ? true : undefined));

    // nn1 steps down on its own and exits; nn2 takes over with a higher epoch.
    expect(await nn1.waitExit()).toBe(2);
    expect(await deleted).not.toBe('acknowledged');
    await untilActive(nn2, (TTL_SECONDS + 8) * 1000);
    const epoch2 = sample(await scrape(nn2.httpPort), 'dfs_namenode_ha_epoch')!;
    expect(epoch2).toBeGreaterThan(epoch1);
    await untilLogged(
      dn,
      'the DataNode to hear the new epoch',
      (l) => l.msg === EPOCH_ADVANCED && l.epoch === epoch2,
    );

    // The deposed active's answer arrives now: the DataNode must drop its command.
    toNn1.releaseReplies();
    const outcome = await untilLogged(
      dn,
      'the stale command dropped or carried out',
      (l) => l.msg === DROPPED || l.msg === DELETED,
    );
    // A heartbeat or two later the replica is still there, and the file reads back through nn2.
    await new Promise((r) => setTimeout(r, 1000));
    expect(fs.existsSync(replicaDir), 'the replica is on disk').toBe(true);
    expect(dn.logs.some((l) => l.msg === DELETED)).toBe(false);
    expect(outcome).toMatchObject({ msg: DROPPED, epoch: epoch1, highestEpoch: epoch2 });
    expect(sample(await scrape(dn.httpPort), 'dfs_datanode_fenced_commands_total')).toBe(1);
    const c2 = new DfsClient({ namenode: `127.0.0.1:${nn2.port}`, requestTimeoutMs: 10_000 });
    ha.onCleanup(() => c2.close());
    const chunks: Buffer[] = [];
    for await (const chunk of c2.open('/keep')) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
    // The epoch is on disk, for a DataNode restarted before the stale answer comes.
    const saved = JSON.parse(fs.readFileSync(path.join(dataDir, 'NAMENODE_EPOCH'), 'utf8')) as {
      epoch: number;
    };
    expect(saved.epoch).toBe(epoch2);
  }, 90_000);
});
