/**
 * A switch across a fleet: three real proxy processes registered in a real
 * ZooKeeper, long-lived simulated clients on distinct loopback hosts
 * (127.0.0.2, ...), each holding all three proxies as its meta list, and the
 * compiled `meta-proxy-ctl`. The switch prints each instance taking the route,
 * fences, and waits until every client host has followed; a paused instance is
 * named, and an idle host is listed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimCluster, type SimCluster } from '../../sim/cluster.js';
import { runClientLoop, SimPegasusClient, type ClientLoop } from '../../sim/pegasusClient.js';
import { ctlBin, eventually, scratch, zkConfig, type Scratch } from '../ctl/support.js';
import { startProxyProcess, type ProxyProcess } from '../support/proxyProcess.js';
import { startZooKeeper, type ZkServer } from '../support/zookeeper.js';

const ROOT = '/fleet-switch';
const SYNC_MS = 50;
const HOSTS = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5', '127.0.0.6', '127.0.0.7'];

let zk: ZkServer;
let a: SimCluster;
let b: SimCluster;
let dir: Scratch;
let config: string;
const proxies: ProxyProcess[] = [];
const clients: SimPegasusClient[] = [];
const loops: ClientLoop[] = [];

const ctl = (...args: string[]) => ctlBin(['--config', config, ...args]);
const name = (p: ProxyProcess) => `127.0.0.1:${p.port}`;
const routeTo = (cluster: SimCluster) => ({ cluster_name: cluster.name, meta_addrs: cluster.metas.join(',') });
const servedBy = (cluster: SimCluster, client: SimPegasusClient, since: number) =>
  client.ops.some((op) => op.t >= since && op.ok && op.replica !== undefined && cluster.replicas.includes(op.replica));

beforeAll(async () => {
  zk = await startZooKeeper();
  [a, b] = await Promise.all([
    startSimCluster({ name: 'A', metas: 2, leader: 0, tables: { temp: { appId: 2, partitionCount: 8 } }, replicas: true, configSyncIntervalMs: SYNC_MS }),
    startSimCluster({ name: 'B', metas: 2, leader: 1, tables: { temp: { appId: 7, partitionCount: 8 } }, replicas: true, configSyncIntervalMs: SYNC_MS }),
  ]);
  await zk.set(`${ROOT}/temp`, routeTo(a));
  dir = scratch();
  config = dir.config(zkConfig(zk.connectString, ROOT));
  const proxyConfig = {
    // Long enough that a paused instance keeps its session (and its registration) through the pause.
    zookeeper: { address: [zk.connectString], root: ROOT, timeout: 8000 },
    metric: { type: 'prometheus' },
    server: { listen: '127.0.0.1:0', drain_timeout_ms: 1000 },
    admin: { listen: '127.0.0.1:0' },
    upstream: { backup_request_delay_ms: 300, default_timeout_ms: 3000 },
  };
  proxies.push(...(await Promise.all([startProxyProcess(proxyConfig), startProxyProcess(proxyConfig), startProxyProcess(proxyConfig)])));
  const metas = proxies.map(name);
  for (const [i, host] of HOSTS.entries()) {
    // Each host starts at another proxy of the list, as clients spread over the metas they are given.
    const rotated = [...metas.slice(i % metas.length), ...metas.slice(0, i % metas.length)];
    const client = new SimPegasusClient({ metas: rotated, table: 'temp', opTimeoutMs: 1000, localAddress: host });
    clients.push(client);
    loops.push(runClientLoop(client, { intervalMs: 20 }));
  }
  await eventually(async () => clients.every((c) => servedBy(a, c, 0)), 10_000);
}, 60_000);

afterAll(async () => {
  for (const p of proxies) if (p.child.pid !== undefined) process.kill(p.child.pid, 'SIGCONT');
  await Promise.all(loops.map((l) => l.stop()));
  for (const c of clients) c.close();
  await Promise.all(proxies.map((p) => p.stop('SIGKILL')));
  await Promise.all([a?.close(), b?.close()]);
  dir?.dispose();
  await zk?.dispose();
});

describe('meta-proxy-ctl switch across a fleet', () => {
  it('prints each instance taking the route, fences, and --wait-clients exits 0 once every host has followed', async () => {
    const fleet = await ctl('fleet');
    expect(fleet.code).toBe(0);
    for (const p of proxies) expect(fleet.stdout).toMatch(new RegExp(`^${name(p).replace(/\./g, '\\.')}\\s+\\S+\\s+\\S+\\s+yes\\s+connected\\s+1$`, 'm'));

    const startedAt = Date.now();
    const result = await ctl('switch', '--from', 'A', '--to', 'B', '--meta', b.metas.join(','), '--config-sync-ms', '100', '--wait-clients', '20');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const out = result.stdout;
    for (const p of proxies) expect(out).toMatch(new RegExp(`^instance ${name(p).replace(/\./g, '\\.')}: serves B for temp \\(after \\d+ ms\\)$`, 'm'));
    // Every instance took the route before the fence was set, and the wait for clients came after it.
    const fenced = out.indexOf('fenced   temp on A');
    expect(fenced).toBeGreaterThan(out.lastIndexOf('serves B for temp'));
    expect(out.indexOf('Waiting up to 20 s for the client hosts')).toBeGreaterThan(fenced);
    expect(out).toContain(`temp: ${HOSTS.length} of ${HOSTS.length} hosts followed`);
    expect(out).toContain('Every client host that used the table has followed to B.');
    expect(clients.every((c) => servedBy(b, c, startedAt))).toBe(true);

    // Each instance counts the hosts it saw; together they saw every host follow.
    const table = await ctl('fleet', '--table', 'temp', '--json');
    expect(table.code).toBe(0);
    const rows = (JSON.parse(table.stdout) as { instances: Array<{ name: string; table?: { cluster?: string; clients?: { hosts: number; followed: number | null } } }> }).instances;
    expect(rows.map((r) => r.name).sort()).toEqual(proxies.map(name).sort());
    for (const row of rows) expect(row.table?.cluster).toBe('B');
    const counted = rows.reduce((sum, r) => sum + (r.table?.clients?.followed ?? 0), 0);
    expect(counted).toBeGreaterThanOrEqual(HOSTS.length);
  });

  it('names a paused instance as it waits for the fleet, and ctl fleet marks it', async () => {
    const paused = proxies[1]!;
    process.kill(paused.child.pid!, 'SIGSTOP');
    try {
      const result = await ctl('switch', '--from', 'B', '--to', 'A', '--meta', a.metas.join(','), '--config-sync-ms', '100', '--fleet-wait-ms', '1500');
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(new RegExp(`^UNREACHABLE instance ${name(paused).replace(/\./g, '\\.')}: no answer within \\d+ ms$`, 'm'));
      for (const p of [proxies[0]!, proxies[2]!]) expect(result.stdout).toContain(`instance ${name(p)}: serves A for temp`);
      expect(result.stderr).toContain(`1 of 3 instances did not show the new routes within 1500 ms: ${name(paused)}`);
      expect(result.stdout).toContain('fenced   temp on B');
      const fleet = await ctl('fleet', '--timeout-ms', '800');
      expect(fleet.code).toBe(0);
      expect(fleet.stdout).toMatch(new RegExp(`^${name(paused).replace(/\./g, '\\.')}\\s+unreachable \\(no answer within 800 ms\\)`, 'm'));
    } finally {
      process.kill(paused.child.pid!, 'SIGCONT');
    }
    await eventually(async () => clients.every((c) => servedBy(a, c, Date.now() - 500)), 10_000);
  });

  it('--wait-clients exits 4 and lists a host that has not asked again', async () => {
    const idle = HOSTS.length - 1;
    await loops[idle]!.stop();
    const result = await ctl('switch', '--from', 'A', '--to', 'B', '--meta', b.metas.join(','), '--config-sync-ms', '100', '--wait-clients', '6');
    expect(result.code).toBe(4);
    expect(result.stdout).toContain(`temp: ${HOSTS.length - 1} of ${HOSTS.length} hosts followed`);
    expect(result.stderr).toContain(`temp: 1 host has not asked again since the switch: ${HOSTS[idle]}`);
  });
});
