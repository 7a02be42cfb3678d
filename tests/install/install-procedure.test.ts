/**
 * README.md "Installing on servers", followed end to end under a scratch root: the package
 * is built with `npm pack` (in a copy of this checkout, so its `prepack` build does not
 * rewrite the dist/ other tests are running), unpacked to <scratch>/opt/dfs and given its
 * runtime dependencies with `npm install --omit=dev` (which needs the npm registry), the
 * example /etc/dfs/dfs.json is written, the NameNode is formatted and both daemons are run
 * as an unprivileged user, then the installed `dfs` checks the cluster and moves a file.
 *
 * There is no systemd here, so the test plays its part, read from the unit files the
 * package ships: it runs each unit's own `ExecStart=` command line (paths under /opt/dfs,
 * /etc/dfs and /var/lib moved into the scratch root, /usr/bin/node replaced by this Node),
 * as the unit's user, from `/`, with a service's bare environment, after creating exactly
 * the directories the unit's `StateDirectory=` would, owned as systemd would own them. A
 * unit without the StateDirectory= its daemon needs fails here with EACCES, as it did on a
 * real host before issue 10.
 *
 * The unprivileged user: as root, a system user made with the README's `useradd` line (and
 * removed afterwards); as anyone else, the current user, who is already unprivileged. When
 * root cannot make a user the test is skipped with the reason printed.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';
import { REPO_ROOT } from '../../src/local/daemon-process.js';
import { tempDir } from '../support/cluster.js';
import { execStartArgv, parseUnit, stateDirectories, type Unit } from '../support/systemd-unit.js';

const execFileAsync = promisify(execFile);
const SERVICE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const NPM_TIMEOUT_MS = 180_000;
const READY_TIMEOUT_MS = 30_000;
// The README's commands, run below with the scratch paths; the first test checks the README says them.
const TAR_ARGS = ['--strip-components=1', '--no-same-owner'];
const NPM_INSTALL_ARGS = ['install', '--omit=dev', '--no-audit', '--no-fund'];
const USERADD_ARGS = ['--system', '--user-group', '--no-create-home', '--home-dir'];
const USERADD_TAIL = ['--shell', '/usr/sbin/nologin'];

const scratch = tempDir('dfs-install-');
// The daemons run as another user: it must be able to walk into the scratch root.
fs.chmodSync(scratch, 0o755);
const under = (p: string): string => path.join(scratch, p);
const prefix = under('opt/dfs');

/**
 * A host under the scratch root: its own /etc/dfs, /var/lib and /data; /opt/dfs is the one
 * install all hosts share (installing it twice would only cost time).
 */
interface Host {
  root: string;
  /** Paths in a unit or config moved into this host; this Node for /usr/bin/node. */
  rewrite: (text: string) => string;
}

function scratchHost(name: string): Host {
  const root = under(name);
  fs.mkdirSync(root, { recursive: true });
  const rewrite = (text: string): string =>
    text
      .replaceAll('/usr/bin/node', process.execPath)
      .replace(
        /(^|[\s"])\/(opt\/dfs|etc\/dfs|var\/lib|data)\b/g,
        (_m, lead: string, dir: string) => lead + (dir === 'opt/dfs' ? prefix : path.join(root, dir)),
      );
  return { root, rewrite };
}

type Config = {
  namenode: Record<string, unknown>;
  datanode: Record<string, unknown> & { dataDirs: string[] };
};

/** The host's /etc/dfs/dfs.json: the installed example, with `edit` applied. */
function writeConfig(host: Host, edit: (c: Config) => void): Config {
  const config = JSON.parse(
    host.rewrite(fs.readFileSync(path.join(prefix, 'systemd/dfs.json'), 'utf8')),
  ) as Config;
  edit(config);
  const file = path.join(host.root, 'etc/dfs/dfs.json');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o644 });
  return config;
}

