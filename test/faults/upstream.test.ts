/**
 * MetaServer and route faults under load: leaders die, hang, cut replies,
 * send garbage; routes flip between clusters, vanish, turn into bad JSON.
 * Every request must get exactly one reply, in time, with an allowed code.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startZooKeeper, type ZkServer } from '../support/zookeeper.js';
import { startSimCluster, type SimCluster } from '../../sim/cluster.js';
import { startProxyProcess, type ProxyProcess } from '../support/proxyProcess.js';
import { TestClient } from '../support/pegasusClient.js';
import { identifyCluster } from '../../sim/identify.js';
import { expectAccounted, markdownTable, runFault, sleep, type FaultRow } from './harness.js';
import type { LoadTable } from './load.js';

const ROOT = '/pegasus-faults-upstream';
const TEMP: LoadTable = { name: 'temp', appId: 2, partitionCount: 8 };
const OTHER: LoadTable = { name: 'other', appId: 3, partitionCount: 4 };
const TABLES = { temp: TEMP, other: OTHER };
const LOAD = { tables: [TEMP, OTHER], connections: 4, ratePerSecond: 300, timeoutMs: 1500 };

let zk: ZkServer;
let a: SimCluster;
let b: SimCluster;
let proxy: ProxyProcess;
const rows: FaultRow[] = [];

const routeTo = (cluster: SimCluster) => ({ cluster_name: cluster.name, meta_addrs: cluster.metas.join(',') });

/** Back to the starting point: A's meta 0 leads, everything answers, both tables route to A. */
async function restore(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    await a.restart(i);
    a.setBehavior(i, { mode: 'normal' });
  }
  a.setLeader(0);
  await zk.set(`${ROOT}/temp`, routeTo(a));
  await zk.set(`${ROOT}/other`, routeTo(a));
  const probe = await TestClient.connect(proxy.port);
  try {
    // Reconnect back-off after a kill lasts up to 2 s.
    const until = Date.now() + 8000;
    for (let seqid = 1; ; seqid++) {
      const [t, o] = await Promise.all([probe.query('temp', seqid * 2), probe.query('other', seqid * 2 + 1)]);
      if (t.err === 'ERR_OK' && o.err === 'ERR_OK') break;
      if (Date.now() > until) throw new Error(`the proxy did not recover: ${t.err}, ${o.err}`);
      await sleep(100);
    }
  } finally {
    probe.close();
  }
}

beforeAll(async () => {
  zk = await startZooKeeper();
  a = await startSimCluster({ name: 'A', metas: 3, leader: 0, tables: TABLES });
  b = await startSimCluster({ name: 'B', metas: 2, leader: 0, tables: TABLES });
  await zk.set(`${ROOT}/temp`, routeTo(a));
  await zk.set(`${ROOT}/other`, routeTo(a));
  proxy = await startProxyProcess({
    zookeeper: { address: [zk.connectString], root: ROOT, timeout: 2000 },
    metric: { type: 'prometheus' },
    server: { listen: '127.0.0.1:0' },
    admin: { listen: '127.0.0.1:0' },
    upstream: { backup_request_delay_ms: 300, retry_delay_ms: 100, connect_timeout_ms: 500, default_timeout_ms: 1500 },
  });
  await restore();
}, 60_000);

afterAll(async () => {
  if (rows.length > 0) console.log(`\n${markdownTable(rows)}\n`);
  await proxy?.stop('SIGKILL');
  await a?.close();
  await b?.close();
  await zk?.dispose();
});

async function fault(name: string, allowed: string[], inject: () => Promise<void>): Promise<void> {
  const row = await runFault({ fault: name, proxy, load: LOAD, inject });
  rows.push(row);
  try {
    expectAccounted(row, allowed);
  } finally {
    await restore();
  }
}

describe('MetaServer faults under load', () => {
  it('the leader meta is killed and another is elected', async () => {
    await fault('leader meta killed, new leader after 300 ms', ['ERR_OK'], async () => {
      await a.kill(0);
      await sleep(300);
      a.setLeader(1);
      await sleep(1500);
      await a.restart(0);
    });
  });

  it('every meta of the cluster is killed, then restarted', async () => {
    await fault('every meta killed 2 s, restarted', ['ERR_OK', 'ERR_TIMEOUT', 'ERR_NETWORK_FAILURE'], async () => {
      await Promise.all([a.kill(0), a.kill(1), a.kill(2)]);
      await sleep(2000);
      for (let i = 0; i < 3; i++) await a.restart(i);
    });
  });

  it('the leader hangs (accepts, never answers) and leadership moves', async () => {
    await fault('leader silent, leadership moves', ['ERR_OK'], async () => {
      a.setBehavior(0, { mode: 'silent' });
      a.setLeader(1);
      await sleep(2000);
      a.setBehavior(0, { mode: 'normal' });
    });
  });

  it('the leader hangs and nobody takes over', async () => {
    await fault('leader silent 2 s, no failover', ['ERR_OK', 'ERR_TIMEOUT'], async () => {
      a.setBehavior(0, { mode: 'silent' });
      await sleep(2000);
      a.setBehavior(0, { mode: 'normal' });
    });
  });

  it('the leader closes the connection in the middle of each reply', async () => {
    await fault('leader closes mid-reply 2 s', ['ERR_OK', 'ERR_TIMEOUT', 'ERR_NETWORK_FAILURE'], async () => {
      a.setBehavior(0, { mode: 'close-mid-reply' });
      await sleep(2000);
      a.setBehavior(0, { mode: 'normal' });
    });
  });

  it('the leader answers garbage', async () => {
    await fault('leader sends garbage 2 s', ['ERR_OK', 'ERR_TIMEOUT', 'ERR_NETWORK_FAILURE'], async () => {
      a.setBehavior(0, { mode: 'garbage' });
      await sleep(2000);
      a.setBehavior(0, { mode: 'normal' });
    });
  });
});

describe('route faults under load', () => {
  it('the route flips A→B→A every 250 ms', async () => {
    // A's leader answers after 150 ms, so every switch catches calls in flight and re-issues them.
    a.setBehavior(0, { mode: 'slow', delayMs: 150 });
    await fault('route switched A↔B every 250 ms for 2.5 s (A slow)', ['ERR_OK'], async () => {
      for (let i = 1; i <= 10; i++) {
        await zk.set(`${ROOT}/temp`, routeTo(i % 2 === 1 ? b : a));
        await sleep(250);
      }
    });
    // The last switch went back to A: the flips must not have left the route on B.
    const c = await TestClient.connect(proxy.port);
    try {
      const reply = await c.query('temp', 1, { indices: [0] });
      expect(reply.err).toBe('ERR_OK');
      expect(identifyCluster(reply.frame, ['A', 'B'])).toBe('A');
    } finally {
      c.close();
    }
  });

  it('the route node is deleted and re-created', async () => {
    await fault('route node deleted 1 s, re-created', ['ERR_OK', 'ERR_OBJECT_NOT_FOUND'], async () => {
      await zk.remove(`${ROOT}/temp`);
      await sleep(1000);
      await zk.set(`${ROOT}/temp`, routeTo(a));
    });
  });

  it('the route node holds invalid JSON for a while', async () => {
    await fault('invalid JSON in the route node 1 s', ['ERR_OK', 'ERR_INVALID_DATA'], async () => {
      await zk.set(`${ROOT}/temp`, '{"cluster_name": "A", "meta_addrs": ');
      await sleep(1000);
      await zk.set(`${ROOT}/temp`, routeTo(a));
    });
  });
});
