/**
 * ZooKeeper faults under load: the server killed and restarted, the proxy's
 * session expired (cut off from ZooKeeper for longer than the session
 * timeout), the server frozen for less than the session timeout.
 * Cached routes keep being served; a table never seen before gets
 * ERR_ZOOKEEPER_OPERATION while ZooKeeper cannot answer, within the client's
 * budget; after each fault a route edit still reaches the proxy (the watches
 * came back).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startZooKeeper, type ZkServer } from '../support/zookeeper.js';
import { startSimCluster, type SimCluster } from '../../sim/cluster.js';
import { identifyCluster } from '../../sim/identify.js';
import { startProxyProcess, type ProxyProcess } from '../support/proxyProcess.js';
import { TestClient } from '../support/pegasusClient.js';
import { expectAccounted, markdownTable, runFault, sleep, type FaultRow } from './harness.js';
import { startTcpRelay, type TcpRelay } from './tcpRelay.js';
import type { LoadTable } from './load.js';

const ROOT = '/pegasus-faults-zk';
/** Session timeout asked by the proxy; longer than the clients' 1500 ms budget on purpose. */
const SESSION_MS = 3000;
const TEMP: LoadTable = { name: 'temp', appId: 2, partitionCount: 8 };
const OTHER: LoadTable = { name: 'other', appId: 3, partitionCount: 4 };
const TABLES = { temp: TEMP, other: OTHER };
const ALLOWED = ['ERR_OK', 'ERR_OBJECT_NOT_FOUND', 'ERR_ZOOKEEPER_OPERATION'];

let fresh = 0;
/** Every tenth request asks for a table never asked before (no node): a cache miss each time. */
const pick = (n: number): LoadTable =>
  n % 10 === 9 ? { name: `fresh_${fresh++}`, appId: -1, partitionCount: 1 } : n % 2 ? TEMP : OTHER;
const LOAD = { pick, connections: 4, ratePerSecond: 300, timeoutMs: 1500 };

let zk: ZkServer;
/** The proxy reaches ZooKeeper through this, so a test can cut it off while ZooKeeper runs on. */
let relay: TcpRelay;
let a: SimCluster;
let b: SimCluster;
let proxy: ProxyProcess;
const rows: FaultRow[] = [];

const routeTo = (cluster: SimCluster) => ({ cluster_name: cluster.name, meta_addrs: cluster.metas.join(',') });

/** Polls `temp` until it is answered by `cluster`. */
async function routedTo(c: TestClient, cluster: string, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (let seqid = 1; ; seqid++) {
    const reply = await c.query('temp', seqid, { indices: [0] });
    if (reply.err === 'ERR_OK' && identifyCluster(reply.frame, ['A', 'B']) === cluster) return;
    if (Date.now() > until) throw new Error(`temp is not routed to ${cluster} (last: ${reply.err})`);
    await sleep(50);
  }
}

/** A route edit made now must reach the proxy: its watch survived the fault. */
async function expectWatchAlive(): Promise<void> {
  const c = await TestClient.connect(proxy.port);
  try {
    await zk.set(`${ROOT}/temp`, routeTo(b));
    await routedTo(c, 'B');
    await zk.set(`${ROOT}/temp`, routeTo(a));
    await routedTo(c, 'A');
  } finally {
    c.close();
  }
}

const logged = (msg: string) => proxy.logs.filter((entry) => entry.msg === msg).length;

beforeAll(async () => {
  zk = await startZooKeeper();
  relay = await startTcpRelay(zk.port);
  a = await startSimCluster({ name: 'A', metas: 3, leader: 0, tables: TABLES });
  b = await startSimCluster({ name: 'B', metas: 2, leader: 0, tables: TABLES });
  await zk.set(`${ROOT}/temp`, routeTo(a));
  await zk.set(`${ROOT}/other`, routeTo(a));
  proxy = await startProxyProcess({
    zookeeper: { address: [`127.0.0.1:${relay.port}`], root: ROOT, timeout: SESSION_MS },
    metric: { type: 'prometheus' },
    server: { listen: '127.0.0.1:0' },
    admin: { listen: '127.0.0.1:0' },
    upstream: { backup_request_delay_ms: 300, retry_delay_ms: 100, connect_timeout_ms: 500, default_timeout_ms: 1500 },
  });
  await expectWatchAlive();
}, 60_000);

afterAll(async () => {
  if (rows.length > 0) console.log(`\n${markdownTable(rows)}\n`);
  if (process.env['FAULTS_DEBUG']) {
    for (const l of proxy?.logs ?? []) if (String(l['msg']).includes('ZooKeeper')) console.log(l['time'], l['msg'], l['state'] ?? '');
  }
  await proxy?.stop('SIGKILL');
  await a?.close();
  await b?.close();
  await relay?.close();
  await zk?.dispose();
});

describe('ZooKeeper faults under load', () => {
  it('ZooKeeper is killed for 3 s and restarted', async () => {
    const row = await runFault({
      fault: 'ZooKeeper killed 3 s, restarted',
      proxy,
      load: LOAD,
      inject: async () => {
        await zk.stop();
        await sleep(3000);
        await zk.restart();
      },
    });
    rows.push(row);
    expectAccounted(row, ALLOWED);
    expect(row.summary.codes['ERR_ZOOKEEPER_OPERATION']).toBeGreaterThan(0);
    await expectWatchAlive();
  });

  it("the proxy's ZooKeeper session expires", async () => {
    const expiredBefore = logged('ZooKeeper session expired; opening a new one');
    const row = await runFault({
      fault: 'ZooKeeper session expired (cut off 4.5 s > 3 s session)',
      proxy,
      load: LOAD,
      inject: async () => {
        // ZooKeeper runs on and expires the silent session on time. (Freezing the server
        // instead races: a client that reconnects the moment it thaws revives its session.)
        relay.cut();
        await sleep(SESSION_MS + 1500);
        relay.heal();
        await sleep(1000);
      },
    });
    rows.push(row);
    expectAccounted(row, ALLOWED);
    expect(logged('ZooKeeper session expired; opening a new one')).toBeGreaterThan(expiredBefore);
    await expectWatchAlive();
  });

  it('ZooKeeper answers slowly (frozen for less than the session timeout)', async () => {
    const expiredBefore = logged('ZooKeeper session expired; opening a new one');
    const row = await runFault({
      fault: 'ZooKeeper slow (frozen 1.5 s < 3 s session)',
      proxy,
      load: LOAD,
      inject: async () => {
        zk.pause();
        await sleep(1500);
        zk.resume();
      },
    });
    rows.push(row);
    expectAccounted(row, ALLOWED);
    expect(logged('ZooKeeper session expired; opening a new one')).toBe(expiredBefore);
    await expectWatchAlive();
  });
});
