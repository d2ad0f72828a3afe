/**
 * A switch moves the live clients: the real `meta-proxy-ctl` against a real
 * ZooKeeper and two simulated clusters with real replica servers, a real
 * proxy process, and long-lived simulated clients that cache their table's
 * configuration and ask again only when a replica turns them away.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimCluster, type SimCluster } from '../../sim/cluster.js';
import { runClientLoop, SimPegasusClient, type ClientLoop, type SimClientOp } from '../../sim/pegasusClient.js';
import { startProxyProcess, type ProxyProcess } from '../support/proxyProcess.js';
import { startZooKeeper, type ZkServer } from '../support/zookeeper.js';
import { CTL_BIN, ctlBin, eventually, scratch, zkConfig, type Scratch } from './support.js';

const ROOT = '/fence-switch';
const SYNC_MS = 50;
const CLIENTS = 5;
const DENY = 'replica.deny_client_request';

let zk: ZkServer;
let a: SimCluster;
let b: SimCluster;
let dir: Scratch;
let config: string;
let proxy: ProxyProcess;
const clients: SimPegasusClient[] = [];
const loops: ClientLoop[] = [];

const routeTo = (cluster: SimCluster) => ({ cluster_name: cluster.name, meta_addrs: cluster.metas.join(',') });
const routedCluster = async (table: string) => JSON.parse((await zk.get(`${ROOT}/${table}`))!.data.toString()).cluster_name as string;
const clusterOf = (op: SimClientOp): string | undefined =>
  op.replica === undefined ? undefined : a.replicas.includes(op.replica) ? 'A' : b.replicas.includes(op.replica) ? 'B' : '?';
const opsSince = (client: SimPegasusClient, since: number) => client.ops.filter((op) => op.t >= since);
const ctl = (...args: string[]) => ctlBin(['--config', config, ...args]);
/** A switch told the simulated clusters' config sync (with room to spare). */
const SWITCH = ['switch', '--config-sync-ms', String(SYNC_MS * 2)];

/** Every client has had an op served by `cluster` at or after `since`. */
const allServedBy = (cluster: string, since: number) => async () =>
  clients.every((c) => opsSince(c, since).some((op) => op.ok && clusterOf(op) === cluster));

beforeAll(async () => {
  zk = await startZooKeeper();
  const tables = (first: number) => ({
    temp: { appId: first, partitionCount: 8 },
    other: { appId: first + 1, partitionCount: 4 },
    locked: { appId: first + 2, partitionCount: 2 },
  });
  [a, b] = await Promise.all([
    startSimCluster({ name: 'A', metas: 3, leader: 1, tables: tables(2), replicas: true, configSyncIntervalMs: SYNC_MS }),
    startSimCluster({ name: 'B', metas: 2, leader: 0, tables: tables(12), replicas: true, configSyncIntervalMs: SYNC_MS }),
  ]);
  for (const t of ['temp', 'other', 'locked']) await zk.set(`${ROOT}/${t}`, routeTo(a));
  dir = scratch();
  config = dir.config(zkConfig(zk.connectString, ROOT));
  proxy = await startProxyProcess({
    zookeeper: { address: [zk.connectString], root: ROOT, timeout: 2000 },
    metric: { type: 'none' },
    server: { listen: '127.0.0.1:0', drain_timeout_ms: 1000 },
    admin: { listen: '127.0.0.1:0' },
    upstream: { backup_request_delay_ms: 300, default_timeout_ms: 3000 },
  });
  for (let i = 0; i < CLIENTS; i++) {
    const client = new SimPegasusClient({ metas: [`127.0.0.1:${proxy.port}`], table: 'temp', opTimeoutMs: 1000 });
    clients.push(client);
    loops.push(runClientLoop(client, { intervalMs: 10 }));
  }
  await eventually(allServedBy('A', 0), 10_000);
}, 60_000);

afterAll(async () => {
  await Promise.all(loops.map((l) => l.stop()));
  for (const c of clients) c.close();
  await proxy?.stop('SIGKILL');
  await Promise.all([a?.close(), b?.close()]);
  dir?.dispose();
  await zk?.dispose();
});

/**
 * After a switch to `to` that ended at `doneAt`: every client's ops land on
 * `to` within 5 s, the cluster left serves none of the table's ops 0.5 s
 * after the fence, and no client saw more than one failed op.
 */
