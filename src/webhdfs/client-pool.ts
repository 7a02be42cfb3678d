/**
 * The DfsClients a WebHDFS gateway (NameNode or DataNode) acts through, one per `user.name`,
 * each on one pipelined NameNode connection, reused across requests. A client is checked out
 * for the whole of a request (a download streams through it), and only idle ones are closed:
 * past `usersMax` clients, the least recently used idle ones go. Busy clients are never
 * closed, so the pool can exceed `usersMax` by at most the requests in flight, which the
 * HTTP server's connection cap bounds (http-server.ts).
 */
import { randomUUID } from 'node:crypto';
import { DfsClient, type DfsClientOptions } from '../client/dfs-client.js';

const USERS_MAX_DEFAULT = 32;
/**
 * WebHDFS's clients have no umask: a mode made through WebHDFS is the request's `permission`
 * or HDFS's default for it (644 for a file, 755 for a directory), as HDFS's gateways set
 * `fs.permissions.umask-mode` to 000; the umask is the WebHDFS client's to apply.
 */
export const WEBHDFS_UMASK = 0;
const REQUEST_TIMEOUT_MS = 60_000;

interface Entry {
  client: DfsClient;
  busy: number;
}

export class ClientPool {
  /** Insertion order is recency: a checked-out user moves to the end. */
  private readonly entries = new Map<string, Entry>();
  private closed = false;

  constructor(
    /** The NameNode ("HOST:PORT"), read when a client is made. */
    private readonly namenode: () => string,
    /** Names the clients in NameNode logs and leases. */
    private readonly role: string,
    /** Bits taken from new modes; WebHDFS passes WEBHDFS_UMASK. Default: the DfsClient's. */
    private readonly umask?: number,
    /**
     * A DataNode gateway's own node: its clients write the blocks it heads and read the replicas
     * it holds without a socket (DfsClientOptions).
     */
    private readonly local: Pick<DfsClientOptions, 'localFirstHop' | 'shortCircuitReads'> = {},
    private readonly usersMax = USERS_MAX_DEFAULT,
  ) {}

  /** Runs `fn` with `user`'s client, checked out until it settles. */
  async use<T>(user: string, fn: (client: DfsClient) => Promise<T>): Promise<T> {
    let e = this.entries.get(user);
    if (e === undefined || this.closed) {
      e = {
        client: new DfsClient({
          namenode: this.namenode(),
          user,
          clientName: `webhdfs-${this.role}-${process.pid}-${randomUUID().slice(0, 8)}`,
          requestTimeoutMs: REQUEST_TIMEOUT_MS,
          umask: this.umask,
          ...this.local,
        }),
        busy: 0,
      };
    }
    this.entries.delete(user);
    if (!this.closed) this.entries.set(user, e);
    e.busy++;
    this.trim();
    try {
      return await fn(e.client);
    } finally {
      e.busy--;
      if (this.closed && e.busy === 0) e.client.close();
      this.trim();
    }
  }

  private trim(): void {
    if (this.entries.size <= this.usersMax) return;
    for (const [user, e] of this.entries) {
      if (this.entries.size <= this.usersMax) return;
      if (e.busy > 0) continue;
      this.entries.delete(user);
      e.client.close();
    }
  }

  /** Closes idle clients now and busy ones when their request ends. */
  close(): void {
    this.closed = true;
    for (const e of this.entries.values()) if (e.busy === 0) e.client.close();
    this.entries.clear();
  }
}
