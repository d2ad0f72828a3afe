/**
 * upstream.silent_reconnect_after, from the YAML file to the upstream pool:
 * the real CLI, a simulated cluster whose leader stops answering while its
 * follower still answers (with a forward to it), and the leader's accepted
 * connections counted by the simulator. The pool's own test builds the pool
 * with the option in hand; only this one fails when the command stops passing
 * the configured value on.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dump } from 'js-yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { startSimCluster, type SimCluster } from '../../sim/cluster.js';
import { metric } from '../faults/harness.js';
import { TestClient } from '../support/pegasusClient.js';
import { startProxyProcess, type ProxyProcess } from '../support/proxyProcess.js';

const TABLES = { temp: { appId: 2, partitionCount: 8 } };

const open: Array<{ close(): unknown }> = [];
const proxies: ProxyProcess[] = [];
afterEach(async () => {
  for (const proxy of proxies.splice(0)) await proxy.stop('SIGKILL');
  for (const thing of open.splice(0)) await thing.close();
});

/** Cluster A (leader 0 silent, follower 1 answering) behind a proxy run with `silentReconnectAfter`. */
async function silentLeaderBehind(silentReconnectAfter: number): Promise<{ a: SimCluster; proxy: ProxyProcess; client: TestClient }> {
  const a = await startSimCluster({ name: 'A', metas: 2, leader: 0, tables: TABLES });
  open.push(a);
  a.setBehavior(0, { mode: 'silent' });
  const dir = mkdtempSync(join(tmpdir(), 'meta-proxy-silent-'));
  const routes = join(dir, 'routes.yaml');
  writeFileSync(routes, dump({ temp: { cluster_name: 'A', meta_addrs: a.metas.join(',') } }));
  const proxy = await startProxyProcess({
    registry: { file: routes },
    metric: { type: 'prometheus' },
    server: { listen: '127.0.0.1:0', drain_timeout_ms: 500 },
    admin: { listen: '127.0.0.1:0' },
    upstream: { silent_reconnect_after: silentReconnectAfter, backup_request_delay_ms: 100 },
  });
  proxies.push(proxy);
  const client = await TestClient.connect(proxy.port);
  open.push(client);
  return { a, proxy, client };
}

/**
 * One query that the silent leader leaves unanswered: the follower is asked
 * after the backup delay and forwards to the leader, so the call ends at the
 * client's deadline with the leader outrun.
 */
async function unansweredQuery(client: TestClient, seqid: number): Promise<void> {
  expect((await client.query('temp', seqid, { version: 1, timeoutMs: 400 })).err).toBe('ERR_TIMEOUT');
}

describe('upstream.silent_reconnect_after through the command', () => {
  it('2: the leader left unanswered twice in a row while its follower answered gets a new connection', async () => {
    const { a, proxy, client } = await silentLeaderBehind(2);
    // Two outrun calls close the connection; the next call opens a new one.
    for (let seqid = 1; seqid <= 8 && a.connectionCount(0) < 2; seqid++) await unansweredQuery(client, seqid);
    expect(a.connectionCount(0)).toBe(2);
    expect(a.requestCount(1)).toBeGreaterThan(0);
    expect(await metric(proxy, 'upstream_reconnect_count', { meta: a.metas[0]!, reason: 'silent' })).toBe(1);
  });

  it('0: the connection is never reopened, however many calls go unanswered', async () => {
    const { a, proxy, client } = await silentLeaderBehind(0);
    // More than the default (3) calls in a row: a default in place of the setting would reconnect.
    for (let seqid = 1; seqid <= 5; seqid++) await unansweredQuery(client, seqid);
    expect(a.requestCount(1)).toBeGreaterThan(0);
    expect(a.connectionCount(0)).toBe(1);
    expect(await metric(proxy, 'upstream_reconnect_count', { reason: 'silent' })).toBe(0);
  });
});
