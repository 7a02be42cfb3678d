/**
 * Who a caller is, for the permission checks (permission-checker.ts): the user its
 * connection named in the handshake, that user's groups, and whether it is a superuser.
 * HDFS "simple" mode: the name is trusted as asserted (a later step authenticates it).
 *
 * Groups come, as HDFS's group mappings do, from (in order):
 *   1. the JSON mapping file of config `userGroupsFile` ({"alice": ["staff", "dev"]}),
 *      read once at start;
 *   2. for a user not in it, the groups of the local OS user of that name (`id -Gn NAME`,
 *      HDFS ShellBasedUnixGroupsMapping), cached for `groupsCacheMs`;
 *   3. otherwise none.
 *
 * The checks run synchronously inside a request, so an answer must be in memory: the first
 * request of a user not yet cached waits for `resolve` (client-rpc.ts defers it); a cached
 * entry past its TTL is still used while a refresh runs in the background (HDFS's groups
 * cache does the same), so a slow `id` never stalls a known user. The cache is bounded
 * (oldest entry dropped first), so names a client makes up cannot grow it without limit.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { DfsError } from '../../protocol/errors.js';
import type { Logger } from '../common/logger.js';

/** A caller as the permission checker sees it. */
export interface Caller {
  user: string;
  groups: ReadonlySet<string>;
  /** The NameNode's user (config superuser), or a member of the supergroup: no check applies. */
  superuser: boolean;
}

export interface UserGroupsOptions {
  /** The superuser's name (config `superuser`, default the NameNode process's user). */
  superuser: string;
  /** Members of this group are superusers too (config `supergroup`). */
  supergroup: string;
  /** Path of the JSON mapping file, or '' for none (config `userGroupsFile`). */
  mappingFile: string;
  /** How long an OS lookup is trusted before it is refreshed (config `groupsCacheMs`). */
  cacheMs: number;
  logger: Logger;
  /** The OS lookup; tests may replace it. Default: `id -Gn NAME`, none on failure. */
  osGroups?: (user: string) => Promise<string[]>;
}

const CACHE_ENTRIES_MAX = 10_000;
const ID_TIMEOUT_MS = 5_000;

interface Entry {
  groups: ReadonlySet<string>;
  fetchedMs: number;
  refreshing: Promise<void> | null;
}

export class UserGroups {
  private readonly mapping: ReadonlyMap<string, ReadonlySet<string>>;
  private readonly cache = new Map<string, Entry>();
  private readonly pending = new Map<string, Promise<void>>();
  private readonly osGroups: (user: string) => Promise<string[]>;

  constructor(private readonly o: UserGroupsOptions) {
    this.mapping = o.mappingFile === '' ? new Map() : readMapping(o.mappingFile);
    this.osGroups = o.osGroups ?? idGroups;
  }

  get superuser(): string {
    return this.o.superuser;
  }

  get supergroup(): string {
    return this.o.supergroup;
  }

  /** The caller `user` is, or null while its groups are not known yet (call `resolve`). */
  caller(user: string): Caller | null {
    const groups = this.groupsNow(user);
    if (groups === null) return null;
    return { user, groups, superuser: user === this.o.superuser || groups.has(this.o.supergroup) };
  }

  /** The NameNode acting on its own (the trash emptier): the superuser. */
  self(): Caller {
    return { user: this.o.superuser, groups: new Set([this.o.supergroup]), superuser: true };
  }

  /** Fetches `user`'s groups; resolves once `caller(user)` answers. Never rejects. */
  resolve(user: string): Promise<void> {
    if (this.groupsNow(user) !== null) return Promise.resolve();
    let p = this.pending.get(user);
    if (p === undefined) {
      p = this.fetch(user).finally(() => this.pending.delete(user));
      this.pending.set(user, p);
    }
    return p;
  }

  private groupsNow(user: string): ReadonlySet<string> | null {
    const mapped = this.mapping.get(user);
    if (mapped !== undefined) return mapped;
    const e = this.cache.get(user);
    if (e === undefined) return null;
    if (Date.now() - e.fetchedMs > this.o.cacheMs && e.refreshing === null) {
      e.refreshing = this.fetch(user).finally(() => (e.refreshing = null));
    }
    return e.groups;
  }

  private async fetch(user: string): Promise<void> {
    let groups: string[];
    try {
      groups = await this.osGroups(user);
    } catch (err) {
      this.o.logger.warn({ user, err: (err as Error).message }, 'group lookup failed; no groups');
      groups = [];
    }
    this.cache.delete(user);
    if (this.cache.size >= CACHE_ENTRIES_MAX) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(user, { groups: new Set(groups), fetchedMs: Date.now(), refreshing: null });
  }
}

/** The groups of local user `user` (`id -Gn`); none when there is no such user. */
function idGroups(user: string): Promise<string[]> {
  return new Promise((resolve) => {
    // `--` keeps a name starting with '-' from being read as an option.
    execFile('id', ['-Gn', '--', user], { timeout: ID_TIMEOUT_MS }, (err, stdout) => {
      resolve(
        err
          ? []
          : stdout
              .trim()
              .split(/\s+/)
              .filter((g) => g !== ''),
      );
    });
  });
}

function readMapping(file: string): Map<string, ReadonlySet<string>> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new DfsError('INVALID_ARGUMENT', `userGroupsFile ${file}: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new DfsError('INVALID_ARGUMENT', `userGroupsFile ${file}: not an object of user -> [groups]`);
  const out = new Map<string, ReadonlySet<string>>();
  for (const [user, groups] of Object.entries(parsed)) {
    if (!Array.isArray(groups) || !groups.every((g) => typeof g === 'string'))
      throw new DfsError(
        'INVALID_ARGUMENT',
        `userGroupsFile ${file}: "${user}" is not a list of group names`,
      );
    out.set(user, new Set(groups));
  }
  return out;
}
