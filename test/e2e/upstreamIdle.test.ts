/**
 * A running proxy closes its connections to a cluster that no route names any
 * more (the tables were switched away from it), once they have been unused for
 * upstream.idle_close_ms, and shows it on /metrics; the connections to the
 * cluster the routes name stay open however idle.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startZooKeeper, type ZkServer } from '../support/zookeeper.js';
import { startSimCluster, type SimCluster } from '../../sim/cluster.js';
import { identifyCluster } from '../../sim/identify.js';
import { startProxyProcess, type ProxyProcess } from '../support/proxyProcess.js';
import { TestClient } from '../support/pegasusClient.js';
import { metric } from '../faults/harness.js';

const ROOT = '/pegasus-upstream-idle';
const TABLES = { temp: { appId: 2, partitionCount: 8 } };
const IDLE_MS = 400;

let zk: ZkServer;
let a: SimCluster;
let b: SimCluster;
let proxy: ProxyProcess;

const routeTo = (cluster: SimCluster) => ({ cluster_name: cluster.name, meta_addrs: cluster.metas.join(',') });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function eventually(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** The client keeps every reply by seqid: each query needs a new one. */
let seqid = 1000;

/** Queries `temp` until the answer comes from `cluster`. */
async function routedTo(c: TestClient, cluster: string): Promise<void> {
  await eventually(async () => {
    const reply = await c.query('temp', seqid++, { indices: [0] });
    return reply.err === 'ERR_OK' && identifyCluster(reply.frame, ['A', 'B']) === cluster;
  }, `temp answered by ${cluster}`);
}

const closedLines = () => proxy.logs.filter((entry) => entry.msg === 'closed the connection to a MetaServer no cached route names');

beforeAll(async () => {
  zk = await startZooKeeper();
  a = await startSimCluster({ name: 'A', metas: 2, leader: 0, tables: TABLES });
  b = await startSimCluster({ name: 'B', metas: 2, leader: 0, tables: TABLES });
  await zk.set(`${ROOT}/temp`, routeTo(a));
  proxy = await startProxyProcess({
    zookeeper: { address: [zk.connectString], root: ROOT, timeout: 2000 },
    metric: { type: 'prometheus' },
    server: { listen: '127.0.0.1:0' },
    admin: { listen: '127.0.0.1:0' },
    upstream: { idle_close_ms: IDLE_MS, backup_request_delay_ms: 5000 },
  });
}, 60_000);

afterAll(async () => {
  await proxy?.stop('SIGKILL');
  await a?.close();
  await b?.close();
  await zk?.dispose();
});

describe('upstream connections no route names', () => {
  it('are closed after idle_close_ms, counted, and opened again when a route names the meta again', async () => {
    const c = await TestClient.connect(proxy.port);
    try {
      await routedTo(c, 'A');
      expect(a.openConnectionCount(0)).toBe(1);
      expect(await metric(proxy, 'upstream_connection_count')).toBe(1);

      // A's leader hangs with a query in flight when the table moves to B: the
      // reroute abandons the call, and the hung connection must go too.
      a.setBehavior(0, { mode: 'silent' });
      const stuck = c.query('temp', 1, { indices: [1], timeoutMs: 10_000 });
      await eventually(() => a.requestCount(0) >= 2, 'the query reaches the silent leader');
      await zk.set(`${ROOT}/temp`, routeTo(b));
      expect((await stuck).err).toBe('ERR_OK');
      await routedTo(c, 'B');
      const switchedAt = Date.now();

      await eventually(() => a.openConnectionCount(0) === 0, "A's leader sees its connection closed");
      // Not before the idle time: the reroute used it last.
      expect(Date.now() - switchedAt).toBeGreaterThanOrEqual(IDLE_MS - 100);
      expect(await metric(proxy, 'upstream_reconnect_count', { meta: a.metas[0]!, reason: 'unused' })).toBe(1);
      expect(await metric(proxy, 'upstream_connection_count')).toBe(1);
      expect(closedLines().map((entry) => entry.meta)).toEqual([a.metas[0]]);

      // B is named: its connection stays, however long nobody asks.
      await sleep(IDLE_MS * 3);
      expect(b.openConnectionCount(0)).toBe(1);
      expect(await metric(proxy, 'upstream_reconnect_count', { meta: b.metas[0]! })).toBe(0);

      // Back to A: a new connection, answered as before.
      a.setBehavior(0, { mode: 'normal' });
      await zk.set(`${ROOT}/temp`, routeTo(a));
      await routedTo(c, 'A');
      expect(a.connectionCount(0)).toBe(2);
      await eventually(() => b.openConnectionCount(0) === 0, "B's connection closed once A is the route again");
      expect(await metric(proxy, 'upstream_reconnect_count', { reason: 'unused' })).toBe(2);
      expect(proxy.child.exitCode).toBeNull();
    } finally {
      c.close();
    }
  });
});
