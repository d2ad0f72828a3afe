import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startZooKeeper, type ZkServer } from '../support/zookeeper.js';
import { startSimCluster, type SimCluster } from '../../sim/cluster.js';
import { identifyCluster } from '../../sim/identify.js';
import { startProxyProcess, type ProxyProcess } from '../support/proxyProcess.js';
import { TestClient, requestBody, v0Frame, queryConfigArgs, queryFrame } from '../support/pegasusClient.js';

const ROOT = '/pegasus-e2e';
const TABLES = { temp: { appId: 2, partitionCount: 8 }, other: { appId: 3, partitionCount: 4 } };

let zk: ZkServer;
let a: SimCluster;
let b: SimCluster;
let proxy: ProxyProcess;
const clients: TestClient[] = [];

const routeTo = (cluster: SimCluster) => ({ cluster_name: cluster.name, meta_addrs: cluster.metas.join(',') });
const which = (frame: Buffer) => identifyCluster(frame, ['A', 'B']);

async function client(): Promise<TestClient> {
  const c = await TestClient.connect(proxy.port);
  clients.push(c);
  return c;
}

/** Polls until `check` passes (route changes travel through a ZooKeeper watch). */
async function eventually(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  zk = await startZooKeeper();
  // Cluster A's leader is its last meta: the proxy, which tries metas in order, starts at a follower.
  a = await startSimCluster({ name: 'A', metas: 3, leader: 2, tables: TABLES });
  b = await startSimCluster({ name: 'B', metas: 2, leader: 0, tables: TABLES });
  await zk.set(`${ROOT}/temp`, routeTo(a));
  await zk.set(`${ROOT}/other`, routeTo(a));
  proxy = await startProxyProcess({
    zookeeper: { address: [zk.connectString], root: ROOT, timeout: 2000, table_watcher_cache_capacity: 16 },
    metric: { type: 'none' },
    server: { listen: '127.0.0.1:0', drain_timeout_ms: 5000 },
    admin: { listen: '' },
    upstream: { backup_request_delay_ms: 3000, default_timeout_ms: 5000 },
  });
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await proxy?.stop('SIGKILL');
  await a?.close();
  await b?.close();
  await zk?.dispose();
});

