/**
 * A DataNode whose NameNode cannot be reached says so at the default log level, with the
 * reason, and not once per retry (issue 10, item 8; src/datanode/namenode-link.ts): a real
 * DataNode pointed at a closed port warns at once, then again only after a growing gap
 * while its retries go on; once a NameNode listens on that port, the DataNode registers
 * and its registration line says how many attempts failed.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DaemonProcess } from '../../src/local/daemon-process.js';
import { startCluster, tempDir } from '../support/cluster.js';
import { waitFor } from '../support/data-path.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A port nothing listens on (bound once by us, then closed). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const CANNOT_REACH = 'cannot reach the NameNode; retrying';

describe('a DataNode that cannot reach its NameNode', () => {
  it('warns with the reason at the default level, backs off its warnings, and says when it registered', async () => {
    const port = await closedPort();
    const dir = tempDir();
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const dn = new DaemonProcess({
      name: 'datanode',
      args: [
        'datanode',
        '--namenode',
        `127.0.0.1:${port}`,
        '--data-dir',
        path.join(dir, 'data'),
        '--host',
        '127.0.0.1',
        '--port',
        '0',
        '--http-port',
        '0',
      ],
      readyMessage: 'datanode listening',
    });
    cleanups.push(() => dn.kill());
    await dn.start();

    const warns = (): Array<Record<string, unknown>> => dn.logs.filter((r) => r.msg === CANNOT_REACH);
    const first = await waitFor('the first warning', () => warns()[0], 5_000);
    expect(first.level).toBe(40);
    expect(first.attempts).toBe(1);
    expect(String(first.err)).toMatch(/ECONNREFUSED/);
    // The second warning comes only after a gap, with the retries in between counted.
    const second = await waitFor('the second warning', () => warns()[1], 10_000);
    expect(second.attempts as number).toBeGreaterThanOrEqual(3);
    expect(second.failingForMs as number).toBeGreaterThanOrEqual(2_000);
    expect(Date.parse(String(second.time)) - Date.parse(String(first.time))).toBeGreaterThanOrEqual(2_000);
    expect(warns().length).toBe(2);

    // A NameNode comes up on that port: the DataNode registers and says after how many failures.
    const { cleanup } = await startCluster({ namenodePort: port, baseDir: path.join(dir, 'cluster') });
    cleanups.push(cleanup);
    const registered = await waitFor(
      'the registration',
      () => dn.logs.find((r) => r.msg === 'registered with the NameNode'),
      15_000,
    );
    expect(registered.level).toBe(30);
    expect(registered.failedAttempts as number).toBeGreaterThanOrEqual(second.attempts as number);
    expect(registered.unreachableMs as number).toBeGreaterThanOrEqual(2_000);
  });
});
