/**
 * Options that reach their unit only through `run()`: each test writes a YAML
 * file, loads it with the real loader and runs the proxy in this process, then
 * shows the configured value at work where it differs from the default. The
 * units' own tests build them with the option in hand, so without these a
 * value that `run()` stopped passing on (the default taking its place) would
 * break nothing. Guarded here: server.listen, server.max_connections,
 * server.max_in_flight_per_connection, admin.listen, upstream.default_timeout_ms,
 * upstream.max_timeout_ms, upstream.backup_request_delay_ms,
 * upstream.retry_delay_ms, upstream.connect_timeout_ms, metric.type and the
 * falcon section, zookeeper.table_watcher_cache_capacity and zookeeper.timeout.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { dump } from 'js-yaml';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { run, type RunningProxy } from '../../src/main.js';
import { startSimCluster, type SimCluster, type SimClusterOptions } from '../../sim/cluster.js';
import { captureLogger } from '../metrics/logCapture.js';
import { find, parsePromText } from '../metrics/promText.js';
import { TestClient, queryFrame } from '../support/pegasusClient.js';
import { startZooKeeper, type ZkServer } from '../support/zookeeper.js';

const TABLES = { temp: { appId: 2, partitionCount: 8 } };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function eventually(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`not in time: ${what}`);
    await sleep(20);
  }
}

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Started {
  proxy: RunningProxy;
  lines: Array<Record<string, unknown>>;
}

/**
 * Writes `sections` (YAML keys; each merged over a registry-file, loopback
 * setup) to a file, loads it as the command does and runs the proxy on it.
 */
async function runWith(sections: Record<string, Record<string, unknown>>): Promise<Started> {
  const dir = mkdtempSync(join(tmpdir(), 'meta-proxy-wiring-'));
  const base: Record<string, Record<string, unknown>> = {
    metric: { type: 'prometheus' },
    server: { listen: '127.0.0.1:0', drain_timeout_ms: 200 },
    admin: { listen: '127.0.0.1:0' },
  };
  const yaml: Record<string, Record<string, unknown>> = { ...base };
  for (const [name, section] of Object.entries(sections)) yaml[name] = { ...base[name], ...section };
  const file = join(dir, 'meta-proxy.yaml');
  writeFileSync(file, dump(yaml));
  const { logger, lines } = captureLogger();
  const proxy = await run(loadConfig(file), logger);
  cleanups.push(() => proxy.dispose());
  return { proxy, lines };
}

/** A routes file naming `clusters` by their own names, for `registry.file`. */
function routesFile(routes: Record<string, SimCluster | string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'meta-proxy-wiring-routes-'));
  const file = join(dir, 'routes.yaml');
  const entries = Object.entries(routes).map(([table, to]) => [
    table,
    typeof to === 'string' ? { cluster_name: 'X', meta_addrs: to } : { cluster_name: to.name, meta_addrs: to.metas.join(',') },
  ]);
  writeFileSync(file, dump(Object.fromEntries(entries)));
  return file;
}

async function cluster(options: Omit<SimClusterOptions, 'tables'>): Promise<SimCluster> {
  const sim = await startSimCluster({ tables: TABLES, ...options });
  cleanups.push(() => sim.close());
  return sim;
}

async function client(proxy: RunningProxy): Promise<TestClient> {
  const c = await TestClient.connect(proxy.address.port);
  cleanups.push(() => c.close());
  return c;
}

async function adminGet(proxy: RunningProxy, path: string): Promise<Response> {
  return fetch(`http://127.0.0.1:${proxy.adminAddress!.port}${path}`);
}

async function metricValue(proxy: RunningProxy, name: string): Promise<number> {
  const samples = find(parsePromText(await (await adminGet(proxy, '/metrics')).text()), name);
  return samples.reduce((sum, sample) => sum + sample.value, 0);
}

/** A loopback port nothing listens on right now. */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * A `host:port` whose connects hang: a listener in a thread that never
 * accepts, its accept queue filled, so the kernel drops further SYNs.
 */
async function hangingAddress(): Promise<string> {
  const stop = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(
    `const { parentPort, workerData: stop } = require('node:worker_threads');
     const server = require('node:net').createServer();
     server.listen({ host: '127.0.0.1', port: 0, backlog: 1 }, () => {
       parentPort.postMessage(server.address().port);
       setImmediate(() => {
         while (Atomics.load(stop, 0) === 0) Atomics.wait(stop, 0, 0, 50);
         server.close();
       });
     });`,
    { eval: true, workerData: stop },
  );
  const port = await new Promise<number>((resolve) => worker.once('message', resolve));
  const fillers: net.Socket[] = [];
  cleanups.push(async () => {
    for (const socket of fillers) socket.destroy();
    Atomics.store(stop, 0, 1);
    Atomics.notify(stop, 0);
    await worker.terminate();
  });
  for (let i = 0; i < 16; i++) {
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    fillers.push(socket);
    const connected = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 300);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    if (!connected) return `127.0.0.1:${port}`;
  }
  throw new Error('the accept queue never filled');
}

