import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startZooKeeper, type ZkServer } from '../support/zookeeper.js';
import { startSimCluster, type SimCluster } from '../../sim/cluster.js';
import { startProxyProcess, type ProxyProcess } from '../support/proxyProcess.js';
import { TestClient } from '../support/pegasusClient.js';
import { find, parsePromText, value } from './promText.js';

const ROOT = '/pegasus-metrics-e2e';
const EXAMPLE = fileURLToPath(new URL('../../examples/metrics/slow-queries.mjs', import.meta.url));
const TAGS = { region: 'local_tst', service: 'meta_proxy' };

let zk: ZkServer;
let a: SimCluster;
let proxy: ProxyProcess;
let admin: string;
const clients: TestClient[] = [];

async function eventually(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const get = (path: string) => fetch(`${admin}${path}`);

beforeAll(async () => {
  zk = await startZooKeeper();
  a = await startSimCluster({ name: 'A', metas: 2, leader: 1, tables: { temp: { appId: 2, partitionCount: 8 } } });
  await zk.set(`${ROOT}/temp`, { cluster_name: 'A', meta_addrs: a.metas.join(',') });
  proxy = await startProxyProcess({
    zookeeper: { address: [zk.connectString], root: ROOT, timeout: 2000 },
    metric: { type: 'prometheus', tags: ['region=local_tst', 'service=meta_proxy'], custom: [EXAMPLE] },
    server: { listen: '127.0.0.1:0', drain_timeout_ms: 1000 },
    admin: { listen: '127.0.0.1:0' },
  });
  const line = proxy.logs.find((entry) => entry.msg === 'admin HTTP server listening') as { admin: { port: number } } | undefined;
  if (line === undefined) throw new Error('the proxy did not log its admin address');
  admin = `http://127.0.0.1:${line.admin.port}`;
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await proxy?.stop('SIGKILL');
  await a?.close();
  await zk?.dispose();
});

describe('metrics and admin endpoints of the running proxy', () => {
  it('counts scripted queries on /metrics under the original names with the configured tags', async () => {
    const c = await TestClient.connect(proxy.port);
    clients.push(c);
    for (let seqid = 1; seqid <= 3; seqid += 1) expect((await c.query('temp', seqid)).err).toBe('ERR_OK');
    expect((await c.query('no_such_table', 4)).err).toBe('ERR_OBJECT_NOT_FOUND');
    const bad = await TestClient.connect(proxy.port);
    clients.push(bad);
    bad.send(Buffer.from('GET / HTTP/1.1\r\n\r\n'));
    await bad.waitClosed();

    const response = await get('/metrics');
    expect(response.status).toBe(200);
    const samples = parsePromText(await response.text());
    for (const sample of samples) expect(sample.labels).toMatchObject(TAGS);

    expect(value(samples, 'client_connection_count')).toBe(1);
    // Tables with a route count under their own name (the first query's count
    // waits for its answer); a table without a route counts under `other`.
    expect(value(samples, 'client_query_config_count', { table: 'temp' })).toBe(3);
    expect(value(samples, 'client_query_config_count', { table: 'other' })).toBe(1);
    expect(value(samples, 'zk_request_count', { table: 'temp' })).toBe(1);
    expect(value(samples, 'zk_request_count', { table: 'other' })).toBe(1);
    const finished = find(samples, 'query_config_latency_seconds_count').reduce((sum, s) => sum + s.value, 0);
    expect(finished).toBe(4);
    expect(value(samples, 'query_config_latency_seconds_count', { table: 'temp', cluster: 'A', code: 'ERR_OK' })).toBe(3);
    expect(value(samples, 'query_config_latency_seconds_count', { table: 'other', code: 'ERR_OBJECT_NOT_FOUND' })).toBe(1);
    expect(value(samples, 'upstream_call_count', { meta: a.metas[1]!, result: 'ERR_OK' })).toBeGreaterThanOrEqual(1);
    expect(value(samples, 'route_cache_size')).toBe(2);
    expect(value(samples, 'zookeeper_session_state', { state: 'connected' })).toBe(1);
    expect(value(samples, 'rejected_frame_count')).toBe(1);
    expect(find(samples, 'last_query_latency_ms')).toHaveLength(1);
    expect(find(samples, 'nodejs_heap_size_used_bytes')).toHaveLength(1);
  });

  it('lists cached routes on /tables with the cluster leader', async () => {
    const rows = (await (await get('/tables')).json()) as Array<Record<string, unknown>>;
    const temp = rows.find((row) => row.table === 'temp');
    expect(temp).toMatchObject({ kind: 'route', cluster: 'A', metas: a.metas, leader: a.metas[1], stale: false });
    expect(rows.find((row) => row.table === 'no_such_table')).toMatchObject({ kind: 'missing', cluster: null });
    expect(JSON.stringify(rows)).not.toContain('credential');
  });

  it('flips /readyz to 503 while ZooKeeper is down and back to 200 when it returns', async () => {
    expect((await get('/readyz')).status).toBe(200);
    expect((await get('/healthz')).status).toBe(200);
    await zk.stop();
    await eventually(async () => (await get('/readyz')).status === 503);
    const body = (await (await get('/readyz')).json()) as { reasons: string[] };
    expect(body.reasons.join(' ')).toContain('route registry is not ready');
    expect((await get('/healthz')).status).toBe(200);
    await zk.restart();
    await eventually(async () => (await get('/readyz')).status === 200, 20_000);
    const samples = parsePromText(await (await get('/metrics')).text());
    expect(value(samples, 'zookeeper_session_state', { state: 'connected' })).toBe(1);
    expect(value(samples, 'zookeeper_session_state', { state: 'disconnected' })).toBe(0);
  }, 40_000);
});
