/**
 * Behaviours that rest on the routing core, pinned from the outside: the real
 * CLI, a routes file, simulated clusters and a client that speaks the wire
 * protocol. Whatever the core looks like inside, these must hold.
 */
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dump } from 'js-yaml';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSimCluster, type SimCluster } from '../../sim/cluster.js';
import { decodeQueryConfigReply } from '../../sim/decode.js';
import { startProxyProcess, type ProxyProcess } from '../support/proxyProcess.js';
import { TestClient, queryConfigArgs, requestBody, v0Frame, QUERY_CONFIG } from '../support/pegasusClient.js';
import { startZooKeeper, type ZkServer } from '../support/zookeeper.js';
import { adminUrl, metric } from '../faults/harness.js';

const TABLES = { temp: { appId: 2, partitionCount: 8 } };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A routes file the proxy watches; `write` replaces it atomically, as an operator's tool would. */
function routesFile(routes: Record<string, { cluster_name: string; meta_addrs: string }>) {
  const dir = mkdtempSync(join(tmpdir(), 'meta-proxy-guards-'));
  const file = join(dir, 'routes.yaml');
  let n = 0;
  const write = (next: typeof routes) => {
    const tmp = join(dir, `routes.${++n}.tmp`);
    writeFileSync(tmp, dump(next));
    renameSync(tmp, file);
  };
  write(routes);
  return { file, write };
}

const routeTo = (cluster: SimCluster, name = cluster.name) => ({ cluster_name: name, meta_addrs: cluster.metas.join(',') });

async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await sleep(20);
  }
}

const totalRequests = (cluster: SimCluster, metas: number) =>
  Array.from({ length: metas }, (_, i) => cluster.requestCount(i)).reduce((a, b) => a + b, 0);

const running: Array<{ close(): unknown }> = [];
const track = <T extends { close(): unknown }>(thing: T): T => {
  running.push(thing);
  return thing;
};
const proxies: ProxyProcess[] = [];
async function proxyOn(config: Record<string, unknown>): Promise<ProxyProcess> {
  const proxy = await startProxyProcess({
    metric: { type: 'prometheus', tags: [] },
    server: { listen: '127.0.0.1:0', drain_timeout_ms: 1000 },
    admin: { listen: '127.0.0.1:0' },
    ...config,
  });
  proxies.push(proxy);
  return proxy;
}

afterEach(async () => {
  for (const thing of running.splice(0)) await thing.close();
  for (const proxy of proxies.splice(0)) await proxy.stop('SIGKILL');
});

describe('metrics count every client frame version', () => {
  it('client_query_config_count counts v1 (Java) frames as well as v0 ones, under the table', async () => {
    const a = track(await startSimCluster({ name: 'A', metas: 1, tables: TABLES }));
    const routes = routesFile({ temp: routeTo(a) });
    const proxy = await proxyOn({ registry: { file: routes.file } });
    const c = track(await TestClient.connect(proxy.port));
    for (let seqid = 1; seqid <= 3; seqid++) expect((await c.query('temp', seqid, { version: 1 })).err).toBe('ERR_OK');
    for (let seqid = 4; seqid <= 5; seqid++) expect((await c.query('temp', seqid, { version: 0 })).err).toBe('ERR_OK');
    expect(await metric(proxy, 'client_query_config_count', { table: 'temp' })).toBe(5);
    // The v1 query of the table's very first request is counted too, once its route is known.
    expect(await metric(proxy, 'query_config_latency_seconds_count', { table: 'temp', code: 'ERR_OK' })).toBe(5);
  });
});

describe('reroute counts', () => {
  it('a table\'s very first request, rerouted in flight, is counted under the table once its route is known', async () => {
    const a = track(await startSimCluster({ name: 'A', metas: 1, tables: TABLES }));
    const b = track(await startSimCluster({ name: 'B', metas: 1, tables: TABLES }));
    a.setBehavior(0, { mode: 'silent' });
    const routes = routesFile({ temp: routeTo(a) });
    const proxy = await proxyOn({ registry: { file: routes.file }, upstream: { backup_request_delay_ms: 5000 } });
    const c = track(await TestClient.connect(proxy.port));
    const first = c.query('temp', 1, { version: 1, timeoutMs: 8000 });
    await eventually(() => a.requestCount(0) === 1);
    routes.write({ temp: routeTo(b) });
    expect((await first).err).toBe('ERR_OK');
    expect(await metric(proxy, 'reroute_count', { table: 'temp' })).toBe(1);
    expect(await metric(proxy, 'reroute_count', { table: 'other' })).toBe(0);
    expect(await metric(proxy, 'client_query_config_count', { table: 'temp' })).toBe(1);
  });
});

