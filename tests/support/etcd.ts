/**
 * Real etcd for tests (issue 14): the launcher is src/local/etcd-process.ts (shared with
 * `dfs-bench ha`). Without the binary the calling test file skips, saying why (as tests/web/
 * does without Chromium): `if (!HAVE_ETCD) console.warn(ETCD_SKIP_REASON)` and
 * `describe.skipIf(!HAVE_ETCD)`.
 */
import fs from 'node:fs';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { ETCD_BIN, startEtcd, type EtcdCluster } from '../../src/local/etcd-process.js';
import { tempDir } from './cluster.js';

export {
  ETCD_BIN,
  HAVE_ETCD,
  startEtcd,
  startEtcdCluster,
  type EtcdCluster,
  type EtcdMember,
  type EtcdOptions,
} from '../../src/local/etcd-process.js';

export const ETCD_SKIP_REASON = `etcd tests skipped: no etcd at ${ETCD_BIN} (apt-get install etcd-server)`;

/**
 * One etcd for the calling `describe` block: started before its tests, stopped after them;
 * with `tempPrefix`, a temp folder (`base`) removed at the end; `cleanups` run after each
 * test, last added first (the processes it started, by PID).
 */
export function etcdSuite(tempPrefix?: string): {
  readonly etcd: EtcdCluster;
  readonly base: string;
  readonly cleanups: Array<() => Promise<void> | void>;
} {
  let etcd: EtcdCluster | undefined;
  let base = '';
  const cleanups: Array<() => Promise<void> | void> = [];
  beforeAll(async () => {
    etcd = await startEtcd();
    if (tempPrefix !== undefined) base = tempDir(tempPrefix);
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  afterAll(async () => {
    await etcd?.stop();
    if (base !== '') fs.rmSync(base, { recursive: true, force: true });
  });
  return {
    get etcd() {
      if (etcd === undefined) throw new Error('etcd is started before the tests (etcdSuite)');
      return etcd;
    },
    get base() {
      return base;
    },
    cleanups,
  };
}