interface ServiceUser {
  name: string;
  uid: number;
  gid: number;
  /** Made by this test (and removed by it). */
  made: boolean;
}

const started: ChildProcess[] = [];
let madeUser: string | null = null;

afterAll(async () => {
  for (const child of started)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  if (madeUser !== null) await execFileAsync('userdel', [madeUser]).catch(() => undefined);
  fs.rmSync(scratch, { recursive: true, force: true });
});

/** npm and tar as the operator runs them: without the npm_* variables of a surrounding `npm test`. */
async function run(file: string, args: string[], cwd: string, timeoutMs = 60_000): Promise<string> {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_')),
  );
  try {
    const r = await execFileAsync(file, args, { cwd, env, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
    return r.stdout;
  } catch (err) {
    const e = err as Error & { stdout?: string; stderr?: string };
    throw new Error(`${file} ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`, {
      cause: err,
    });
  }
}

async function serviceUser(): Promise<ServiceUser | string> {
  if (process.getuid!() !== 0) {
    const uid = process.getuid!();
    return { name: String(uid), uid, gid: process.getgid!(), made: false };
  }
  const name = `dfsinst${process.pid}`;
  try {
    await execFileAsync('useradd', [...USERADD_ARGS, under('var/lib/dfs'), ...USERADD_TAIL, name]);
  } catch (err) {
    return `running as root and useradd failed (${(err as Error).message.trim()})`;
  }
  madeUser = name;
  const uid = Number((await execFileAsync('id', ['-u', name])).stdout.trim());
  const gid = Number((await execFileAsync('id', ['-g', name])).stdout.trim());
  return { name, uid, gid, made: true };
}

/** What systemd does for StateDirectory= before a start: parents owned by root, the dir by the user. */
function makeStateDirectories(host: Host, unit: Unit, user: ServiceUser): void {
  const { dirs, mode } = stateDirectories(unit);
  for (const d of dirs) {
    const dir = path.join(host.root, 'var/lib', d);
    fs.mkdirSync(dir, { recursive: true });
    fs.chownSync(dir, user.uid, user.gid);
    fs.chmodSync(dir, mode);
  }
}

interface Service {
  child: ChildProcess;
  port: number;
  exited: Promise<number | null>;
}

/** A unit's command line as the unit's user, from `/`, with a service's environment. */
function runAsService(argv: string[], user: ServiceUser): ChildProcess {
  const child = spawn(argv[0]!, argv.slice(1), {
    cwd: '/',
    // DFS_LIFELINE: the daemon exits when this test process dies and its stdin closes.
    env: { PATH: SERVICE_PATH, DFS_LIFELINE: '1' },
    stdio: ['pipe', 'pipe', 'pipe'],
    ...(user.made ? { uid: user.uid, gid: user.gid } : {}),
  });
  started.push(child);
  return child;
}

function startService(argv: string[], user: ServiceUser, readyMessage: string): Promise<Service> {
  const child = runAsService(argv, user);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${argv.join(' ')}: not ready; ${stderr}`)),
      READY_TIMEOUT_MS,
    );
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${argv.join(' ')} exited ${code}: ${stderr}`));
    });
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      const rec = JSON.parse(line) as { msg?: string; port?: number };
      if (rec.msg === readyMessage && typeof rec.port === 'number') {
        clearTimeout(timer);
        resolve({ child, port: rec.port, exited });
      }
    });
  });
}

async function stopService(s: Service): Promise<number | null> {
  process.kill(s.child.pid!, 'SIGTERM');
  const timeout = new Promise<string>((resolve) => setTimeout(() => resolve('still running'), 15_000));
  const code = await Promise.race([s.exited, timeout]);
  expect(code, 'daemon exit after SIGTERM').not.toBe('still running');
  return code as number | null;
}

function filesUnder(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name));
}