describe('drop_host_port_fields', () => {
  let h: SimCluster;
  let k: SimCluster;
  beforeAll(async () => {
    h = await startSimCluster({ name: 'H', metas: 1, hostPort: true, tables: TABLES });
    k = await startSimCluster({ name: 'K', metas: 1, hostPort: true, tables: { keep: { appId: 5, partitionCount: 4 } } });
  });
  afterAll(async () => {
    await h?.close();
    await k?.close();
  });

  const hpFields = (frame: Buffer) => {
    const body = decodeQueryConfigReply(frame).body!;
    expect(body.err).toBe('ERR_OK');
    expect(body.partitions.length).toBeGreaterThan(0);
    return body.partitions.map((p) => p.hpPrimary !== undefined || p.hpSecondaries !== undefined);
  };

  it('strips the hp_* fields of every answer when set for the whole proxy', async () => {
    const routes = routesFile({ temp: routeTo(h) });
    const proxy = await proxyOn({ registry: { file: routes.file }, upstream: { drop_host_port_fields: true } });
    const c = track(await TestClient.connect(proxy.port));
    const direct = track(await TestClient.connect(Number(h.metas[0]!.split(':')[1])));
    const fromMeta = await direct.query('temp', 1, { indices: [] });
    expect(hpFields(fromMeta.frame).every(Boolean)).toBe(true);
    for (const version of [0, 1] as const) {
      const reply = await c.query('temp', 10 + version, { version, indices: [] });
      expect(reply.seqid).toBe(10 + version);
      expect(hpFields(reply.frame).some(Boolean)).toBe(false);
      expect(reply.frame.length).toBeLessThan(fromMeta.frame.length);
    }
  });

  it('strips them only for the clusters that ask for it when set per cluster', async () => {
    const routes = routesFile({ temp: routeTo(h), keep: routeTo(k) });
    const proxy = await proxyOn({
      registry: { file: routes.file },
      upstream: { drop_host_port_fields: false, clusters: { H: { drop_host_port_fields: true } } },
    });
    const c = track(await TestClient.connect(proxy.port));
    expect(hpFields((await c.query('temp', 1, { indices: [] })).frame).some(Boolean)).toBe(false);
    const kept = await c.query('keep', 2, { indices: [] });
    expect(hpFields(kept.frame).every(Boolean)).toBe(true);
    const direct = track(await TestClient.connect(Number(k.metas[0]!.split(':')[1])));
    const fromMeta = await direct.query('keep', 2, { indices: [] });
    expect(kept.frame.equals(fromMeta.frame)).toBe(true);
  });
});

describe('coalescing', () => {
  it('a route moved to other metas of the same cluster sends identical in-flight queries to the new metas and drops the old call', async () => {
    // Two clusters that call themselves the same name: the old one never answers.
    const old = track(await startSimCluster({ name: 'C', metas: 1, tables: TABLES }));
    const moved = track(await startSimCluster({ name: 'C', metas: 1, tables: TABLES }));
    old.setBehavior(0, { mode: 'silent' });
    const routes = routesFile({ temp: routeTo(old) });
    const proxy = await proxyOn({ registry: { file: routes.file }, upstream: { backup_request_delay_ms: 5000 } });
    const c = track(await TestClient.connect(proxy.port));
    const first = c.query('temp', 1, { version: 1, indices: [], timeoutMs: 8000 });
    const second = c.query('temp', 2, { version: 1, indices: [], timeoutMs: 8000 });
    await eventually(() => old.requestCount(0) === 1);
    // Identical queries shared one call to the old metas.
    await sleep(100);
    expect(old.requestCount(0)).toBe(1);

    routes.write({ temp: routeTo(moved, 'C') });
    const started = Date.now();
    const answers = await Promise.all([first, second]);
    expect(Date.now() - started).toBeLessThan(3000);
    for (const [i, reply] of answers.entries()) {
      expect(reply.seqid).toBe(i + 1);
      expect(reply.err).toBe('ERR_OK');
    }
    // Re-issued together as one call to the new metas; the old call was dropped.
    expect(moved.requestCount(0)).toBe(1);
    const third = await c.query('temp', 3, { version: 1, indices: [], timeoutMs: 8000 });
    expect(third.err).toBe('ERR_OK');
    expect(old.requestCount(0)).toBe(1);
    await eventually(async () => (await metric(proxy, 'upstream_call_count', { meta: old.metas[0]!, result: 'cancelled' })) === 1);
  });

  it('identical partition indices share a call, different ones do not, and each gets its own partitions', async () => {
    const a = track(await startSimCluster({ name: 'A', metas: 1, tables: TABLES }));
    a.setBehavior(0, { mode: 'slow', delayMs: 300 });
    const routes = routesFile({ temp: routeTo(a) });
    const proxy = await proxyOn({ registry: { file: routes.file } });
    const c = track(await TestClient.connect(proxy.port));
    expect((await c.query('temp', 1, { indices: [0] })).err).toBe('ERR_OK');
    const before = a.requestCount(0);
    const replies = await Promise.all([
      c.query('temp', 11, { indices: [1] }),
      c.query('temp', 12, { indices: [1] }),
      c.query('temp', 13, { indices: [2] }),
      c.query('temp', 14, { version: 1, indices: [1] }),
    ]);
    expect(a.requestCount(0) - before).toBe(2);
    const partitionsOf = (frame: Buffer) => decodeQueryConfigReply(frame).body!.partitions.map((p) => p.partitionIndex);
    expect(replies.map((r) => r.seqid)).toEqual([11, 12, 13, 14]);
    expect(replies.map((r) => partitionsOf(r.frame))).toEqual([[1], [1], [2], [1]]);
  });
});

