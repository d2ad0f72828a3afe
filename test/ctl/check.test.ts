import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimCluster, type SimCluster } from '../../sim/cluster.js';
import { analyzeCheck } from '../../src/ctl/checkCommand.js';
import type { StoredRoute } from '../../src/ctl/routeStore.js';
import type { AppInfo } from '../../src/protocol/listApps.js';
import { freePort, startZooKeeper, type ZkServer } from '../support/zookeeper.js';
import { ctl, scratch, zkConfig, type Scratch } from './support.js';

let zk: ZkServer;
let a: SimCluster;
let b: SimCluster;
let dir: Scratch;
let deadMeta: string;

const routeTo = (cluster: SimCluster) => ({ cluster_name: cluster.name, meta_addrs: cluster.metas.join(',') });
const T = (appId: number) => ({ appId, partitionCount: 2 });

beforeAll(async () => {
  zk = await startZooKeeper();
  [a, b] = await Promise.all([
    startSimCluster({ name: 'A', metas: 2, leader: 1, tables: { temp: T(1), shared: T(2) } }),
    startSimCluster({ name: 'B', metas: 2, leader: 0, tables: { other: T(1), shared: T(5) } }),
  ]);
  deadMeta = `127.0.0.1:${await freePort()}`;
  dir = scratch();
}, 60_000);

afterAll(async () => {
  await Promise.all([a?.close(), b?.close()]);
  dir?.dispose();
  await zk?.dispose();
});

describe('meta-proxy-ctl check', () => {
  it('reports a route to a cluster without the table, an unreachable cluster, a table in two clusters, and exits 1', async () => {
    const root = '/ctl-check-bad';
    await zk.set(`${root}/temp`, routeTo(a));
    await zk.set(`${root}/ghost`, routeTo(a));
    await zk.set(`${root}/other`, routeTo(b));
    await zk.set(`${root}/orphan`, { cluster_name: 'D', meta_addrs: deadMeta });
    await zk.set(`${root}/junk`, '{"cluster_name":"A"}');
    const config = dir.config(zkConfig(zk.connectString, root, { default_timeout_ms: 800 }), 'bad.yaml');
    const result = await ctl(['--config', config, 'check']);
    expect(result.code).toBe(1);
    const problems = result.stdout.split('\n').filter((l) => l.startsWith('problem: '));
    expect(problems).toHaveLength(4);
    expect(result.stdout).toContain('problem: table ghost: cluster A does not have it (ERR_OBJECT_NOT_FOUND)');
    expect(result.stdout).toMatch(/problem: cluster D \(127\.0\.0\.1:\d+\) did not answer: ERR_NETWORK_FAILURE.*\(routes to it: orphan\)/);
    expect(result.stdout).toContain('problem: table shared is available in clusters A, B (not routed)');
    expect(result.stdout).toContain('problem: table junk: the route is not usable: meta_addrs is missing');
    expect(result.stdout).toContain('4 problems found.');
    // Each cluster is listed once; the leader answered after the follower's forward.
    expect(a.requestCount(1)).toBeGreaterThanOrEqual(3);

    const json = JSON.parse((await ctl(['--config', config, 'check', '--json'])).stdout) as { ok: boolean; problems: Array<{ kind: string; table?: string }> };
    expect(json.ok).toBe(false);
    expect(json.problems.map((p) => p.kind).sort()).toEqual(['duplicate', 'not-found', 'unreachable', 'unusable-route']);
  });

  it('exits 0 when every route is served by its cluster', async () => {
    const root = '/ctl-check-good';
    await zk.set(`${root}/temp`, routeTo(a));
    await zk.set(`${root}/other`, routeTo(b));
    const config = dir.config(zkConfig(zk.connectString, root), 'good.yaml');
    const result = await ctl(['--config', config, 'check']);
    expect(result.stdout).toContain('Checked 2 routes to 2 clusters');
    expect(result.stdout).toContain('problem: table shared is available in clusters A, B');
    expect(result.code).toBe(1);
    b.setTables({ other: T(1) });
    const clean = await ctl(['--config', config, 'check']);
    expect(clean.stdout).toContain('No problems found.');
    expect(clean.code).toBe(0);
  });
});

describe('analyzeCheck', () => {
  const route = (table: string, cluster: string, metas: string[]): StoredRoute => ({ table, state: { kind: 'route', table, cluster, metas, version: 0 }, version: 0 });
  const app = (appName: string, extra: Partial<AppInfo> = {}): AppInfo => ({
    status: 1, appType: 'pegasus', appName, appId: 1, partitionCount: 1, envs: new Map(), isStateful: true, maxReplicaCount: 3,
    expireSecond: 0n, createSecond: 0n, dropSecond: 0n, initPartitionCount: 1, ...extra,
  });

  it('takes a table in two clusters as a note while a copy is duplicating, and ignores unavailable copies', () => {
    const routes = [route('t', 'P', ['p:1']), route('u', 'P', ['p:1'])];
    const report = analyzeCheck(routes, {
      listings: new Map([
        ['P', { ok: true, value: [app('t', { duplicating: true }), app('u'), app('v')], meta: 'p:1' }],
        ['Q', { ok: true, value: [app('t'), app('u', { status: 4 }), app('v')], meta: 'q:1' }],
      ]),
      tables: new Map([
        ['t', { ok: true, value: 'ERR_OK', meta: 'p:1' }],
        ['u', { ok: true, value: 'ERR_BUSY_DROPPING', meta: 'p:1' }],
      ]),
    });
    expect(report.notes.map((n) => n.message)).toEqual(['table t is available in clusters P, Q (routed to P); duplicating, as expected for a backup copy']);
    expect(report.problems.map((p) => p.message)).toEqual(['table u: cluster P answered ERR_BUSY_DROPPING', 'table v is available in clusters P, Q (not routed)']);
  });

  it('reports a route into a fenced table as a problem and a table left unfenced where it was routed from as a warning', () => {
    const fenced = new Map([['replica.deny_client_request', 'reconfig*all']]);
    const routes = [route('moved', 'B', ['b:1']), route('stuck', 'A', ['a:1']), route('done', 'B', ['b:1'])];
    const report = analyzeCheck(routes, {
      listings: new Map([
        ['A', { ok: true, value: [app('moved', { duplicating: true }), app('stuck', { envs: fenced }), app('done', { duplicating: true, envs: fenced })], meta: 'a:1' }],
        ['B', { ok: true, value: [app('moved'), app('stuck', { envs: fenced }), app('done')], meta: 'b:1' }],
      ]),
      tables: new Map(),
    });
    expect(report.problems.filter((p) => p.kind === 'fenced-route')).toEqual([expect.objectContaining({ table: 'stuck', cluster: 'A' })]);
    expect(report.problems.find((p) => p.kind === 'fenced-route')!.message).toContain('every client is turned away');
    expect(report.warnings).toEqual([expect.objectContaining({ kind: 'unfenced-source', table: 'moved', cluster: 'A' })]);
    expect(report.warnings[0]!.message).toContain('meta-proxy-ctl fence moved --cluster A');
  });

  it('reports routes that disagree on a cluster\'s metas', () => {
    const report = analyzeCheck([route('t', 'P', ['p:1']), route('u', 'P', ['p:2'])], { listings: new Map(), tables: new Map() });
    expect(report.problems).toEqual([expect.objectContaining({ kind: 'inconsistent-metas', cluster: 'P' })]);
    expect(report.problems[0]!.message).toContain('u lists p:2');
  });
});