describe('meta-proxy end to end (real CLI, real ZooKeeper, simulated clusters)', () => {
  it('answers v0 and v1 clients with cluster A\'s config, found from a follower-started cluster', async () => {
    const c = await client();
    const v0 = await c.query('temp', 1, { version: 0 });
    const v1 = await c.query('temp', 2, { version: 1, indices: [] });
    for (const reply of [v0, v1]) {
      expect(reply.headerError).toBe('ERR_OK');
      expect(reply.name).toBe('RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX_ACK');
      expect(reply.err).toBe('ERR_OK');
      expect(reply.appId).toBe(2);
      expect(reply.partitionCount).toBe(8);
      expect(which(reply.frame)).toBe('A');
    }
    expect(v0.seqid).toBe(1);
    expect(v1.seqid).toBe(2);
  });

  it('relays the meta\'s reply byte for byte except the seqid', async () => {
    const c = await client();
    const viaProxy = await c.query('temp', 77, { indices: [1, 3] });
    const direct = await TestClient.connect(Number(a.metas[2]!.split(':')[1]));
    clients.push(direct);
    const fromMeta = await direct.query('temp', 77, { indices: [1, 3] });
    expect(viaProxy.frame.equals(fromMeta.frame)).toBe(true);
  });

  it('answers ERR_HANDLER_NOT_FOUND to another RPC and keeps serving the same connection', async () => {
    const c = await client();
    const reply = await c.request(v0Frame(requestBody('RPC_CM_LIST_NODES', 5, queryConfigArgs('x'))), 5);
    expect(reply.headerError).toBe('ERR_HANDLER_NOT_FOUND');
    expect(reply.name).toBe('RPC_CM_LIST_NODES_ACK');
    expect(reply.frame.length).toBe(4 + 4 + 21 + 4 + 4 + 21 + 4);
    const after = await c.query('temp', 6);
    expect(after.err).toBe('ERR_OK');
  });

  it('closes only the connection that sent garbage', async () => {
    const good = await client();
    const bad = await client();
    bad.send(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    await bad.waitClosed();
    expect((await good.query('temp', 9)).err).toBe('ERR_OK');
  });

  it('answers 50 pipelined requests on one connection and 200 connections at once', async () => {
    const c = await client();
    const frames = Array.from({ length: 50 }, (_, i) => queryFrame(i % 2 ? 'temp' : 'other', 1000 + i, { version: (i % 2) as 0 | 1 }));
    const pending = frames.map((_, i) => c.reply(1000 + i));
    c.send(Buffer.concat(frames));
    const replies = await Promise.all(pending);
    replies.forEach((r, i) => {
      expect(r.seqid).toBe(1000 + i);
      expect(r.appId).toBe(i % 2 ? 2 : 3);
    });
    const many = await Promise.all(Array.from({ length: 200 }, () => client()));
    const answers = await Promise.all(many.map((m, i) => m.query('temp', i)));
    answers.forEach((r, i) => {
      expect(r.seqid).toBe(i);
      expect(r.err).toBe('ERR_OK');
    });
    for (const m of many) m.close();
  });

  it('answers ERR_OBJECT_NOT_FOUND for a table without a node', async () => {
    const c = await client();
    expect((await c.query('no_such_table', 1)).err).toBe('ERR_OBJECT_NOT_FOUND');
  });

  it('re-issues a query held in flight at a slow cluster A to cluster B when the route switches', async () => {
    const c = await client();
    expect(which((await c.query('temp', 1)).frame)).toBe('A');
    a.setBehavior(2, { mode: 'slow', delayMs: 4000 });
    try {
      const held = c.query('temp', 2, { timeoutMs: 8000 });
      await new Promise((r) => setTimeout(r, 300));
      const switchedAt = Date.now();
      await zk.set(`${ROOT}/temp`, routeTo(b));
      const reply = await held;
      expect(which(reply.frame)).toBe('B');
      expect(Date.now() - switchedAt).toBeLessThan(2000);
      expect((await c.query('temp', 3)).err).toBe('ERR_OK');
      expect(which(c.replies.find((r) => r.seqid === 3)!.frame)).toBe('B');
    } finally {
      a.setBehavior(2, { mode: 'normal' });
    }
  });

  it('answers ERR_OBJECT_NOT_FOUND once the node is deleted, and the route again when it is re-created', async () => {
    const c = await client();
    await zk.remove(`${ROOT}/other`);
    let seq = 100;
    await eventually(async () => (await c.query('other', seq++)).err === 'ERR_OBJECT_NOT_FOUND');
    await zk.set(`${ROOT}/other`, routeTo(b));
    await eventually(async () => {
      const r = await c.query('other', seq++);
      return r.err === 'ERR_OK' && which(r.frame) === 'B';
    });
  });

  it('on SIGTERM answers every request in flight, then exits 0', async () => {
    await zk.set(`${ROOT}/temp`, routeTo(a));
    const c = await client();
    let seq = 1;
    await eventually(async () => which((await c.query('temp', seq++)).frame) === 'A');
    a.setBehavior(2, { mode: 'slow', delayMs: 600 });
    const inFlight = Array.from({ length: 20 }, (_, i) => c.query('temp', 500 + i, { indices: [i % 8] }));
    await new Promise((r) => setTimeout(r, 150));
    const code = proxy.stop('SIGTERM');
    const replies = await Promise.all(inFlight);
    replies.forEach((r, i) => {
      expect(r.seqid).toBe(500 + i);
      expect(r.err).toBe('ERR_OK');
    });
    const exitCode = await code;
    if (exitCode !== 0) console.log(JSON.stringify(proxy.logs.slice(-8), null, 1));
    expect(exitCode).toBe(0);
    a.setBehavior(2, { mode: 'normal' });
  });
});