describe('deadlines', () => {
  it('answers ERR_TIMEOUT a margin before the client\'s own budget when the routed cluster is silent', async () => {
    const a = track(await startSimCluster({ name: 'A', metas: 2, tables: TABLES }));
    a.setBehavior(0, { mode: 'silent' });
    a.setBehavior(1, { mode: 'silent' });
    const routes = routesFile({ temp: routeTo(a) });
    const proxy = await proxyOn({ registry: { file: routes.file }, upstream: { backup_request_delay_ms: 200 } });
    const c = track(await TestClient.connect(proxy.port));
    // Route known and cached first, so the time below is the upstream call's alone.
    expect((await c.query('nothing_here', 1)).err).toBe('ERR_OBJECT_NOT_FOUND');
    for (const [seqid, budget] of [
      [2, 1000],
      [3, 2000],
    ] as const) {
      const started = Date.now();
      const reply = await c.request(v0Frame(requestBody(QUERY_CONFIG, seqid, queryConfigArgs('temp')), budget), seqid);
      const took = Date.now() - started;
      expect(reply.err).toBe('ERR_TIMEOUT');
      // The answer is due at budget - min(100, budget / 20): 950 ms and 1900 ms.
      const due = budget - Math.min(100, budget / 20);
      expect(took).toBeGreaterThanOrEqual(due - 20);
      expect(took).toBeLessThan(budget - 10);
    }
    // Both metas were asked (the backup went out) and neither answered.
    expect(a.requestCount(0)).toBeGreaterThan(0);
    expect(a.requestCount(1)).toBeGreaterThan(0);
  });
});

describe('a request a meta dropped', () => {
  it('does not hold a stream of identical queries: once the meta answers again, they are answered within a budget', async () => {
    const a = track(await startSimCluster({ name: 'A', metas: 2, leader: 0, tables: TABLES }));
    const routes = routesFile({ temp: routeTo(a) });
    const proxy = await proxyOn({ registry: { file: routes.file }, upstream: { backup_request_delay_ms: 300 } });
    const c = track(await TestClient.connect(proxy.port));
    expect((await c.query('temp', 1)).err).toBe('ERR_OK');
    // The leader drops what it gets for 600 ms (its follower forwards to it), then answers again.
    a.setBehavior(0, { mode: 'silent' });
    const started = Date.now();
    const sent: Array<{ at: number; reply: Promise<{ err?: string }> }> = [];
    let recoveredAt = Infinity;
    for (let seqid = 100; Date.now() - started < 3000; seqid++) {
      // Identical queries (same table, all partitions), one every 50 ms, each with a 1000 ms budget.
      sent.push({ at: Date.now(), reply: c.query('temp', seqid, { version: 1, timeoutMs: 1000 }) });
      if (recoveredAt === Infinity && Date.now() - started >= 600) {
        a.setBehavior(0, { mode: 'normal' });
        recoveredAt = Date.now();
      }
      await sleep(50);
    }
    const replies = await Promise.all(sent.map(async (s) => ({ at: s.at, err: (await s.reply).err })));
    const late = replies.filter((r) => r.at >= recoveredAt + 1200);
    expect(late.length).toBeGreaterThan(10);
    expect(late.map((r) => r.err)).toEqual(late.map(() => 'ERR_OK'));
  });
});

