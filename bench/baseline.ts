/**
 * The raw baseline of the data-path suites: the same bytes over the same number of TCP
 * hops, each hop a process of its own writing its own file (bench/baseline-hop.ts), so
 * DFS's upload and download figures can be read as a fraction of what plain Node streams
 * reach on this machine in the same run.
 *
 *   upload, replication R:  source file -> hop 1 -> ... -> hop R; durable: each hop syncs
 *                           behind every 8 MiB and fdatasyncs its file at the end (page
 *                           cache: neither); an acknowledgement comes back up the chain
 *   download:               hop's file -> client, which discards the bytes
 *   copy (re-replication):  hop A's file -> hop B, which fdatasyncs it and acknowledges
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { once } from 'node:events';
import { pipeline } from 'node:stream/promises';
import { openHop, READ_CHUNK_BYTES } from './baseline-hop.js';

export class BaselineHops {
  private constructor(
    private readonly children: ChildProcess[],
    readonly ports: number[],
    /** The baseline's client process (started with `withClient`), or null. */
    private readonly client: { child: ChildProcess; port: number } | null,
  ) {}

  /**
   * Starts one hop process per directory (`dfs-bench baseline-hop --dir D`), and with
   * `withClient` one more that acts as the baseline's client (uploads, downloads): a lean
   * process of its own, as the yardstick's client is, not the bench's.
   */
  static async start(
    benchScript: string,
    dirs: readonly string[],
    withClient = false,
  ): Promise<BaselineHops> {
    const children: ChildProcess[] = [];
    const ports: number[] = [];
    const startOne = async (dir: string): Promise<[ChildProcess, number]> => {
      const child = spawn(process.execPath, [benchScript, 'baseline-hop', '--dir', dir], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      children.push(child);
      return [child, await readPort(child)];
    };
    let client: { child: ChildProcess; port: number } | null = null;
    try {
      for (const dir of dirs) ports.push((await startOne(dir))[1]);
      if (withClient) {
        const [child, port] = await startOne(`${dirs[0]}-client`);
        client = { child, port };
      }
    } catch (err) {
      for (const c of children) c.kill('SIGKILL');
      throw err;
    }
    return new BaselineHops(
      children.filter((c) => c !== client?.child),
      ports,
      client,
    );
  }

  /** The hop processes (not the client). */
  get pids(): number[] {
    return this.children.map((c) => c.pid!);
  }

  get clientPid(): number | null {
    return this.client?.child.pid ?? null;
  }

  /**
   * Sends `source` down the chain of hops `chain` (indices); resolves on the acknowledgement.
   * With a client process, that process reads and sends the file; else this one does.
   */
  async upload(source: string, file: string, chain: readonly number[], durable = true): Promise<void> {
    const ports = chain.map((i) => this.ports[i]!);
    if (this.client !== null) {
      const { sock, ack } = await openHop(this.client.port, {
        op: 'send',
        file,
        source,
        next: ports,
        sync: durable,
      });
      await ack;
      sock.destroy();
      return;
    }
    const [first, ...rest] = ports;
    const { sock, ack } = await openHop(first!, { op: 'write', file, next: rest, sync: durable });
    await Promise.all([
      pipeline(fs.createReadStream(source, { highWaterMark: READ_CHUNK_BYTES }), sock),
      ack,
    ]);
    sock.destroy();
  }

  /** Has hop `from` send its file `file` to hop `to`; resolves once `to` has it on disk. */
  async copy(file: string, from: number, to: number): Promise<void> {
    const { sock, ack } = await openHop(this.ports[from]!, { op: 'copy', file, next: [this.ports[to]!] });
    try {
      await ack;
    } finally {
      sock.destroy();
    }
  }

  /** Has the client process read `file` from hop `hop`, discarding the bytes; resolves with how many came. */
  async download(file: string, hop: number): Promise<number> {
    if (this.client === null)
      throw new Error('baseline download needs the client process (start withClient)');
    const sock = net.connect({ host: '127.0.0.1', port: this.client.port, noDelay: true });
    await once(sock, 'connect');
    sock.write(`${JSON.stringify({ op: 'fetch', file, next: [this.ports[hop]!] })}\n`);
    let reply = '';
    sock.on('data', (b: Buffer) => (reply += b.toString('utf8')));
    await once(sock, 'end');
    sock.destroy();
    return Number(reply.trim());
  }

  stop(): void {
    for (const c of this.children) c.kill('SIGKILL');
    this.client?.child.kill('SIGKILL');
  }
}

function readPort(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('baseline hop did not start in 10 s')), 10_000);
    child.once('exit', (code) => reject(new Error(`baseline hop exited (${code})`)));
    const out = child.stdout!;
    let text = '';
    out.on('data', (b: Buffer) => {
      text += b.toString('utf8');
      const m = /^(\d+)\n/.exec(text);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
  });
}