describe('server and admin', () => {
  it('server.listen and admin.listen: the proxy binds the configured host and ports; "" disables admin', async () => {
    const [port, adminPort] = [await freePort(), await freePort()];
    const routes = routesFile({ temp: await cluster({ name: 'A', metas: 1 }) });
    const { proxy } = await runWith({
      registry: { file: routes },
      server: { listen: `127.0.0.1:${port}` },
      admin: { listen: `127.0.0.1:${adminPort}` },
    });
    expect(proxy.address).toEqual({ host: '127.0.0.1', port });
    expect(proxy.adminAddress).toEqual({ host: '127.0.0.1', port: adminPort });
    expect((await (await client(proxy)).query('temp', 1)).err).toBe('ERR_OK');

    const { proxy: without } = await runWith({ registry: { file: routes }, admin: { listen: '' } });
    expect(without.adminAddress).toBeUndefined();
  });

  it('server.max_connections: 2 closes a third connection and keeps serving the first two', async () => {
    const routes = routesFile({ temp: await cluster({ name: 'A', metas: 1 }) });
    const { proxy } = await runWith({ registry: { file: routes }, server: { max_connections: 2 } });
    const first = await client(proxy);
    const second = await client(proxy);
    expect((await first.query('temp', 1)).err).toBe('ERR_OK');
    expect((await second.query('temp', 2)).err).toBe('ERR_OK');
    const third = await client(proxy);
    await third.waitClosed(3000);
    expect((await first.query('temp', 3)).err).toBe('ERR_OK');
  });

  it('server.max_in_flight_per_connection: 4 stops reading a client with 4 requests at a silent meta', async () => {
    const a = await cluster({ name: 'A', metas: 1 });
    a.setBehavior(0, { mode: 'silent' });
    const { proxy } = await runWith({ registry: { file: routesFile({ temp: a }) }, server: { max_in_flight_per_connection: 4 } });
    const c = await client(proxy);
    // Distinct partitions: no two share an upstream call. All in one write.
    c.send(Buffer.concat(Array.from({ length: 40 }, (_, i) => queryFrame('temp', i + 1, { indices: [i], timeoutMs: 3000 }))));
    await eventually(() => a.requestCount(0) > 0, 'the first requests reach the meta');
    // Time for every request read to reach the meta.
    await sleep(300);
    // At most twice the limit in flight (what one chunk carried past it); the default (256) lets all 40 through.
    expect(a.requestCount(0)).toBeLessThanOrEqual(8);
  });
});

describe('upstream', () => {
  it('upstream.default_timeout_ms and max_timeout_ms: the budget the meta is given', async () => {
    const a = await cluster({ name: 'A', metas: 1 });
    const { proxy } = await runWith({
      registry: { file: routesFile({ temp: a }) },
      upstream: { default_timeout_ms: 400, max_timeout_ms: 2000 },
    });
    const c = await client(proxy);
    const budgetSeen = async (seqid: number, timeoutMs: number) => {
      expect((await c.query('temp', seqid, { version: 1, timeoutMs })).err).toBe('ERR_OK');
      return a.lastRequest(0)!.clientTimeoutMs;
    };
    // No timeout of the client's own: the default.
    const unset = await budgetSeen(1, 0);
    expect(unset).toBeGreaterThan(0);
    expect(unset).toBeLessThanOrEqual(400);
    // Within the maximum: the client's own.
    expect(await budgetSeen(2, 1500)).toBeGreaterThan(400);
    // Above the maximum (not sane): the default again.
    expect(await budgetSeen(3, 3000)).toBeLessThanOrEqual(400);
  });

  it('upstream.backup_request_delay_ms: 100 asks the follower well within an 800 ms budget', async () => {
    const a = await cluster({ name: 'A', metas: 2, leader: 0 });
    a.setBehavior(0, { mode: 'silent' });
    const { proxy } = await runWith({ registry: { file: routesFile({ temp: a }) }, upstream: { backup_request_delay_ms: 100 } });
    const c = await client(proxy);
    expect((await c.query('temp', 1, { version: 1, timeoutMs: 800 })).err).toBe('ERR_TIMEOUT');
    expect(a.requestCount(0)).toBeGreaterThan(0);
    // The default delay (1000 ms) is past this call's deadline: the follower would not be asked.
    expect(a.requestCount(1)).toBeGreaterThan(0);
  });

  it('upstream.retry_delay_ms: 3000 does not ask a meta that is not active again within a 1 s budget', async () => {
    const a = await cluster({ name: 'A', metas: 1 });
    const { proxy } = await runWith({ registry: { file: routesFile({ temp: a }) }, upstream: { retry_delay_ms: 3000 } });
    const c = await client(proxy);
    a.serviceNotActiveFor(100);
    const reply = await c.query('temp', 1, { version: 1, timeoutMs: 1000 });
    // With the default (200 ms) the retry finds the meta active again and is answered.
    expect(reply.err).not.toBe('ERR_OK');
    expect(a.requestCount(0)).toBe(1);
  });

  it('upstream.connect_timeout_ms: 10000 keeps waiting for a connect that hangs past a 2 s budget', async () => {
    const meta = await hangingAddress();
    const { proxy, lines } = await runWith({
      registry: { file: routesFile({ temp: meta }) },
      upstream: { connect_timeout_ms: 10_000 },
    });
    const c = await client(proxy);
    const reply = await c.query('temp', 1, { version: 1, timeoutMs: 2000 });
    expect(reply.err).toBe('ERR_TIMEOUT');
    const said = lines.map((line) => line['msg']);
    expect(said).not.toContain('connected to MetaServer');
    // The default (1000 ms) would have given up on the connect before the answer.
    expect(said).not.toContain('cannot connect to MetaServer');
  });
});

