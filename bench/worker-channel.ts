/**
 * The coordinator <-> worker-process channel of the bench suites. A suite spreads its load
 * generators (client connections, simulated DataNodes) over forked copies of `dfs-bench`
 * so that the generator's own CPU is not one event loop's worth at most, and drives each
 * copy over the IPC channel with one request at a time: the coordinator asks, the worker
 * answers with the expected message type or `{ type: 'error' }`.
 *
 * Lifetime: a worker ends when told (`exit`), and also when the coordinator goes away
 * (finished, crashed or interrupted: the IPC channel disconnects), so no load generator
 * outlives its bench. The coordinator kills a worker that does not exit within 5 s of
 * being told, so a request stuck forever cannot hold the bench.
 */
import { fork, type ChildProcess } from 'node:child_process';

export interface WorkerMessage {
  type: string;
}

type ErrorReply = { type: 'error'; message: string };

/** The coordinator's side: one forked worker. */
export class WorkerProcess<To extends WorkerMessage, From extends WorkerMessage> {
  private waiting: { want: string; resolve: (m: From) => void; reject: (e: Error) => void } | null = null;
  private dead: Error | null = null;

  private constructor(private readonly child: ChildProcess) {
    child.on('message', (m: From | ErrorReply) => {
      const w = this.waiting;
      this.waiting = null;
      if (w === null) return;
      if (m.type === 'error') w.reject(new Error(`bench worker ${child.pid}: ${(m as ErrorReply).message}`));
      else if (m.type !== w.want)
        w.reject(new Error(`bench worker ${child.pid}: expected ${w.want}, got ${m.type}`));
      else w.resolve(m as From);
    });
    child.on('exit', (code, signal) => {
      this.dead = new Error(`bench worker ${child.pid} exited (${code ?? signal})`);
      this.waiting?.reject(this.dead);
      this.waiting = null;
    });
  }

  /** Forks `script args...` with an IPC channel; its stdout and stderr are ours. */
  static fork<To extends WorkerMessage, From extends WorkerMessage>(
    script: string,
    args: string[],
  ): WorkerProcess<To, From> {
    return new WorkerProcess<To, From>(
      fork(script, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
    );
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Sends `msg` and resolves with the worker's answer, which must be of type `want`. */
  ask<W extends From['type']>(msg: To, want: W): Promise<Extract<From, { type: W }>> {
    return new Promise((resolve, reject) => {
      if (this.dead) return reject(this.dead);
      if (this.waiting !== null)
        return reject(new Error(`bench worker ${this.child.pid}: one request at a time`));
      this.waiting = { want, resolve: resolve as (m: From) => void, reject };
      this.child.send(msg);
    });
  }

  async close(): Promise<void> {
    if (this.dead) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.send({ type: 'exit' });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}

/**
 * The worker's side: answers each request with what `handle` returns (or throws), until
 * told to exit or the coordinator disconnects; `cleanup` runs before the process ends.
 */
export function serveWorker<To extends WorkerMessage, From extends WorkerMessage>(
  usage: string,
  handle: (m: To) => From | Promise<From>,
  cleanup: () => void,
): void {
  if (process.send === undefined) throw new Error(usage);
  const send = (m: From | ErrorReply): void => {
    process.send!(m);
  };
  process.on('disconnect', () => {
    cleanup();
    process.exit(0);
  });
  process.on('message', (m: To) => {
    if (m.type === 'exit') {
      process.disconnect();
      return;
    }
    let answer: From | Promise<From>;
    try {
      answer = handle(m);
    } catch (err) {
      send({ type: 'error', message: (err as Error).message });
      return;
    }
    Promise.resolve(answer).then(send, (err: unknown) =>
      send({ type: 'error', message: (err as Error).message }),
    );
  });
}
