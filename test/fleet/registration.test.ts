/**
 * Registration of real `meta-proxy` processes under zookeeper.instances_path:
 * the node each writes, how it goes (SIGTERM at once, SIGKILL at session
 * expiry), how it comes back (deleted behind its back, session expired), and
 * a refused registration that costs one warning and nothing else.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestClient } from '../support/pegasusClient.js';
import { startProxyProcess, type ProxyProcess } from '../support/proxyProcess.js';
import { startZooKeeper, type ZkServer } from '../support/zookeeper.js';

const ROOT = '/fleet-routes';
let zk: ZkServer;
const proxies: ProxyProcess[] = [];

beforeAll(async () => {
  zk = await startZooKeeper();
}, 60_000);

afterAll(async () => {
  for (const proxy of proxies) {
    proxy.child.kill('SIGCONT');
    await proxy.stop('SIGKILL');
  }
  await zk?.dispose();
});

async function start(instancesPath: string, extra: { zookeeper?: Record<string, unknown> } = {}): Promise<ProxyProcess> {
  const proxy = await startProxyProcess({
    zookeeper: { address: [zk.connectString], root: ROOT, timeout: 2000, instances_path: instancesPath, ...extra.zookeeper },
    metric: { type: 'none' },
    server: { listen: '127.0.0.1:0', drain_timeout_ms: 200 },
    admin: { listen: '127.0.0.1:0' },
  });
  proxies.push(proxy);
  return proxy;
}

const adminPort = (proxy: ProxyProcess): number => {
  const line = proxy.logs.find((entry) => entry.msg === 'admin HTTP server listening') as { admin: { port: number } } | undefined;
  if (!line) throw new Error('the proxy logged no admin address');
  return line.admin.port;
};

const logged = (proxy: ProxyProcess, msg: string): Array<Record<string, unknown>> => proxy.logs.filter((entry) => entry.msg === msg);

async function eventually(check: () => Promise<boolean> | boolean, timeoutMs = 10_000, what = 'condition'): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await check()) return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function nodeData(path: string): Promise<Record<string, unknown> | null> {
  const node = await zk.get(path);
  return node && (JSON.parse(node.data.toString('utf8')) as Record<string, unknown>);
}

describe('registration under zookeeper.instances_path', () => {
  it('three instances write their node; SIGTERM removes one at once, SIGKILL at session expiry', async () => {
    const path = '/fleet-a/instances';
    const started = await Promise.all([start(path), start(path), start(path)]);
    const names = started.map((proxy) => `127.0.0.1:${proxy.port}`);
    await eventually(async () => (await zk.children(path)).length === 3, 10_000, 'three nodes');
    expect((await zk.children(path)).sort()).toEqual([...names].sort());

    const [first, second, third] = started as [ProxyProcess, ProxyProcess, ProxyProcess];
    await eventually(async () => (await nodeData(`${path}/${names[0]}`))?.ready === true, 10_000, 'ready');
    const data = await nodeData(`${path}/${names[0]}`);
    expect(data).toEqual({
      listen: names[0],
      admin: `http://127.0.0.1:${adminPort(first)}`,
      version: expect.stringMatching(/^\d+\.\d+\.\d+/),
      pid: first.child.pid,
      startedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      routesRoot: ROOT,
      ready: true,
    });
    expect(Math.abs(Date.parse(data!.startedAt as string) - Date.now())).toBeLessThan(60_000);

    // The status page's data lists the fleet, this instance marked.
    const status = (await (await fetch(`http://127.0.0.1:${adminPort(second)}/status.json?size=10`)).json()) as { fleet: { path: string; self: string; instances: Array<{ name: string; self: boolean; ready: boolean }> } };
    expect(status.fleet.path).toBe(path);
    expect(status.fleet.self).toBe(names[1]);
    expect(status.fleet.instances.map((i) => i.name)).toEqual([...names].sort());
    expect(status.fleet.instances.filter((i) => i.self).map((i) => i.name)).toEqual([names[1]]);
    expect(status.fleet.instances.every((i) => i.ready)).toBe(true);

    // SIGTERM: deleted by the process itself before its session closes.
    expect(await first.stop('SIGTERM')).toBe(0);
    expect(await zk.get(`${path}/${names[0]}`)).toBeNull();
    expect(logged(first, 'removed from ZooKeeper')).toHaveLength(1);

    // SIGKILL: nobody deletes it; ZooKeeper does when the session expires (timeout 2000 ms).
    await second.stop('SIGKILL');
    expect(await zk.get(`${path}/${names[1]}`)).not.toBeNull();
    const gone = await eventually(async () => (await zk.get(`${path}/${names[1]}`)) === null, 15_000, 'expiry of the killed instance');
    expect(gone).toBeGreaterThan(500);
    expect((await zk.children(path)).sort()).toEqual([names[2]]);
    expect(await third.stop('SIGTERM')).toBe(0);
    expect(await zk.children(path)).toEqual([]);
  }, 60_000);

  it('comes back when its node is deleted behind its back, and after its session expired', async () => {
    const path = '/fleet-b/instances';
    const proxy = await start(path);
    const node = `${path}/127.0.0.1:${proxy.port}`;
    await eventually(async () => (await nodeData(node))?.ready === true, 10_000, 'registered');
    const before = await nodeData(node);

    await zk.remove(node);
    await eventually(async () => (await zk.get(node)) !== null, 5000, 're-created after delete');
    expect(await nodeData(node)).toEqual(before);
    expect(logged(proxy, 'registered in ZooKeeper again')).toHaveLength(1);

    // The server stopped past the session timeout expires the session when it resumes.
    zk.pause();
    await new Promise((r) => setTimeout(r, 4000));
    zk.resume();
    await eventually(() => proxy.logs.some((entry) => entry.msg === 'ZooKeeper session expired; opening a new one'), 15_000, 'session expiry');
    await eventually(() => logged(proxy, 'registered in ZooKeeper again').length === 2, 15_000, 're-registered after expiry');
    expect(await nodeData(node)).toMatchObject({ ...before, ready: true });
    expect(await proxy.stop('SIGTERM')).toBe(0);
    expect(await zk.get(node)).toBeNull();
  }, 60_000);

  it('serves on with one warning when an ACL forbids the node', async () => {
    const path = '/fleet-locked/instances';
    await zk.set(path, '');
    // Only another identity may create children there.
    await zk.setDigestAcl(path, 'operator:elsewhere');
    const proxy = await start(path, { zookeeper: { auth: { scheme: 'digest', credential: 'proxy:pw' } } });
    await eventually(() => proxy.logs.some((entry) => String(entry.msg).startsWith('ZooKeeper refused')), 10_000, 'the warning');
    // Time for retries and readiness changes to log more, if they would.
    await new Promise((r) => setTimeout(r, 2500));
    const warnings = proxy.logs.filter((entry) => String(entry.msg).startsWith('ZooKeeper refused'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ level: 'warn', rc: 'ZNOAUTH', path: `${path}/127.0.0.1:${proxy.port}` });

    // It still answers clients (a table without a route: answered from ZooKeeper) and says it is ready.
    const client = await TestClient.connect(proxy.port);
    try {
      expect((await client.query('no_such_table', 1, { timeoutMs: 3000 })).err).toBe('ERR_OBJECT_NOT_FOUND');
    } finally {
      client.close();
    }
    expect((await fetch(`http://127.0.0.1:${adminPort(proxy)}/readyz`)).status).toBe(200);
    expect(proxy.child.exitCode).toBeNull();
    expect(await proxy.stop('SIGTERM')).toBe(0);
  }, 60_000);
});