describe('metric', () => {
  it('metric.type: none serves no /metrics', async () => {
    const { proxy } = await runWith({ registry: { file: routesFile({ temp: await cluster({ name: 'A', metas: 1 }) }) }, metric: { type: 'none' } });
    expect((await adminGet(proxy, '/metrics')).status).toBe(404);
  });

  it('metric.type: falcon pushes to the configured agent every step_seconds under the configured endpoint', async () => {
    const pushes: Array<Array<{ endpoint: string; step: number; metric: string }>> = [];
    const agent: HttpServer = createHttpServer((request, response) => {
      let body = '';
      request.on('data', (chunk) => (body += chunk));
      request.on('end', () => {
        if (request.url === '/v1/push') pushes.push(JSON.parse(body));
        response.end('success');
      });
    });
    await new Promise<void>((resolve) => agent.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => agent.close(resolve)));
    const { port } = agent.address() as net.AddressInfo;
    await runWith({
      registry: { file: routesFile({ temp: await cluster({ name: 'A', metas: 1 }) }) },
      metric: { type: 'falcon', falcon: { agent_url: `http://127.0.0.1:${port}/v1/push`, step_seconds: 1, endpoint: 'wiring-test' } },
    });
    // The default step (60 s) would push nothing in this time.
    await eventually(() => pushes.length > 0, 'a push reaches the agent', 4000);
    const items = pushes[0]!;
    expect(items.length).toBeGreaterThan(0);
    expect(new Set(items.map((item) => item.endpoint))).toEqual(new Set(['wiring-test']));
    expect(new Set(items.map((item) => item.step))).toEqual(new Set([1]));
  });
});

describe('zookeeper', () => {
  let zk: ZkServer;
  beforeAll(async () => {
    zk = await startZooKeeper();
  });
  afterAll(async () => {
    await zk?.dispose();
  });

  it('zookeeper.table_watcher_cache_capacity: 1 keeps one route cached, however many tables are asked', async () => {
    const tables = ['t1', 't2', 't3'];
    const sim = await startSimCluster({ name: 'A', metas: 1, tables: Object.fromEntries(tables.map((t, i) => [t, { appId: i + 1, partitionCount: 4 }])) });
    cleanups.push(() => sim.close());
    for (const table of tables) await zk.set(`/wiring-capacity/${table}`, { cluster_name: 'A', meta_addrs: sim.metas.join(',') });
    const { proxy } = await runWith({
      zookeeper: { address: [zk.connectString], root: '/wiring-capacity', table_watcher_cache_capacity: 1 },
    });
    const c = await client(proxy);
    for (const [i, table] of tables.entries()) expect((await c.query(table, i + 1)).err).toBe('ERR_OK');
    // The default (1024) keeps all three.
    expect(await metricValue(proxy, 'route_cache_size')).toBe(1);
  });

  it('zookeeper.timeout: an uncached table is given up on after the configured time when ZooKeeper cannot be reached', async () => {
    const { proxy } = await runWith({
      zookeeper: { address: [`127.0.0.1:${await freePort()}`], root: '/wiring-timeout', timeout: 700 },
    });
    const c = await client(proxy);
    expect((await c.query('temp', 1, { version: 1, timeoutMs: 3000 })).err).toBe('ERR_ZOOKEEPER_OPERATION');
    // The registry gave up after the configured time, not the default (1000 ms), and says so.
    const rows = (await (await adminGet(proxy, '/tables')).json()) as Array<{ table: string; kind: string; reason: string | null }>;
    expect(rows.find((row) => row.table === 'temp')).toMatchObject({
      kind: 'unavailable',
      reason: 'ZooKeeper gave no answer for table temp within 700 ms',
    });
  });
});
