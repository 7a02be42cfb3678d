/**
 * The DataNode's fence against a deposed active NameNode (issue 14; HDFS `BPOfferService`,
 * which takes commands only from the NameNode that last claimed to be active). Every
 * register and heartbeat answer carries the answering NameNode's HA epoch (PROTOCOL.md,
 * 0x20 and 0x21): the active's leader-key create revision (src/ha/election.ts), 0 from a
 * standby or a NameNode with the local edit log. This keeps the highest epoch seen and
 * lets through the commands that change replicas (DELETE_BLOCKS, REPLICATE, RECOVER_BLOCK,
 * and any type this DataNode does not know) only from an answer of exactly that epoch.
 * REREGISTER and BLOCK_REPORT concern the one link they came on (a standby sends REREGISTER
 * when it does not know the node) and pass from any epoch.
 *
 * Why it must be persisted: a deposed active applies a change in memory and queues its
 * deletions before its journal write fails (src/namenode/client-rpc.ts `mutate`), and its
 * answer may sit in a socket buffer or a slow network for as long as the DataNode waits for
 * it. A DataNode restarted in between must still know the new epoch, so the epoch is written
 * (temp file, fsync, rename, fsync of the folder: src/common/fs-util.ts `writeFileAtomic`)
 * before any command of the new epoch is carried out:
 *
 *   DIR/NAMENODE_EPOCH   {"clusterId", "epoch"} (JSON), in every data directory in service;
 *                        the highest of them counts at start
 *
 *   answer's epoch vs highest | action
 *   --------------------------+---------------------------------------------------------
 *   higher                    | persist it (fsync'ed), then it is the highest: carry out
 *   equal                     | carry out
 *   lower                     | drop each fenced command: a warning and
 *                             |   dfs_datanode_fenced_commands_total
 *
 * With one NameNode on the local edit log every epoch is 0: nothing is ever dropped. A file
 * written under another cluster id is ignored (a reformatted cluster starts at 0 again).
 * If etcd itself is rebuilt from nothing its revisions start again at 1: the operator then
 * removes NAMENODE_EPOCH from the data directories (README.md, "HA").
 */
import fs from 'node:fs';
import path from 'node:path';
import { CommandType, type DatanodeCommand } from '../../protocol/datanode-namenode-messages.js';
import { assert, rethrowIfBug } from '../../protocol/errors.js';
import { writeFileAtomic } from '../common/fs-util.js';
import type { Logger } from '../common/logger.js';

export const EPOCH_FILE = 'NAMENODE_EPOCH';

/** Commands that pass whatever the epoch: they touch no replica. */
const UNFENCED: ReadonlySet<number> = new Set<number>([CommandType.REREGISTER, CommandType.BLOCK_REPORT]);

/** What the fence needs of the storage: where to keep the file, and the cluster it belongs to. */
export interface EpochStore {
  readonly clusterId: string;
  inService(): ReadonlyArray<{ dir: string }>;
}

export class NamenodeEpoch {
  private highest = 0;
  /** Persisting one epoch after another, in order. */
  private writing: Promise<void> = Promise.resolve();
  private loaded = false;

  constructor(
    private readonly store: EpochStore,
    private readonly log: Logger,
    /** Counts each command dropped (datanode-metrics.ts `fencedCommands`). */
    private readonly onFenced: (count: number) => void,
  ) {}

  /** The highest epoch seen (and persisted); 0 until the first answer. */
  get epoch(): number {
    return this.highest;
  }

  /**
   * Reads the persisted epoch at the first answer, when the storage knows its cluster (it
   * learns it on first contact). A file that does not parse is skipped with a warning: it is
   * written whole by a rename, so it is not a torn write but something else's.
   */
  private load(): void {
    if (this.loaded) return;
    assert(this.store.clusterId !== '', 'NameNode epoch read before the cluster id is known');
    this.loaded = true;
    for (const v of this.store.inService()) {
      const file = path.join(v.dir, EPOCH_FILE);
      if (!fs.existsSync(file)) continue;
      let saved: { clusterId?: unknown; epoch?: unknown };
      try {
        saved = JSON.parse(fs.readFileSync(file, 'utf8')) as typeof saved;
      } catch (err) {
        rethrowIfBug(err);
        this.log.warn({ file, err: (err as Error).message }, 'NameNode epoch file unreadable; skipped');
        continue;
      }
      if (saved.clusterId !== this.store.clusterId) continue;
      if (typeof saved.epoch !== 'number' || !Number.isSafeInteger(saved.epoch) || saved.epoch < 0) continue;
      this.highest = Math.max(this.highest, saved.epoch);
    }
    if (this.highest > 0) this.log.info({ epoch: this.highest }, 'highest NameNode epoch seen before');
  }

  /**
   * Takes note of an answer's epoch (persisting a higher one before it resolves) and returns
   * the commands of that answer which may be carried out; the others are logged and counted.
   */
  async admit(
    epoch: number,
    commands: readonly DatanodeCommand[],
    namenode: string,
  ): Promise<DatanodeCommand[]> {
    this.load();
    if (epoch > this.highest) await this.advance(epoch, namenode);
    if (epoch >= this.highest) return [...commands];
    const fenced = commands.filter((c) => !UNFENCED.has(c.type));
    if (fenced.length === 0) return [...commands];
    this.log.warn(
      {
        namenode,
        epoch,
        highestEpoch: this.highest,
        commands: fenced.map((c) => ({ type: c.type, blocks: c.blocks.map((b) => b.blockId) })),
      },
      'commands from a NameNode with an older epoch (a deposed active) dropped',
    );
    this.onFenced(fenced.length);
    return commands.filter((c) => UNFENCED.has(c.type));
  }

  /** Persists `epoch`, after any write before it; a failed write fails this call only. */
  private advance(epoch: number, namenode: string): Promise<void> {
    const write = async (): Promise<void> => {
      if (epoch <= this.highest) return;
      const text = `${JSON.stringify({ clusterId: this.store.clusterId, epoch })}\n`;
      for (const v of this.store.inService())
        await writeFileAtomic(path.join(v.dir, EPOCH_FILE), Buffer.from(text));
      const previous = this.highest;
      this.highest = epoch;
      assert(this.highest > previous, 'the NameNode epoch went back');
      this.log.info(
        { namenode, epoch, previousEpoch: previous },
        'a NameNode with a higher epoch: only its commands are carried out now',
      );
    };
    const done = this.writing.then(write);
    this.writing = done.catch((err: unknown) => rethrowIfBug(err));
    return done;
  }
}
