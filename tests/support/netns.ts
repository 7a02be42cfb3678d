/**
 * Test hosts on one machine: each host is a Linux network namespace with its own address,
 * joined to the others by a veth pair on one bridge, so daemons in different hosts reach
 * each other by real, distinct addresses (not 127.0.0.1), as on a LAN. The test process
 * stays in the root namespace and reaches the hosts through the bridge's own address, as a
 * client machine on the same LAN would. Daemons run in a host under `ip netns exec`, which
 * execs them in place, so their PIDs are the daemons' own.
 *
 * Needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN) and iproute2; `createTestNetwork` returns a
 * reason instead when the machine cannot make namespaces, for the test to print and skip.
 * Names carry this process's PID, so runs side by side do not collide, and `destroy`
 * removes every namespace, veth and the bridge (a namespace's end of a veth goes with it).
 * The addresses are 10.213.N.0/24 with N from the PID: private, and only on this bridge.
 */
import { execFileSync } from 'node:child_process';

export interface TestHost {
  /** The namespace's name (`ip netns exec NAME ...`). */
  name: string;
  address: string;
  /** Prefix for a command to run in this host. */
  launcher: string[];
  /** Takes the host's link down: it drops off the network, its processes keep running. */
  disconnect(): void;
  /** Brings its link back up. */
  reconnect(): void;
}

export interface TestNetwork {
  hosts: TestHost[];
  /** The root namespace's address on the bridge (where the test process is reached from). */
  bridgeAddress: string;
  destroy(): void;
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 });
}

/** Makes `count` hosts, or returns why this machine cannot. */
export function createTestNetwork(count: number): TestNetwork | string {
  const tag = String(process.pid % 100_000);
  const subnet = `10.213.${(process.pid % 200) + 20}`;
  const bridge = `dfsb${tag}`;
  const names = Array.from({ length: count }, (_, i) => `dfs${tag}h${i}`);
  const made: string[] = [];
  let bridgeMade = false;
  const destroy = (): void => {
    for (const n of made) {
      try {
        ip('netns', 'delete', n);
      } catch {
        // already gone
      }
    }
    made.length = 0;
    if (bridgeMade) {
      try {
        ip('link', 'delete', bridge);
      } catch {
        // already gone
      }
      bridgeMade = false;
    }
  };
  try {
    ip('link', 'add', bridge, 'type', 'bridge');
    bridgeMade = true;
    ip('addr', 'add', `${subnet}.1/24`, 'dev', bridge);
    ip('link', 'set', bridge, 'up');
    const hosts = names.map((name, i): TestHost => {
      const veth = `dfsv${tag}h${i}`;
      const address = `${subnet}.${10 + i}`;
      ip('netns', 'add', name);
      made.push(name);
      ip('link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', name);
      ip('link', 'set', veth, 'master', bridge, 'up');
      ip('-n', name, 'addr', 'add', `${address}/24`, 'dev', 'eth0');
      ip('-n', name, 'link', 'set', 'eth0', 'up');
      ip('-n', name, 'link', 'set', 'lo', 'up');
      return {
        name,
        address,
        launcher: ['ip', 'netns', 'exec', name],
        disconnect: () => ip('-n', name, 'link', 'set', 'eth0', 'down'),
        reconnect: () => ip('-n', name, 'link', 'set', 'eth0', 'up'),
      };
    });
    return { hosts, bridgeAddress: `${subnet}.1`, destroy };
  } catch (err) {
    destroy();
    const e = err as Error & { stderr?: Buffer };
    const detail = e.stderr?.toString().trim() || e.message;
    return `cannot make network namespaces here (${detail}); multi-host tests need root and iproute2`;
  }
}
