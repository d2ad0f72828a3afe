/**
 * `meta-proxy-ctl fleet` (the compiled bin) against three real `meta-proxy`
 * processes registered in a real ZooKeeper.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dump } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestClient } from '../support/pegasusClient.js';
import { startProxyProcess, type ProxyProcess } from '../support/proxyProcess.js';
import { freePort, startZooKeeper, type ZkServer } from '../support/zookeeper.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const bin = join(root, 'dist/src/ctl.js');
const ROOT = '/fleet-ctl-routes';
const INSTANCES = '/fleet-ctl/instances';
let zk: ZkServer;
let dir: string;
const proxies: ProxyProcess[] = [];

function writeConfig(name: string, config: Record<string, unknown>): string {
  const file = join(dir, name);
  writeFileSync(file, dump(config));
  return file;
}

function ctl(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const started = Date.now();
  return new Promise((done, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    child.once('exit', (code) => done({ code, stdout, stderr, ms: Date.now() - started }));
  });
}

beforeAll(async () => {
  for (const source of ['src/ctl.ts', 'src/ctl/run.ts', 'src/ctl/args.ts', 'src/ctl/fleet.ts', 'src/ctl/fleetCommand.ts', 'src/main.ts', 'src/io/registration.ts']) {
    const built = join(root, 'dist', source.replace(/\.ts$/, '.js'));
    if (!existsSync(built) || statSync(built).mtimeMs < statSync(join(root, source)).mtimeMs) {
      throw new Error(`${built} is missing or older than ${source}: run "npx tsc -p ." first`);
    }
  }
  dir = mkdtempSync(join(tmpdir(), 'meta-proxy-fleet-'));
  zk = await startZooKeeper();
  // A route whose cluster answers nothing: asking for it is enough to cache it.
  await zk.set(`${ROOT}/temp`, { cluster_name: 'c1', meta_addrs: `127.0.0.1:${await freePort()}` });
  const config = {
    // A session that outlives the pause below, so the paused instance stays registered.
    zookeeper: { address: [zk.connectString], root: ROOT, timeout: 6000, instances_path: INSTANCES },
    metric: { type: 'none' },
    server: { listen: '127.0.0.1:0', drain_timeout_ms: 200 },
    admin: { listen: '127.0.0.1:0' },
    upstream: { connect_timeout_ms: 200, default_timeout_ms: 500 },
  };
  proxies.push(...(await Promise.all([startProxyProcess(config), startProxyProcess(config), startProxyProcess(config)])));
  writeConfig('meta-proxy.yaml', config);
  const until = Date.now() + 10_000;
  while ((await zk.children(INSTANCES)).length < 3 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  // The first proxy caches the route of temp.
  const client = await TestClient.connect(proxies[0]!.port);
  try {
    await client.query('temp', 1, { timeoutMs: 500 });
  } finally {
    client.close();
  }
}, 60_000);

afterAll(async () => {
  for (const proxy of proxies) {
    proxy.child.kill('SIGCONT');
    await proxy.stop('SIGKILL');
  }
  await zk?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const name = (proxy: ProxyProcess): string => `127.0.0.1:${proxy.port}`;
const rowOf = (stdout: string, proxy: ProxyProcess): string => stdout.split('\n').find((line) => line.startsWith(`${name(proxy)} `)) ?? '';

describe('meta-proxy-ctl fleet', () => {
  it('lists every registered instance with its version, uptime, readiness, ZooKeeper state and routes', async () => {
    const result = await ctl(['fleet']);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^INSTANCE\s+VERSION\s+UPTIME\s+READY\s+ZOOKEEPER\s+ROUTES$/);
    expect(lines).toHaveLength(4);
    expect(rowOf(result.stdout, proxies[0]!)).toMatch(/^127\.0\.0\.1:\d+\s+\d+\.\d+\.\d+\S*\s+\d+s\s+yes\s+connected\s+1$/);
    for (const proxy of proxies.slice(1)) expect(rowOf(result.stdout, proxy)).toMatch(/\s+yes\s+connected\s+0$/);
  });

  it('says per instance which cluster and route version it serves for --table, as text and JSON', async () => {
    const text = await ctl(['fleet', '--table', 'temp']);
    expect(text.code).toBe(0);
    expect(text.stdout.split('\n')[0]).toMatch(/\s+CLUSTER\s+ROUTE VERSION\s+FOLLOWED$/);
    expect(rowOf(text.stdout, proxies[0]!)).toMatch(/\s+c1\s+0\s+-$/);
    expect(rowOf(text.stdout, proxies[1]!)).toMatch(/\s+not cached\s+-\s+-$/);

    const json = await ctl(['fleet', '--table', 'temp', '--json']);
    expect(json.code).toBe(0);
    const doc = JSON.parse(json.stdout) as { path: string; instances: Array<Record<string, unknown>> };
    expect(doc.path).toBe(INSTANCES);
    expect(doc.instances.map((i) => i.name)).toEqual(proxies.map(name).sort());
    const first = doc.instances.find((i) => i.name === name(proxies[0]!));
    expect(first).toMatchObject({
      reachable: true,
      pid: proxies[0]!.child.pid,
      status: { ready: true, zookeeper: 'connected', routes: 1, version: expect.any(String), uptimeSeconds: expect.any(Number) },
      table: { kind: 'route', cluster: 'c1', version: 0 },
    });
    expect(doc.instances.find((i) => i.name === name(proxies[2]!))).toMatchObject({ reachable: true, table: null });
  });

  it('lists a stopped instance as unreachable within the timeout, and still exits 0', async () => {
    const paused = proxies[1]!;
    paused.child.kill('SIGSTOP');
    try {
      const result = await ctl(['fleet', '--timeout-ms', '800']);
      expect(result.code).toBe(0);
      expect(rowOf(result.stdout, paused)).toMatch(/^127\.0\.0\.1:\d+\s+unreachable \(no answer within 800 ms\)$/);
      expect(rowOf(result.stdout, proxies[0]!)).toMatch(/\s+yes\s+connected\s+1$/);
      expect(result.stderr).toBe('1 of 3 registered instances unreachable.\n');
      // Node's start-up plus one ZooKeeper read plus the 800 ms wait: far below the paused instance's forever.
      expect(result.ms).toBeLessThan(8000);
    } finally {
      paused.child.kill('SIGCONT');
    }
    // Resumed, it answers again (its ZooKeeper connection may take a moment to come back).
    const after = await ctl(['fleet']);
    expect(rowOf(after.stdout, paused)).toMatch(/^127\.0\.0\.1:\d+\s+\d+\.\d+\.\d+\S*\s+\d+s\s+(yes|no)\s+\w+\s+0$/);
  }, 30_000);

  it('exits 1 when ZooKeeper cannot be read, and 2 without a zookeeper section', async () => {
    const down = writeConfig('down.yaml', { zookeeper: { address: [`127.0.0.1:${await freePort()}`], timeout: 500 } });
    const unreadable = await ctl(['--config', down, 'fleet']);
    expect(unreadable.code).toBe(1);
    expect(unreadable.stderr).toMatch(/^meta-proxy-ctl fleet: Cannot read the instances under \/meta-proxy\/instances in ZooKeeper 127\.0\.0\.1:\d+: .*Check that ZooKeeper is running/);

    writeFileSync(join(dir, 'routes.yaml'), 'temp: { cluster_name: c1, meta_addrs: "10.0.0.1:34601" }\n');
    const file = writeConfig('file.yaml', { registry: { file: 'routes.yaml' } });
    const noZk = await ctl(['--config', file, 'fleet']);
    expect(noZk.code).toBe(2);
    expect(noZk.stderr).toContain(`${file}: has no "zookeeper" section: instances register in ZooKeeper`);
  }, 30_000);
});
