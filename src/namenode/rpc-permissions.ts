/**
 * Which permission checks each NameNode RPC needs (HDFS FSNamesystem / FSDir*Op), made by
 * permission-checker.ts before the handler runs. A table with one entry per RPC, typed by
 * the RPC's name like the handler table (rpc-handler.ts): an RPC added to the protocol
 * without its rule here does not compile, so no RPC goes unchecked by oversight.
 *
 *   | RPC                              | check (HDFS)                                            |
 *   |----------------------------------|---------------------------------------------------------|
 *   | mkdir                            | traverse; if the path is new, write on the deepest      |
 *   |                                  | existing ancestor                                        |
 *   | create                           | write on the deepest existing ancestor; overwrite: also |
 *   |                                  | write on the file                                        |
 *   | delete                           | write on the parent (sticky bit); read, write and       |
 *   |                                  | execute on every non-empty directory of the subtree     |
 *   | rename                           | write on both parents (sticky bit on the source's)      |
 *   | list                             | read and execute on a directory; traverse for a file    |
 *   | stat                             | traverse                                                 |
 *   | getBlockLocations, blockHealth   | read on the file                                         |
 *   | setReplication                   | write on the file                                        |
 *   | contentSummary                   | read and execute on every non-empty directory beneath   |
 *   | setPermission                    | the owner                                                |
 *   | setOwner                         | the owner; a new owner only by the superuser; a new     |
 *   |                                  | group only one the owner is in                           |
 *   | addBlock, reserveBlock, complete,| none: the lease, granted by a checked create, is the    |
 *   | abandonBlock, bumpGenStamp,      | right to write (HDFS checks the lease only)             |
 *   | renewLease                       |                                                          |
 *   | serverInfo, reportBadBlocks, the | none here (operator actions, setQuota among them, need  |
 *   | admin views, DataNode RPCs       | an ADMIN connection, and one the superuser: client-rpc) |
 */
import { DfsError } from '../../protocol/errors.js';
import type { RpcName } from '../../protocol/namenode-messages.js';
import { EXECUTE, READ, WRITE } from '../common/mode-bits.js';
import { joinPath, parsePath } from './path-rules.js';
import type { DirNode } from './inode.js';
import { PermissionChecker } from './permission-checker.js';
import type { RequestOf } from './rpc-handler.js';
import type { Caller } from './user-groups.js';

type Rule<N extends RpcName> = (c: PermissionChecker, req: RequestOf<N>) => void;

const none = (): void => {};
const ALL = READ | WRITE | EXECUTE;

export const rpcPermissions: { [N in RpcName]: Rule<N> } = {
  mkdir: (c, req) => c.check(req.path, c.lookup(req.path) === null ? { ancestor: WRITE } : {}),
  create: (c, req) =>
    c.check(
      req.path,
      req.overwrite && c.lookup(req.path) !== null ? { ancestor: WRITE, self: WRITE } : { ancestor: WRITE },
    ),
  delete: (c, req) => c.check(req.path, { parent: WRITE, removal: true, subtree: ALL }),
  rename: (c, req) => {
    c.check(req.src, { parent: WRITE, removal: true });
    // Onto an existing directory, the source moves inside it: that directory is the parent.
    const src = parsePath(req.src);
    const dst = parsePath(req.dst);
    if (src.length > 0 && c.lookup(req.dst)?.kind === 'dir') dst.push(src[src.length - 1]!);
    c.check(joinPath(dst), { ancestor: WRITE });
  },
  list: (c, req) => c.check(req.path, c.lookup(req.path)?.kind === 'dir' ? { self: READ | EXECUTE } : {}),
  stat: (c, req) => c.check(req.path, {}),
  getBlockLocations: (c, req) => c.check(req.path, { self: READ }),
  blockHealth: (c, req) => c.check(req.path, { self: READ }),
  setReplication: (c, req) => c.check(req.path, { self: WRITE }),
  // Append writes the file (HDFS: WRITE on it); fsync only publishes what its lease wrote.
  append: (c, req) => c.check(req.path, { self: WRITE }),
  fsync: none,
  contentSummary: (c, req) => c.check(req.path, { subtree: READ | EXECUTE }),
  setQuota: none,
  setPermission: (c, req) => c.check(req.path, { owner: true }),
  setOwner: (c, req) => {
    c.check(req.path, { owner: true });
    if (c.isSuperuser) return;
    if (req.owner !== '' && req.owner !== c.user)
      throw new DfsError(
        'ACCESS_DENIED',
        `${c.user} may not give ${req.path} to ${req.owner}: only the superuser changes owners`,
      );
    if (req.group !== '' && !c.inGroup(req.group))
      throw new DfsError(
        'ACCESS_DENIED',
        `${c.user} may not give ${req.path} to group ${req.group}: ${c.user} is not in it`,
      );
  },
  addBlock: none,
  reserveBlock: none,
  complete: none,
  abandonBlock: none,
  bumpGenStamp: none,
  renewLease: none,
  serverInfo: none,
  reportBadBlocks: none,
  datanodeReport: none,
  safeMode: none,
  decommission: none,
  replicationStats: none,
  triggerBlockReport: none,
  haStatus: none,
  haFailover: none,
  register: none,
  heartbeat: none,
  blockReceived: none,
  blockReport: none,
  unregister: none,
  replicaCopyFailed: none,
  commitBlockSynchronization: none,
};

/**
 * Judges one request before its handler: on an ADMIN connection the caller must be a
 * superuser (`dfs admin`, HDFS checkSuperuserPrivilege); then the RPC's rule above.
 * `caller` null: a connection that named no user (a DataNode).
 */
export function checkRequest<N extends RpcName>(
  name: N,
  req: RequestOf<N>,
  on: {
    caller: Caller | null;
    admin: boolean;
    root: DirNode;
    users: { superuser: string; supergroup: string };
  },
): void {
  if (on.admin && on.caller?.superuser !== true) {
    throw new DfsError(
      'ACCESS_DENIED',
      `${name}: ${on.caller?.user ?? 'a connection with no user'} is not a superuser (${on.users.superuser} or a member of ${on.users.supergroup}); dfs admin needs one`,
    );
  }
  rpcPermissions[name](new PermissionChecker(on.root, on.caller), req);
}
