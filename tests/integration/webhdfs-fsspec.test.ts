/**
 * WebHDFS with a client no one here wrote (issue 13 section 3): Python fsspec's WebHDFS file
 * system (Debian python3-fsspec, run by /usr/bin/python3, not a pyenv's python3) against a
 * real local cluster: list, info, read whole and ranged, write, rename, delete. fsspec reads
 * and writes through the DataNode address in the NameNode's redirect, so this also proves
 * those addresses are reachable; its write is CREATE then APPENDs (real appends on the
 * DataNode, src/webhdfs/datanode-webhdfs.ts). What fsspec wrote the native client reads back
 * identical, and the other way round. Skipped, saying so, where fsspec is not installed
 * (`.ci/run` installs it).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DfsClient } from '../../src/client/dfs-client.js';
import type { LocalCluster } from '../../src/local/local-cluster.js';
import { clusterPerTest, tempDir } from '../support/cluster.js';
import { getBuffer, putBuffer, testBytes } from '../support/data-path.js';
import { hasFsspec, SYSTEM_PYTHON } from '../support/webhdfs.js';

const available = hasFsspec();
if (!available) console.warn(`fsspec tests skipped: ${SYSTEM_PYTHON} cannot import fsspec and requests`);

/** The fsspec side: each step prints one JSON line that the test checks. */
const SCRIPT = `
import json, sys, hashlib
from fsspec.implementations.webhdfs import WebHDFS
host, port, local_in = sys.argv[1], int(sys.argv[2]), sys.argv[3]
fs = WebHDFS(host=host, port=port, user="alice")
out = {}
fs.makedirs("/py/sub", exist_ok=True)
data = open(local_in, "rb").read()
with fs.open("/py/written.bin", "wb", block_size=4 * 1024 * 1024) as f:
    f.write(data)
out["ls"] = fs.ls("/py")
out["ls_detail"] = [(i["name"], i["type"], i["size"]) for i in fs.ls("/py", detail=True)]
out["info"] = {k: fs.info("/py/written.bin")[k] for k in ("type", "size", "replication", "blockSize")}
out["native_sha"] = hashlib.sha256(fs.cat_file("/py/native.bin")).hexdigest()
out["native_range_sha"] = hashlib.sha256(fs.cat_file("/py/native.bin", 1000000, 3000000)).hexdigest()
out["written_sha"] = hashlib.sha256(fs.cat_file("/py/written.bin")).hexdigest()
fs.mv("/py/written.bin", "/py/moved.bin")
out["after_mv"] = fs.ls("/py")
fs.rm("/py/sub", recursive=True)
out["after_rm"] = fs.ls("/py")
try:
    fs.info("/py/nope")
    out["missing"] = "found?"
except FileNotFoundError as e:
    out["missing"] = "FileNotFoundError"
out["home"] = fs.home_directory()
print(json.dumps(out))
`;

function runPython(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(SYSTEM_PYTHON, ['-c', SCRIPT, ...args], { timeout: 120_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`fsspec script failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

const sha = async (b: Buffer): Promise<string> =>
  (await import('node:crypto')).createHash('sha256').update(b).digest('hex');

describe.skipIf(!available)('fsspec WebHDFS against a real cluster', () => {
  const per = clusterPerTest();
  let cluster: LocalCluster;
  let client: DfsClient;
  let local: string;

  beforeEach(async () => {
    cluster = await per.start({ datanodes: 2 });
    await cluster.waitWritable();
    client = per.client(cluster, 20_000);
    // The tests act as WebHDFS users (user.name) other than the NameNode's own (the superuser):
    // an operator opens the root to them, as on a fresh HDFS.
    await client.setPermission('/', 0o777);
    local = tempDir('dfs-fsspec-');
  });
  afterEach(() => fs.rmSync(local, { recursive: true, force: true }));

  it('lists, stats, reads whole and ranged, writes, renames and deletes', async () => {
    const native = testBytes(6 * 1024 * 1024 + 5, 7);
    await putBuffer(client, '/py/native.bin', native, { blockBytes: 2 * 1024 * 1024, replication: 2 });
    // Larger than fsspec's block: its write is one CREATE and several APPENDs.
    const written = testBytes(9 * 1024 * 1024 + 1, 8);
    const input = path.join(local, 'in.bin');
    fs.writeFileSync(input, written);
    const [host, port] = cluster.namenodeHttpAddress.split(':');
    const out = JSON.parse(await runPython([host!, port!, input])) as Record<string, unknown>;

    expect(out.ls).toEqual(['/py/native.bin', '/py/sub', '/py/written.bin']);
    expect(out.ls_detail).toEqual([
      ['/py/native.bin', 'file', native.length],
      ['/py/sub', 'directory', 0],
      ['/py/written.bin', 'file', written.length],
    ]);
    expect(out.info).toMatchObject({ type: 'file', size: written.length });
    expect(out.native_sha).toBe(await sha(native));
    expect(out.native_range_sha).toBe(await sha(native.subarray(1000000, 3000000)));
    expect(out.written_sha).toBe(await sha(written));
    expect(out.after_mv).toEqual(['/py/moved.bin', '/py/native.bin', '/py/sub']);
    expect(out.after_rm).toEqual(['/py/moved.bin', '/py/native.bin']);
    expect(out.missing).toBe('FileNotFoundError');
    expect(out.home).toBe('/user/alice');
    // The native client reads what fsspec wrote; no copy file is left behind.
    expect((await getBuffer(client, '/py/moved.bin')).equals(written)).toBe(true);
    expect((await client.listPage('/py')).entries.map((e) => e.path)).toEqual(['moved.bin', 'native.bin']);
  }, 120_000);
});