describe('forwards', () => {
  it('follows a cluster whose metas forward naming no leader until one becomes leader; never relays a forward', async () => {
    const a = track(await startSimCluster({ name: 'A', metas: 3, leader: -1, tables: TABLES }));
    const routes = routesFile({ temp: routeTo(a) });
    const proxy = await proxyOn({ registry: { file: routes.file }, upstream: { retry_delay_ms: 50, backup_request_delay_ms: 2000 } });
    const c = track(await TestClient.connect(proxy.port));
    const pending = c.query('temp', 1, { version: 1, timeoutMs: 4000 });
    await eventually(() => a.requestCount(0) > 0 && a.requestCount(1) > 0 && a.requestCount(2) > 0);
    a.setLeader(2);
    const reply = await pending;
    expect(reply.err).toBe('ERR_OK');
    expect(reply.appId).toBe(2);
    // Nobody leads: the client gets a timeout in time, never ERR_FORWARD_TO_OTHERS.
    a.setLeader(-1);
    const none = await c.query('temp', 2, { version: 1, timeoutMs: 600 });
    expect(none.err).toBe('ERR_TIMEOUT');
  });
});

describe('frame size limit', () => {
  it('serves a frame of exactly max_frame_bytes and closes the connection on one byte more', async () => {
    const a = track(await startSimCluster({ name: 'A', metas: 1, tables: TABLES }));
    const routes = routesFile({ temp: routeTo(a) });
    const max = 4096;
    const proxy = await proxyOn({ registry: { file: routes.file }, server: { listen: '127.0.0.1:0', max_frame_bytes: max } });
    const frameOf = (size: number, seqid: number) => {
      const empty = v0Frame(requestBody(QUERY_CONFIG, seqid, queryConfigArgs('')));
      return v0Frame(requestBody(QUERY_CONFIG, seqid, queryConfigArgs('x'.repeat(size - empty.length))));
    };
    expect(frameOf(max, 1).length).toBe(max);
    const ok = track(await TestClient.connect(proxy.port));
    const reply = await ok.request(frameOf(max, 1), 1);
    expect(reply.seqid).toBe(1);
    expect(reply.headerError).toBe('ERR_OK');
    expect((await ok.query('temp', 2)).err).toBe('ERR_OK');

    const tooLarge = track(await TestClient.connect(proxy.port));
    tooLarge.send(frameOf(max + 1, 3));
    await tooLarge.waitClosed();
    expect(tooLarge.replies).toEqual([]);
    expect((await ok.query('temp', 4)).err).toBe('ERR_OK');
    await eventually(async () => (await metric(proxy, 'rejected_frame_count')) === 1);
  });
});

describe('stale routes', () => {
  let zk: ZkServer;
  beforeAll(async () => {
    zk = await startZooKeeper();
  });
  afterAll(async () => {
    await zk?.dispose();
  });

  it('serves a cached route while ZooKeeper is down, marks it stale, and fails an uncached table with ERR_ZOOKEEPER_OPERATION', async () => {
    const a = track(await startSimCluster({ name: 'A', metas: 1, tables: TABLES }));
    await zk.set('/guards/temp', routeTo(a));
    const proxy = await proxyOn({ zookeeper: { address: [zk.connectString], root: '/guards', timeout: 1000 } });
    const c = track(await TestClient.connect(proxy.port));
    expect((await c.query('temp', 1)).err).toBe('ERR_OK');
    const tables = async () => (await (await fetch(`${adminUrl(proxy)}/tables`)).json()) as Array<{ table: string; stale: boolean }>;
    expect((await tables()).find((t) => t.table === 'temp')?.stale).toBe(false);

    await zk.stop();
    await eventually(async () => (await tables()).find((t) => t.table === 'temp')?.stale === true, 8000);
    expect(await metric(proxy, 'route_stale_count')).toBe(1);
    const cached = await c.query('temp', 2, { version: 1, timeoutMs: 3000 });
    expect(cached.err).toBe('ERR_OK');
    expect(cached.appId).toBe(2);
    const started = Date.now();
    const uncached = await c.query('not_cached', 3, { version: 1, timeoutMs: 3000 });
    expect(uncached.err).toBe('ERR_ZOOKEEPER_OPERATION');
    expect(Date.now() - started).toBeLessThan(2900);

    await zk.restart();
    await eventually(async () => (await tables()).find((t) => t.table === 'temp')?.stale === false, 10_000);
    expect((await c.query('temp', 4)).err).toBe('ERR_OK');
  });
});
