/**
 * The one way the daemons make bytes durable: every fdatasync and fsync of the edit log,
 * its segments and directories, and of replicas being written goes through a `FileSync`.
 * Durability is the first promise DFS makes, and a sync that silently stopped happening
 * would pass every functional test (a killed process keeps the page cache), so the seam
 * exists to be observed: tests hand in a FileSync that records, holds or delays each call
 * and check that no reply goes out before the sync that covers it completed. Production
 * uses `osFileSync`; the DFS_FAULTS hook `syncDelayMs` (fault-injector.ts) delays every
 * sync of a real daemon.
 */
import fs from 'node:fs';
import { promisify } from 'node:util';
import type { FaultInjector } from './fault-injector.js';

export interface FileSync {
  /** The file's data, and the metadata needed to read it back, are on disk. */
  fdatasync(fd: number): Promise<void>;
  /** The file's data and all its metadata are on disk (directories: their entries). */
  fsync(fd: number): Promise<void>;
}

export const osFileSync: FileSync = {
  fdatasync: promisify(fs.fdatasync),
  fsync: promisify(fs.fsync),
};

/** `base`, with every call delayed by the fault hook's syncDelayMs first (none when 0). */
export function fileSyncWithFaults(faults: FaultInjector, base: FileSync = osFileSync): FileSync {
  const delayMs = faults.syncDelayMs;
  if (delayMs <= 0) return base;
  const later = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, delayMs));
  return {
    fdatasync: (fd) => later().then(() => base.fdatasync(fd)),
    fsync: (fd) => later().then(() => base.fsync(fd)),
  };
}
