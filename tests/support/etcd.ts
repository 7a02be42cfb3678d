/**
 * Real etcd for tests (issue 14): the launcher is src/local/etcd-process.ts (shared with
 * `dfs-bench ha`). Without the binary the calling test file skips, saying why (as tests/web/
 * does without Chromium): `if (!HAVE_ETCD) console.warn(ETCD_SKIP_REASON)` and
 * `describe.skipIf(!HAVE_ETCD)`.
 */
import { ETCD_BIN } from '../../src/local/etcd-process.js';

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
