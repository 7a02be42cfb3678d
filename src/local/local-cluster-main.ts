/**
 * `dfsd local` (npm start): a NameNode as a separate process on loopback with its data in
 * a local folder, formatted on first run, logs shown in a readable form, all stopped on
 * Ctrl-C. DataNodes join here once they exist.
 */
import path from 'node:path';
import { LocalCluster } from './local-cluster.js';

export async function runLocalCluster(opts: { dir: string; port: number; datanodes: number }): Promise<void> {
  const cluster = new LocalCluster({
    baseDir: path.resolve(opts.dir),
    namenodePort: opts.port,
    datanodes: opts.datanodes,
    echoLogs: true,
  });
  await cluster.start();
  process.stdout.write(
    `\nDFS local cluster is up.\n  NameNode: ${cluster.namenodeAddress}\n  data:     ${path.resolve(opts.dir)}\n\n` +
      `Point the CLI at it:\n  export DFS_NAMENODE=${cluster.namenodeAddress}\n  node bin/dfs.js ls /\n\nPress Ctrl-C to stop.\n\n`,
  );
  const stop = (): void => {
    void cluster.stop().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