it('is the procedure README.md gives', () => {
  const readme = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('## Installing on servers');
  expect(start, 'README section').toBeGreaterThan(0);
  const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
  const nnUnit = parseUnit(fs.readFileSync(path.join(REPO_ROOT, 'systemd/dfs-namenode.service'), 'utf8'));
  for (const command of [
    'npm pack',
    `tar -xzf dfs-0.1.0.tgz -C /opt/dfs ${TAR_ARGS.join(' ')}`,
    `npm ${NPM_INSTALL_ARGS.join(' ')}`,
    `useradd ${USERADD_ARGS.join(' ')} /var/lib/dfs ${USERADD_TAIL.join(' ')} dfs`,
    'install -d -o dfs -g dfs -m 0750 /var/lib/dfs/name',
    `runuser -u dfs -- ${execStartArgv(nnUnit).join(' ')} --format`,
    'systemctl enable --now dfs-namenode',
    'systemctl enable --now dfs-datanode',
    'export DFS_USER=dfs',
    'dfs admin report',
  ])
    expect(section, 'README "Installing on servers"').toContain(command);
});

it('installs from npm pack, formats, runs both units as a service user, and serves a file', async (ctx) => {
  const user = await serviceUser();
  if (typeof user === 'string') {
    console.log(`install-procedure.test.ts skipped: ${user}`);
    ctx.skip();
    return;
  }

  // Build the package: `npm pack` in a copy of the sources (prepack runs the build).
  const build = under('build');
  const skipped = new Set(['node_modules', 'dist', '.git', '.dfs-local', 'tests']);
  fs.cpSync(REPO_ROOT, build, {
    recursive: true,
    filter: (from) => !skipped.has(path.relative(REPO_ROOT, from).split(path.sep)[0]!),
  });
  fs.symlinkSync(fs.realpathSync(path.join(REPO_ROOT, 'node_modules')), path.join(build, 'node_modules'));
  await run('npm', ['pack', '--pack-destination', scratch], build, NPM_TIMEOUT_MS);
  const tarballs = fs.readdirSync(scratch).filter((f) => f.endsWith('.tgz'));
  expect(tarballs).toHaveLength(1);
  const tgz = under(tarballs[0]!);
  const listed = (await run('tar', ['-tzf', tgz], scratch)).split('\n').filter((l) => l !== '');
  for (const needed of [
    'package/bin/dfsd.js',
    'package/bin/dfs.js',
    'package/dist/src/cli/dfsd.js',
    'package/dist/bench/dfs-bench.js',
    'package/systemd/dfs-namenode.service',
    'package/systemd/dfs-datanode.service',
    'package/systemd/dfs.json',
    'package/web/index.html',
    'package/web/app.js',
    'package/README.md',
  ])
    expect(listed, 'tarball contents').toContain(needed);
  expect(
    listed.filter((f) => /^package\/(src|tests)\/|\.map$/.test(f)),
    'sources, tests and maps stay out',
  ).toEqual([]);

  // Install to /opt/dfs: unpack, then the runtime dependencies from the registry.
  fs.mkdirSync(prefix, { recursive: true });
  await run('tar', ['-xzf', tgz, '-C', prefix, ...TAR_ARGS], scratch);
  await run('npm', NPM_INSTALL_ARGS, prefix, NPM_TIMEOUT_MS);
  fs.mkdirSync(under('usr/local/bin'), { recursive: true });
  const dfsCommand = under('usr/local/bin/dfs');
  fs.symlinkSync(path.join(prefix, 'bin/dfs.js'), dfsCommand);

  // Two hosts: the NameNode's and a DataNode's, each with /etc/dfs/dfs.json from the example
  // and the units as installed. The test's own edits: free ports (RPC and HTTP), no reserved space (a CI
  // disk may have less than 10 GiB free); the README's: the NameNode's address, a second disk.
  const nnHost = scratchHost('nn-host');
  const dnHost = scratchHost('dn-host');
  const unit = (name: string): Unit => parseUnit(fs.readFileSync(path.join(prefix, 'systemd', name), 'utf8'));
  const nnUnit = unit('dfs-namenode.service');
  const dnUnit = unit('dfs-datanode.service');
  const nnArgv = execStartArgv(nnUnit, nnHost.rewrite);
  const dnArgv = execStartArgv(dnUnit, dnHost.rewrite);
  const install = (dir: string): Promise<string> =>
    run('install', ['-d', '-o', String(user.uid), '-g', String(user.gid), '-m', '0750', dir], scratch);

  // NameNode host: format as the service user before the unit ever ran, then start the unit.
  const nnConfig = writeConfig(nnHost, (c) => Object.assign(c.namenode, { port: 0, httpPort: 0 }));
  const nameDir = nnConfig.namenode.nameDir as string;
  await install(nameDir);
  const format = runAsService([...nnArgv, '--format'], user);
  let formatErr = '';
  format.stderr!.setEncoding('utf8').on('data', (s: string) => (formatErr += s));
  const formatCode = await new Promise<number | null>((resolve) => format.once('exit', resolve));
  expect(formatCode, `format: ${formatErr}`).toBe(0);
  makeStateDirectories(nnHost, nnUnit, user);
  const nn = await startService(nnArgv, user, 'namenode listening');

  // DataNode host: the default data dir (the unit's) and a second disk.
  const disk2 = dnHost.rewrite('/data/1/dfs');
  await install(disk2);
  const dnConfig = writeConfig(dnHost, (c) =>
    Object.assign(c.datanode, {
      namenode: `127.0.0.1:${nn.port}`,
      port: 0,
      httpPort: 0,
      reservedBytes: 0,
      dataDirs: [...c.datanode.dataDirs, disk2],
    }),
  );
  makeStateDirectories(dnHost, dnUnit, user);
  const dn = await startService(dnArgv, user, 'datanode listening');

  // Check the cluster and move a file with the installed `dfs`.
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: `${path.dirname(process.execPath)}:${SERVICE_PATH}`,
    DFS_NAMENODE: `127.0.0.1:${nn.port}`,
    // As the README says: act as the superuser, the NameNode's user.
    DFS_USER: user.name,
  };
  const dfs = async (...args: string[]): Promise<string> =>
    (await execFileAsync(dfsCommand, args, { env, timeout: 60_000 })).stdout;
  await dfs('admin', 'safemode', 'wait', '--timeout', '60s');
  const report = JSON.parse(await dfs('admin', 'report', '--json')) as {
    nodes: Array<{ state: string; capacityBytes?: number }>;
  };
  expect(report.nodes.map((n) => n.state)).toEqual(['live']);
  const local = under('smoke.bin');
  const back = under('smoke.back');
  fs.writeFileSync(local, randomBytes(3 * 1024 * 1024 + 17));
  await dfs('put', local, '/smoke-test');
  await dfs('get', '/smoke-test', back);
  expect(fs.readFileSync(back).equals(fs.readFileSync(local)), 'file read back identical').toBe(true);

  // The daemons wrote as the service user: the name dir, the block, both disks in use.
  expect(fs.statSync(path.join(nameDir, 'VERSION')).uid).toBe(user.uid);
  const blockFiles = dnConfig.datanode.dataDirs.flatMap(filesUnder).filter((f) => f.endsWith('/data'));
  expect(blockFiles.map((f) => fs.statSync(f).size)).toEqual([3 * 1024 * 1024 + 17]);
  expect(fs.statSync(blockFiles[0]!).uid).toBe(user.uid);
  for (const dir of dnConfig.datanode.dataDirs)
    expect(fs.existsSync(path.join(dir, 'current', 'finalized')), `${dir} in use`).toBe(true);

  // Stop both by PID, as systemctl stop does.
  expect(await stopService(dn)).toBe(0);
  expect(await stopService(nn)).toBe(0);
}, 400_000);
