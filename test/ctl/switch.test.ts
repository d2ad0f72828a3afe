import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimCluster, type SimCluster } from '../../sim/cluster.js';
import { identifyCluster } from '../../sim/identify.js';
import { startProxyProcess, type ProxyProcess } from '../support/proxyProcess.js';
import { TestClient } from '../support/pegasusClient.js';
import { startZooKeeper, type ZkServer } from '../support/zookeeper.js';
import { ctl, eventually, scratch, zkConfig, type Scratch } from './support.js';

const ROOT = '/ctl-switch';
const TABLES = { temp: { appId: 2, partitionCount: 8 }, other: { appId: 3, partitionCount: 4 }, third: { appId: 4, partitionCount: 2 }, elsewhere: { appId: 5, partitionCount: 2 } };

let zk: ZkServer;
let a: SimCluster;
let b: SimCluster;
let c: SimCluster;
let dir: Scratch;
let config: string;
const proxies: ProxyProcess[] = [];
const clients: TestClient[] = [];

const routeTo = (cluster: SimCluster) => ({ cluster_name: cluster.name, meta_addrs: cluster.metas.join(',') });
const which = (frame: Buffer) => identifyCluster(frame, ['A', 'B', 'C']);
const snapshot = async () => Promise.all(['temp', 'other', 'third', 'elsewhere'].map(async (t) => (await zk.get(`${ROOT}/${t}`))?.data.toString()));

let seq = 0;
/** The cluster whose answer a proxy relays for `table`. */
async function servedBy(client: TestClient, table: string): Promise<string | undefined> {
  const reply = await client.query(table, ++seq);
  return reply.err === 'ERR_OK' ? which(reply.frame) : reply.err;
}

beforeAll(async () => {
  zk = await startZooKeeper();
  // A's leader is its last meta, so the proxies start at a follower and follow the forward.
  [a, b, c] = await Promise.all([
    startSimCluster({ name: 'A', metas: 3, leader: 2, tables: TABLES }),
    startSimCluster({ name: 'B', metas: 2, leader: 1, tables: TABLES }),
    startSimCluster({ name: 'C', metas: 1, leader: 0, tables: TABLES }),
  ]);
  for (const t of ['temp', 'other', 'third']) await zk.set(`${ROOT}/${t}`, routeTo(a));
  await zk.set(`${ROOT}/elsewhere`, routeTo(c));
  dir = scratch();
  config = dir.config(zkConfig(zk.connectString, ROOT));
  const proxyConfig = {
    zookeeper: { address: [zk.connectString], root: ROOT, timeout: 2000, table_watcher_cache_capacity: 16 },
    metric: { type: 'none' },
    server: { listen: '127.0.0.1:0', drain_timeout_ms: 1000 },
    admin: { listen: '127.0.0.1:0' },
    upstream: { backup_request_delay_ms: 1000, default_timeout_ms: 3000 },
  };
  proxies.push(...(await Promise.all([startProxyProcess(proxyConfig), startProxyProcess(proxyConfig)])));
  for (const p of proxies) clients.push(await TestClient.connect(p.port));
}, 60_000);

afterAll(async () => {
  for (const cl of clients) cl.close();
  await Promise.all(proxies.map((p) => p.stop('SIGKILL')));
  await Promise.all([a?.close(), b?.close(), c?.close()]);
  dir?.dispose();
  await zk?.dispose();
});

describe('meta-proxy-ctl switch', () => {
  it('both proxies serve the tables from cluster A to start with', async () => {
    for (const cl of clients) for (const t of ['temp', 'other', 'third']) expect(await servedBy(cl, t)).toBe('A');
  });

  it('moves nothing when one table changed between the plan and the commit, and says to re-run', async () => {
    const before = await snapshot();
    const result = await ctl(['--config', config, 'switch', '--config-sync-ms', '0', '--from', 'A', '--to', 'B', '--meta', b.metas.join(',')], {
      beforeCommit: async (command, tables) => {
        expect(command).toBe('switch');
        expect([...tables].sort()).toEqual(['other', 'temp', 'third']);
        // Same content, new version: what a concurrent `set` by another operator looks like.
        await zk.set(`${ROOT}/third`, routeTo(a));
      },
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('"third" was changed');
    expect(result.stderr).toContain('No table was switched. Re-run the command');
    expect(await snapshot()).toEqual(before);
    expect((await zk.get(`${ROOT}/temp`))?.version).toBe(0);
    for (const cl of clients) expect(await servedBy(cl, 'temp')).toBe('A');
  });

  it('--dry-run prints the plan and changes nothing', async () => {
    const before = await snapshot();
    const result = await ctl(['--config', config, 'switch', '--config-sync-ms', '0', '--from', 'A', '--to', 'B', '--meta', b.metas.join(','), '--dry-run']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Would switch 3 tables');
    for (const t of ['other', 'temp', 'third']) expect(result.stdout).toMatch(new RegExp(`^${t}\\s+A \\(.*\\)\\s+->\\s+B \\(${b.metas.join(',')}\\)$`, 'm'));
    expect(result.stdout).not.toContain('elsewhere');
    expect(await snapshot()).toEqual(before);
  });

  it('moves every table of A to B in one transaction, and both running proxies reroute live', async () => {
    const result = await ctl(['--config', config, 'switch', '--config-sync-ms', '0', '--from', 'A', '--to', 'B', '--meta', b.metas.join(',')]);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toContain('Switched 3 tables from A to B');
    for (const t of ['temp', 'other', 'third']) {
      expect(JSON.parse((await zk.get(`${ROOT}/${t}`))!.data.toString())).toEqual({ cluster_name: 'B', meta_addrs: b.metas.join(',') });
    }
    expect(JSON.parse((await zk.get(`${ROOT}/elsewhere`))!.data.toString())).toEqual(routeTo(c));
    for (const cl of clients) {
      await eventually(async () => (await servedBy(cl, 'temp')) === 'B');
      expect(await servedBy(cl, 'other')).toBe('B');
      expect(await servedBy(cl, 'third')).toBe('B');
      expect(await servedBy(cl, 'elsewhere')).toBe('C');
    }
  });

  it('--tables moves only the named tables, and refuses a table of another cluster', async () => {
    const wrong = await ctl(['--config', config, 'switch', '--config-sync-ms', '0', '--from', 'B', '--to', 'A', '--meta', a.metas.join(','), '--tables', 'temp,elsewhere,nosuch']);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('elsewhere is routed to C');
    expect(wrong.stderr).toContain('nosuch has no route');
    const one = await ctl(['--config', config, 'switch', '--config-sync-ms', '0', '--from', 'B', '--to', 'A', '--meta', a.metas.join(','), '--tables', 'temp']);
    expect(one.code).toBe(0);
    for (const cl of clients) {
      await eventually(async () => (await servedBy(cl, 'temp')) === 'A');
      expect(await servedBy(cl, 'other')).toBe('B');
    }
    const none = await ctl(['--config', config, 'switch', '--config-sync-ms', '0', '--from', 'Z', '--to', 'A', '--meta', a.metas.join(',')]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('No table is routed to cluster "Z"');
  });
});
