/**
 * What the receiver and sender of one connection need from their DataNode, so they do not
 * depend on the whole daemon (and tests can see the seams).
 */
import type { Block, DatanodeInfo } from '../../protocol/shared-structures.js';
import type { DataNodeConfig } from '../common/config.js';
import type { Logger } from '../common/logger.js';
import type { FaultInjector } from './fault-injector.js';
import type { Storage } from './storage.js';

export interface DataNodeContext {
  config: DataNodeConfig;
  storage: Storage;
  log: Logger;
  self: () => DatanodeInfo;
  /** Queues an incremental block report to the NameNode. */
  blockReceived: (block: Block) => void;
  faults: FaultInjector;
  activeTransfers: number;
}
