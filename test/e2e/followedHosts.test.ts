/**
 * Which client hosts followed a switch, through the real proxy (`run()`, the
 * file registry, two simulated clusters): clients connect from distinct
 * loopback addresses (127.0.0.2, 127.0.0.3, ...), the routes file moves a
 * table from A to B, some hosts ask again. `/tables` and `/metrics` tell the
 * same story: hosts before the switch, hosts that followed it.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { run, type RunningProxy } from '../../src/main.js';
import type { RouteRow } from '../../src/model/route.js';
import { startSimCluster, type SimCluster } from '../../sim/cluster.js';
import { TestClient } from '../support/pegasusClient.js';
import { captureLogger } from '../metrics/logCapture.js';
import { find, parsePromText, value, type Sample } from '../metrics/promText.js';

const TABLES = { temp: { appId: 2, partitionCount: 4 }, other: { appId: 3, partitionCount: 4 } };

let a: SimCluster;
let b: SimCluster;
let proxy: RunningProxy;
let routesFile: string;
let admin: string;
const clients: TestClient[] = [];
let seqid = 1;

const routes = (temp: SimCluster) =>
  `temp: { cluster_name: ${temp.name}, meta_addrs: "${temp.metas.join(',')}" }\nother: { cluster_name: A, meta_addrs: "${a.metas.join(',')}" }\n`;

async function eventually<T>(read: () => Promise<T>, check: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const got = await read();
    if (check(got)) return got;
    if (Date.now() > until) throw new Error(`condition not met in time; last: ${JSON.stringify(got).slice(0, 1000)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const tables = async () => (await (await fetch(`${admin}/tables`)).json()) as RouteRow[];
const row = async (table: string) => (await tables()).find((r) => r.table === table)!;
const metrics = async () => parsePromText(await (await fetch(`${admin}/metrics`)).text());

/** A client host: one connection bound to `address`. */
async function host(address: string): Promise<TestClient> {
  const client = await TestClient.connect(proxy.address.port, '127.0.0.1', address);
  clients.push(client);
  return client;
}

async function ask(client: TestClient, table = 'temp'): Promise<void> {
  expect((await client.query(table, seqid++)).err).toBe('ERR_OK');
}

beforeAll(async () => {
  a = await startSimCluster({ name: 'A', metas: 2, leader: 0, tables: TABLES });
  b = await startSimCluster({ name: 'B', metas: 2, leader: 0, tables: TABLES });
  const dir = mkdtempSync(join(tmpdir(), 'meta-proxy-followed-'));
  routesFile = join(dir, 'routes.yaml');
  writeFileSync(routesFile, routes(a));
  const config = parseConfig(
    `registry: { file: ${routesFile} }\nmetric: { type: prometheus }\nserver: { listen: 127.0.0.1:0 }\nadmin: { listen: 127.0.0.1:0 }\n`,
    join(dir, 'meta-proxy.yaml'),
  );
  proxy = await run(config, captureLogger().logger);
  admin = `http://127.0.0.1:${proxy.adminAddress!.port}`;
}, 30_000);

afterAll(async () => {
  for (const client of clients) client.close();
  await proxy?.dispose();
  await a?.close();
  await b?.close();
});

describe('client hosts that followed a switch', () => {
  it('counts hosts before the switch, then those that asked again and were answered by the new cluster', async () => {
    // Five hosts ask for temp; the first through three connections, and 50 idle connections of one more host
    // asked once each: hosts are counted, not connections.
    const hosts = await Promise.all(['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5', '127.0.0.6'].map(host));
    for (const client of hosts) await ask(client);
    for (let i = 0; i < 2; i += 1) await ask(await host('127.0.0.2'));
    const idle = await Promise.all(Array.from({ length: 50 }, () => host('127.0.0.9')));
    for (const client of idle) await ask(client, 'other');
    await ask(hosts[0]!, 'other');

    expect((await row('temp')).clients).toEqual({ hosts: 5, followed: null, since: null });
    expect((await row('other')).clients).toEqual({ hosts: 2, followed: null, since: null });
    let samples = await metrics();
    expect(value(samples, 'table_client_hosts', { table: 'temp' })).toBe(5);
    expect(value(samples, 'table_client_hosts', { table: 'other' })).toBe(2);
    expect(find(samples, 'table_client_hosts_followed')).toEqual([]);
    const versionBefore = value(samples, 'route_version', { table: 'temp' });
    expect(versionBefore).toBe((await row('temp')).version);

    // The switch: nobody has asked since, and /tables already knows it from the registry.
    writeFileSync(routesFile, routes(b));
    const switched = await eventually(() => row('temp'), (r) => r.cluster === 'B');
    expect(switched.clients).toEqual({ hosts: 5, followed: 0, since: switched.changedAt });
    samples = await metrics();
    expect(value(samples, 'table_client_hosts_followed', { table: 'temp' })).toBe(0);
    expect(value(samples, 'route_version', { table: 'temp' })).toBeGreaterThan(versionBefore);

    // Three of the five ask again (one of them twice, over a new connection); a new host asks too.
    await ask(hosts[0]!);
    await ask(hosts[1]!);
    await ask(await host('127.0.0.4'));
    await ask(hosts[2]!);
    await ask(await host('127.0.0.7'));
    expect((await row('temp')).clients).toEqual({ hosts: 5, followed: 3, since: switched.changedAt });
    // other did not move: its hosts are simply the last hour's.
    expect((await row('other')).clients).toEqual({ hosts: 2, followed: null, since: null });
    samples = await metrics();
    const gauges = (s: Sample[]) => ({
      hosts: value(s, 'table_client_hosts', { table: 'temp' }),
      followed: value(s, 'table_client_hosts_followed', { table: 'temp' }),
    });
    expect(gauges(samples)).toEqual({ hosts: 5, followed: 3 });

    // The rest follow.
    await ask(hosts[3]!);
    await ask(hosts[4]!);
    expect((await row('temp')).clients).toMatchObject({ hosts: 5, followed: 5 });
    expect(gauges(await metrics())).toEqual({ hosts: 5, followed: 5 });
  });
});
