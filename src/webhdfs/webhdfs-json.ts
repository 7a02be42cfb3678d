/**
 * The JSON bodies of WebHDFS answers, shaped as HDFS's `WebHDFS.md` "JSON Schemas" give them,
 * from DFS's own structures (protocol/shared-structures.ts, client-namenode-messages.ts).
 *
 * A status shows the entry's owner, group and permission (octal, as HDFS: `755`, `1777`
 * with the sticky bit). DFS has no inode ids, access times or storage policies on the wire: `fileId` is 0,
 * `accessTime` is the modification time of a file (0 for a directory, as HDFS), and
 * `storagePolicy` is 0 (unspecified).
 */
import type { ContentSummary } from '../../protocol/client-namenode-messages.js';
import { FileType, type FileStatus } from '../../protocol/shared-structures.js';
import type { FileChecksum } from '../client/file-checksum.js';

export interface FileStatusJson {
  accessTime: number;
  blockSize: number;
  childrenNum: number;
  fileId: number;
  group: string;
  length: number;
  modificationTime: number;
  owner: string;
  pathSuffix: string;
  permission: string;
  replication: number;
  storagePolicy: number;
  type: 'FILE' | 'DIRECTORY';
}

/** A status as a FileStatus JSON object; `pathSuffix` is "" for GETFILESTATUS, the name in a listing. */
export function fileStatusJson(s: FileStatus, pathSuffix: string): FileStatusJson {
  const dir = s.type === FileType.DIRECTORY;
  return {
    accessTime: dir ? 0 : s.mtimeMs,
    blockSize: dir ? 0 : s.blockBytes,
    childrenNum: dir ? s.childCount : 0,
    fileId: 0,
    group: s.group,
    length: dir ? 0 : s.length,
    modificationTime: s.mtimeMs,
    owner: s.owner,
    pathSuffix,
    permission: s.permission.toString(8),
    replication: dir ? 0 : s.replication,
    storagePolicy: 0,
    type: dir ? 'DIRECTORY' : 'FILE',
  };
}

/** GETCONTENTSUMMARY's body; a quota that is not set is -1, as HDFS shows it. */
export function contentSummaryJson(c: ContentSummary): unknown {
  return {
    ContentSummary: {
      directoryCount: c.directories,
      fileCount: c.files,
      length: c.length,
      quota: c.nsQuota > 0 ? c.nsQuota : -1,
      spaceConsumed: c.spaceConsumed,
      spaceQuota: c.dsQuota > 0 ? c.dsQuota : -1,
      typeQuota: {},
    },
  };
}

/** GETFILECHECKSUM's body: DFS's algorithm name, the digest in hex, its length in bytes. */
export function fileChecksumJson(c: FileChecksum): unknown {
  return { FileChecksum: { algorithm: c.algorithm, bytes: c.checksum, length: c.checksum.length / 2 } };
}

export function booleanJson(value: boolean): unknown {
  return { boolean: value };
}
