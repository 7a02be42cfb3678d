/**
 * The nodes an operator decommissioned, kept in the name directory so a NameNode restart
 * does not put a drained node back into service (HDFS keeps them in its exclude file):
 *
 *   NAME_DIR/decommissioned.json    {"version": 1, "nodes": [{"nodeId", "address"}]}
 *
 * The file is rewritten whole (temp file, fsync, rename, fsync of the directory) after every
 * change, and the `decommission` RPC is answered only once it is on disk. Writes are
 * serialized, so the last change always lands last. Only membership is stored, not
 * "decommissioning" vs "decommissioned": after a restart a remembered node drains again and
 * becomes decommissioned as soon as the block reports show its blocks are all elsewhere.
 *
 * A missing file means no node is decommissioned. A file that does not parse stops the
 * start-up with CORRUPT_LOG naming it: silently forgetting it would return drained nodes to
 * service, so the operator must repair or delete it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DfsError } from '../../protocol/errors.js';
import { writeFileAtomic } from '../common/fs-util.js';
import type { DecommissionedNode } from './datanode-registry.js';

export const DECOMMISSIONED_FILE = 'decommissioned.json';
const FORMAT_VERSION = 1;

interface StoredFile {
  version: number;
  nodes: DecommissionedNode[];
}

export class DecommissionStore {
  readonly file: string;
  private writing: Promise<void> = Promise.resolve();

  constructor(nameDir: string) {
    this.file = path.join(nameDir, DECOMMISSIONED_FILE);
  }

  load(): DecommissionedNode[] {
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw this.corrupt((err as Error).message);
    }
    const stored = parsed as Partial<StoredFile> | null;
    if (stored === null || stored.version !== FORMAT_VERSION || !Array.isArray(stored.nodes))
      throw this.corrupt(`expected {"version": ${FORMAT_VERSION}, "nodes": [...]}`);
    return stored.nodes.map((n: unknown) => {
      const { nodeId, address } = (n ?? {}) as Partial<DecommissionedNode>;
      if (typeof nodeId !== 'string' || typeof address !== 'string')
        throw this.corrupt('every node needs a string nodeId and address');
      return { nodeId, address };
    });
  }

  /** Replaces the file's content with `nodes`; resolves once it is durable. */
  save(nodes: readonly DecommissionedNode[]): Promise<void> {
    const body: StoredFile = {
      version: FORMAT_VERSION,
      nodes: nodes.map((n) => ({ nodeId: n.nodeId, address: n.address })),
    };
    const data = Buffer.from(`${JSON.stringify(body, null, 2)}\n`);
    const next = this.writing.catch(() => {}).then(() => writeFileAtomic(this.file, data));
    this.writing = next;
    return next;
  }

  private corrupt(reason: string): DfsError {
    return new DfsError(
      'CORRUPT_LOG',
      `${this.file} is not a valid list of decommissioned nodes (${reason}); repair or delete it`,
    );
  }
}
