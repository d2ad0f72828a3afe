import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimCluster, type SimCluster } from '../../sim/cluster.js';
import type { AppInfo } from '../../src/protocol/listApps.js';
import { freePort, startZooKeeper, type ZkServer } from '../support/zookeeper.js';
import { ctl, scratch, zkConfig, type Scratch } from './support.js';

const ROOT = '/ctl-import';
let zk: ZkServer;
let cluster: SimCluster;
let dir: Scratch;
let config: string;

const node = async (table: string): Promise<unknown> => {
  const n = await zk.get(`${ROOT}/${table}`);
  return n ? JSON.parse(n.data.toString()) : null;
};
const route = () => ({ cluster_name: 'I', meta_addrs: cluster.metas.join(',') });

beforeAll(async () => {
  zk = await startZooKeeper();
  // The leader is the last meta: list-apps to the first ones is answered with a forward naming no one.
  cluster = await startSimCluster({
    name: 'I',
    metas: 3,
    leader: 2,
    tables: { t1: { appId: 1, partitionCount: 4 }, t2: { appId: 2, partitionCount: 4 }, t3: { appId: 3, partitionCount: 4 }, t4: { appId: 4, partitionCount: 4 } },
  });
  dir = scratch();
  config = dir.config(zkConfig(zk.connectString, ROOT));
  await zk.set(`${ROOT}/t1`, { cluster_name: 'X', meta_addrs: '10.1.1.1:34601' });
  await zk.set(`${ROOT}/t2`, route());
}, 60_000);

afterAll(async () => {
  await cluster?.close();
  dir?.dispose();
  await zk?.dispose();
});

const importArgs = (...extra: string[]) => ['--config', config, 'import', '--cluster', 'I', '--meta', cluster.metas.join(','), ...extra];

describe('meta-proxy-ctl import', () => {
  it('--dry-run lists the plan from the leader of a follower-started cluster and writes nothing', async () => {
    const result = await ctl(importArgs('--dry-run'));
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`(leader ${cluster.metas[2]}) lists 4 available tables`);
    expect(cluster.requestCount(0)).toBeGreaterThan(0);
    expect(result.stdout).toMatch(/^t1\s+keep\s+routed to X \(10\.1\.1\.1:34601\)/m);
    expect(result.stdout).toMatch(/^t2\s+unchanged/m);
    expect(result.stdout).toMatch(/^t3\s+create/m);
    expect(result.stdout).toMatch(/^t4\s+create/m);
    expect(result.stdout).toContain('Dry run: would write 2 routes');
    expect(await zk.children(ROOT)).toEqual(expect.arrayContaining(['t1', 't2']));
    expect((await zk.children(ROOT)).length).toBe(2);
  });

  it('fails and creates nothing when one of the new routes appears before the commit', async () => {
    const theirs = { cluster_name: 'Y', meta_addrs: '10.2.2.2:34601' };
    const result = await ctl(importArgs(), { beforeCommit: async () => void (await zk.set(`${ROOT}/t4`, theirs)) });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('"t4" was created');
    expect(result.stderr).toContain('No route was imported');
    expect(await node('t3')).toBeNull();
    expect(await node('t4')).toEqual(theirs);
    await zk.remove(`${ROOT}/t4`);
  });

  it('creates the missing routes and keeps those of another cluster', async () => {
    const result = await ctl(importArgs());
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Imported: 2 created, 0 overwritten, 1 kept');
    expect(result.stderr).toContain('--overwrite');
    expect(await node('t3')).toEqual(route());
    expect(await node('t4')).toEqual(route());
    expect(await node('t1')).toEqual({ cluster_name: 'X', meta_addrs: '10.1.1.1:34601' });
    expect((await zk.get(`${ROOT}/t2`))?.version).toBe(0);
  });

  it('--overwrite re-points the tables routed elsewhere', async () => {
    const result = await ctl(importArgs('--overwrite'));
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Imported: 0 created, 1 overwritten, 0 kept');
    expect(await node('t1')).toEqual(route());
  });

  it('imports only available tables (app status 1)', async () => {
    const app = (appName: string, status: number): AppInfo => ({
      status, appType: 'pegasus', appName, appId: 9, partitionCount: 1, envs: new Map(), isStateful: true, maxReplicaCount: 3,
      expireSecond: 0n, createSecond: 0n, dropSecond: 0n, initPartitionCount: 1,
    });
    const result = await ctl(importArgs(), {
      openClusters: () => ({
        listApps: async () => ({ ok: true, value: [app('live_one', 1), app('dropped_one', 2)], meta: 'fake:1' }),
        queryConfig: async () => ({ ok: false, reason: 'unused' }),
        updateAppEnv: async () => ({ ok: false, reason: 'unused' }),
        close: () => undefined,
      }),
    });
    expect(result.code).toBe(0);
    expect(await node('live_one')).toEqual(route());
    expect(await node('dropped_one')).toBeNull();
  });

  it('exits 1 with a hint when the cluster does not answer', async () => {
    const port = await freePort();
    const quick = dir.config(zkConfig(zk.connectString, ROOT, { default_timeout_ms: 800 }), 'quick.yaml');
    const result = await ctl(['--config', quick, 'import', '--cluster', 'gone', '--meta', `127.0.0.1:${port}`]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('Cannot list the tables of gone');
    expect(result.stderr).toContain('Check --meta');
  });
});
