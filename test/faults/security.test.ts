/**
 * Security of the running proxy: ZooKeeper digest auth against nodes with a
 * digest ACL, the credential never leaving the process (admin endpoints,
 * logs, stderr, --check-config), and the documented deployment running as a
 * user of its own.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startZooKeeper, type ZkServer } from '../support/zookeeper.js';
import { startSimCluster, type SimCluster } from '../../sim/cluster.js';
import { CLI, startProxyProcess, type ProxyProcess } from '../support/proxyProcess.js';
import { TestClient } from '../support/pegasusClient.js';
import { adminUrl } from './harness.js';

const ROOT = '/pegasus-faults-acl';
const SECRET = `pw-${randomBytes(12).toString('hex')}`;
const CREDENTIAL = `metaproxy:${SECRET}`;
const UNIT = new URL('../../deploy/meta-proxy.service', import.meta.url).pathname;

let zk: ZkServer;
let a: SimCluster;
const proxies: ProxyProcess[] = [];
const clients: TestClient[] = [];

function start(auth: { scheme: string; credential: string } | undefined, admin = false): Promise<ProxyProcess> {
  return startProxyProcess({
    zookeeper: { address: [zk.connectString], root: ROOT, timeout: 2000, ...(auth && { auth }) },
    metric: { type: 'prometheus' },
    server: { listen: '127.0.0.1:0' },
    admin: { listen: admin ? '127.0.0.1:0' : '' },
    upstream: { default_timeout_ms: 1500 },
  }).then((proxy) => {
    proxies.push(proxy);
    return proxy;
  });
}

async function query(proxy: ProxyProcess, table: string, seqid: number) {
  const c = await TestClient.connect(proxy.port);
  clients.push(c);
  return c.query(table, seqid, { timeoutMs: 1500 });
}

beforeAll(async () => {
  zk = await startZooKeeper();
  a = await startSimCluster({ name: 'A', metas: 1, tables: { temp: { appId: 2, partitionCount: 8 } } });
  await zk.set(`${ROOT}/temp`, { cluster_name: 'A', meta_addrs: a.metas.join(',') });
  // The node first, then the root: once the root is locked the test's own client cannot reach below it.
  await zk.setDigestAcl(`${ROOT}/temp`, CREDENTIAL);
  await zk.setDigestAcl(ROOT, CREDENTIAL);
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.close();
  for (const proxy of proxies) await proxy.stop('SIGKILL');
  await a?.close();
  await zk?.dispose();
});

describe('ZooKeeper digest auth', () => {
  it('the route node really is closed to a client without the credential', async () => {
    await expect(zk.get(`${ROOT}/temp`)).rejects.toThrow(/failed with code -102/);
  });

  it('reads a route under a digest ACL with zookeeper.auth', async () => {
    const proxy = await start({ scheme: 'digest', credential: CREDENTIAL });
    const reply = await query(proxy, 'temp', 1);
    expect(reply.err).toBe('ERR_OK');
    expect(reply.appId).toBe(2);
  });

  it('answers ERR_ZOOKEEPER_OPERATION without the credential, or with a wrong one', async () => {
    for (const auth of [undefined, { scheme: 'digest', credential: 'metaproxy:not-the-password' }]) {
      const proxy = await start(auth);
      const startedAt = Date.now();
      const reply = await query(proxy, 'temp', 2);
      expect(reply.err).toBe('ERR_ZOOKEEPER_OPERATION');
      expect(Date.now() - startedAt).toBeLessThan(2500);
    }
  });
});

describe('the ZooKeeper credential is never shown', () => {
  it('appears in no admin endpoint, log line, stderr or --check-config output', async () => {
    const proxy = await start({ scheme: 'digest', credential: CREDENTIAL }, true);
    expect((await query(proxy, 'temp', 3)).err).toBe('ERR_OK');
    // A table that fails, so /tables has a reason to show and the logs a warning to write.
    expect((await query(proxy, 'missing_table', 4)).err).toBe('ERR_OBJECT_NOT_FOUND');
    const admin = adminUrl(proxy);
    const pages: Record<string, string> = {};
    for (const path of ['/tables', '/metrics', '/healthz', '/readyz', '/config', '/']) {
      pages[path] = await (await fetch(`${admin}${path}`)).text();
    }
    expect(pages['/tables']).toContain('"cluster":"A"');
    expect(pages['/metrics']).toContain('client_query_config_count');
    const checked = execFileSync(process.execPath, [CLI, '--check-config', proxy.configFile]).toString();
    expect(checked).toContain('config OK');
    // A malformed credential is reported without its value.
    let rejected = '';
    try {
      execFileSync(process.execPath, [CLI, '--check-config', writeBadCredential(proxy.configFile)], { stdio: 'pipe' });
    } catch (error) {
      rejected = String((error as { stderr?: Buffer }).stderr);
    }
    expect(rejected).toContain('zookeeper.auth.credential');

    expect(await proxy.stop('SIGTERM')).toBe(0);
    const logs = JSON.stringify(proxy.logs);
    expect(logs).toContain('"credential":"***"');
    for (const [where, text] of Object.entries({ ...pages, logs, stderr: proxy.stderr(), checked, rejected })) {
      expect(text.includes(SECRET), `the secret appears in ${where}`).toBe(false);
    }
  });
});

/** A copy of the config whose credential lacks the "user:" part, still carrying the secret. */
function writeBadCredential(configFile: string): string {
  const bad = `${configFile}.bad.yaml`;
  writeFileSync(bad, readFileSync(configFile, 'utf8').replace(CREDENTIAL, SECRET));
  return bad;
}

describe('the documented deployment', () => {
  it.skipIf(!existsSync(UNIT))('runs the proxy as a user of its own, not root', () => {
    const unit = readFileSync(UNIT, 'utf8');
    const user = /^User=(.+)$/m.exec(unit)?.[1]?.trim();
    expect(user).toBeDefined();
    expect(['root', '0']).not.toContain(user);
  });
});