async function expectClientsMoved(from: SimCluster, to: SimCluster, startedAt: number, doneAt: number): Promise<void> {
  await eventually(allServedBy(to.name, doneAt), 5000);
  // Past the fence's half second, let each client make a few more ops, so an op still going to the old cluster would show.
  const settled = Math.max(Date.now(), doneAt + 500);
  await eventually(async () => clients.every((c) => opsSince(c, settled).length >= 4), 5000);
  for (const [i, c] of clients.entries()) {
    const after = opsSince(c, doneAt + 500);
    expect(after.filter((op) => op.ok).length, `client ${i} made ops after the fence`).toBeGreaterThan(0);
    expect(after.filter((op) => op.ok && clusterOf(op) !== to.name), `client ${i}: ops served elsewhere than ${to.name}`).toEqual([]);
    const failed = opsSince(c, startedAt).filter((op) => !op.ok);
    expect(failed.length, `client ${i} failed ops: ${failed.map((op) => op.error).join(', ')}`).toBeLessThanOrEqual(1);
  }
  expect(from.replicaOps({ table: 'temp', since: doneAt + 500 }).ok).toBe(0);
}

describe('meta-proxy-ctl switch fences the cluster it leaves', () => {
  it('--dry-run prints the routes, lifts and fences it would do, and changes nothing', async () => {
    const result = await ctl(...SWITCH, '--from', 'A', '--to', 'B', '--meta', b.metas.join(','), '--tables', 'temp', '--dry-run');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`then would lift  temp on B (${b.metas.join(',')}): delete ${DENY}`);
    expect(result.stdout).toContain(`then would fence temp on A (${a.metas.join(',')}): ${DENY} = reconfig*all`);
    expect(result.stdout).toContain('Dry run: nothing was changed.');
    expect(await routedCluster('temp')).toBe('A');
    expect(a.envs('temp')).toEqual({});
    expect(b.envs('temp')).toEqual({});
  });

  it('planned switch A→B: every long-lived client follows at its next op after the fence, A serves none of their ops', async () => {
    const startedAt = Date.now();
    const result = await ctl(...SWITCH, '--from', 'A', '--to', 'B', '--meta', b.metas.join(','), '--tables', 'temp');
    const doneAt = Date.now();
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^lifted   temp on B \\(${b.metas.join(',')}\\): ${DENY} deleted`, 'm'));
    expect(result.stdout).toMatch(new RegExp(`^fenced   temp on A \\(${a.metas.join(',')}\\): ${DENY} = reconfig\\*all`, 'm'));
    expect(await routedCluster('temp')).toBe('B');
    expect(a.envs('temp')).toEqual({ [DENY]: 'reconfig*all' });
    expect(b.envs('temp')).toEqual({});
    // The proxy took the route before the fence; no lift removed a fence, so there is no config-sync wait.
    expect(result.stdout).toMatch(new RegExp(`^instance 127\\.0\\.0\\.1:${proxy.port}: serves B for temp \\(after \\d+ ms\\)$`, 'm'));
    expect(result.stdout.indexOf('serves B for temp')).toBeLessThan(result.stdout.indexOf('fenced   temp on A'));
    expect(result.stdout).not.toContain('apply the lift');
    await expectClientsMoved(a, b, startedAt, doneAt);
    // The clients re-queried: the fence, not a restart, moved them.
    expect(a.replicaOps({ table: 'temp', since: startedAt }).refused).toBeGreaterThanOrEqual(1);
  });

  it('switch back B→A lifts A and fences B, and the clients come back', async () => {
    const startedAt = Date.now();
    const result = await ctl(...SWITCH, '--from', 'B', '--to', 'A', '--meta', a.metas.join(','), '--tables', 'temp');
    const doneAt = Date.now();
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('lifted   temp on A');
    expect(result.stdout).toContain('fenced   temp on B');
    // A still had the fence of the first switch: its replicas get one config sync to drop it before B turns clients away.
    expect(result.stdout).toContain(`Waiting ${SYNC_MS * 2} ms for A's replicas to apply the lift`);
    expect(result.stdout.indexOf('Waiting')).toBeLessThan(result.stdout.indexOf('fenced   temp on B'));
    expect(a.envs('temp')).toEqual({});
    expect(b.envs('temp')).toEqual({ [DENY]: 'reconfig*all' });
    await expectClientsMoved(b, a, startedAt, doneAt);
    // No route names B any more: its metas are given.
    const fences = await ctl('fences', '--cluster', 'B', '--meta', b.metas.join(','));
    expect(fences.code).toBe(0);
    expect(fences.stdout).toMatch(/^temp\s+B \(.*\)\s+replica\.deny_client_request=reconfig\*all$/m);
    expect(fences.stdout).not.toContain('ROUTED HERE');
  });

  it('check reports a route into a fenced table as a problem, and a table left unfenced where it was routed from as a warning', async () => {
    const fence = await ctl('fence', 'temp', '--cluster', 'A');
    expect(fence.code).toBe(0);
    expect(fence.stdout).toContain('fenced   temp on A');
    await eventually(async () => a.replicaSyncCounts().every((n) => n > 0), 2000);
    const fenced = await ctl('check');
    expect(fenced.code).toBe(1);
    expect(fenced.stdout).toMatch(/problem: table temp: routed to cluster A, where it is fenced \(replica\.deny_client_request=reconfig\*all\): every client is turned away/);
    const listed = await ctl('fences', '--cluster', 'A');
    expect(listed.stdout).toMatch(/^temp\s+A \(.*\)\s+replica\.deny_client_request=reconfig\*all\s+ROUTED HERE/m);
    const lift = await ctl('fence', 'temp', '--cluster', 'A', '--lift');
    expect(lift.code).toBe(0);
    expect(a.envs('temp')).toEqual({});
    // The clients met that fence too; let them settle on A again before the next case.
    await eventually(allServedBy('A', Date.now()), 5000);

    const unfenced = await ctl(...SWITCH, '--from', 'A', '--to', 'B', '--meta', b.metas.join(','), '--tables', 'other', '--no-fence');
    expect(unfenced.code).toBe(0);
    expect(unfenced.stdout).toContain('Not fenced (--no-fence)');
    expect(a.envs('other')).toEqual({});
    const warned = await ctl('check');
    expect(warned.stdout).toContain('warning: table other: routed to B, but cluster A still serves it unfenced');
    expect(warned.stdout).not.toContain('where it is fenced');
  });

  it('a read-only ZooKeeper credential and an unknown table give clear errors, and nothing is fenced', async () => {
    await zk.setAcl(`${ROOT}/locked`, [
      { credential: 'ops:secret', perms: 31 },
      { perms: 1 }, // anyone (the viewer too) may read, only ops may write
    ]);
    const readOnly = dir.config({ ...zkConfig(zk.connectString, ROOT), zookeeper: { address: [zk.connectString], root: ROOT, timeout: 2000, auth: { scheme: 'digest', credential: 'viewer:secret' } } }, 'viewer.yaml');
    const refused = await ctlBin(['--config', readOnly, 'switch', '--from', 'A', '--to', 'B', '--meta', b.metas.join(','), '--tables', 'locked']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('ZNOAUTH');
    expect(refused.stderr).toContain('Check zookeeper.auth');
    expect(refused.stderr).toContain('nothing was written');
    expect(await routedCluster('locked')).toBe('A');
    expect(a.envs('locked')).toEqual({});

    const unknown = await ctl(...SWITCH, '--from', 'A', '--to', 'B', '--meta', b.metas.join(','), '--tables', 'nosuch');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('nosuch has no route');
    const noApp = await ctl('fence', 'nosuch', '--cluster', 'A');
    expect(noApp.code).toBe(3);
    expect(noApp.stdout).toContain('NOT fenced nosuch on A');
    expect(noApp.stdout).toContain('ERR_APP_NOT_EXIST: the cluster has no table "nosuch"');
  });

  it('A unreachable: the route switches, exit 3 names what is undone and the command that finishes it; clients land on B', async () => {
    expect(await routedCluster('temp')).toBe('A');
    const downAt = Date.now();
    await Promise.all([a.kill(0), a.kill(1), a.kill(2), a.killReplicas()]);
    const result = await ctl(...SWITCH, '--from', 'A', '--to', 'B', '--meta', b.metas.join(','), '--tables', 'temp');
    expect(result.code).toBe(3);
    expect(await routedCluster('temp')).toBe('B');
    // The lift on B was done; the fence on A was not.
    expect(result.stdout).toContain('lifted   temp on B');
    expect(result.stdout).toMatch(/^NOT fenced temp on A .*did not answer/m);
    expect(result.stderr).toContain('fence of temp on A');
    expect(result.stderr).toContain('A must be fenced before it serves again');
    expect(result.stderr).toContain('split brain');
    const finish = result.stderr.split('\n').map((l) => l.trim()).find((l) => l.startsWith('meta-proxy-ctl '));
    expect(finish).toBe(`meta-proxy-ctl --config ${config} fence temp --cluster A --meta ${a.metas.join(',')}`);
    await eventually(allServedBy('B', downAt), 8000);

    // A's metas come back (its replicas not yet): the printed command finishes the job.
    await Promise.all([a.restart(0), a.restart(1), a.restart(2)]);
    const done = await ctlBin(finish!.split(' ').slice(1));
    expect(done.code).toBe(0);
    expect(a.envs('temp')).toEqual({ [DENY]: 'reconfig*all' });
    expect(CTL_BIN).toMatch(/dist\/src\/ctl\.js$/);
  });
});
