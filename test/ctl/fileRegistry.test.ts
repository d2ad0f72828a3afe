import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimCluster, type SimCluster } from '../../sim/cluster.js';
import { identifyCluster } from '../../sim/identify.js';
import { parseRouteFile } from '../../src/streams/fileRegistry.js';
import { startProxyProcess, type ProxyProcess } from '../support/proxyProcess.js';
import { TestClient } from '../support/pegasusClient.js';
import { ctl, eventually, scratch, type Scratch } from './support.js';

let dir: Scratch;
let routesFile: string;
let config: string;

const fileConfig = (file: string) => ({ registry: { file }, metric: { type: 'none' } });
const routesOf = (file: string) => load(readFileSync(file, 'utf8')) as Record<string, unknown>;

beforeAll(() => {
  dir = scratch();
  routesFile = join(dir.dir, 'routes.yaml');
  writeFileSync(
    routesFile,
    ['# hand-written', 'temp: { cluster_name: A, meta_addrs: "10.0.0.1:34601,10.0.0.2:34601" }', 'orders: { cluster_name: B, meta_addrs: [meta-b:34601] }', 'odd: 42', ''].join('\n'),
  );
  config = dir.config(fileConfig('routes.yaml'));
});
afterAll(() => dir?.dispose());

describe('meta-proxy-ctl on the embedded file registry', () => {
  it('list and get read the routes file named by registry.file', async () => {
    const list = await ctl(['--config', config, 'list']);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^orders\s+B\s+meta-b:34601$/m);
    expect(list.stdout).toMatch(/^temp\s+A\s+10\.0\.0\.1:34601,10\.0\.0\.2:34601$/m);
    expect(list.stdout).toMatch(/^odd\s+-\s+\(unusable: /m);
    const get = await ctl(['--config', config, 'get', 'orders', '--json']);
    expect(JSON.parse(get.stdout)).toMatchObject({ table: 'orders', cluster_name: 'B', meta_addrs: 'meta-b:34601' });
  });

  it('set and delete rewrite the file whole, keep other entries, and leave no temporary or lock file behind', async () => {
    expect((await ctl(['--config', config, 'set', 'fresh', '--cluster', 'C', '--meta', '10.0.0.3:34601'])).code).toBe(0);
    expect((await ctl(['--config', config, 'set', 'temp', '--cluster', 'C', '--meta', '10.0.0.3:34601'])).code).toBe(0);
    expect((await ctl(['--config', config, 'delete', 'orders'])).code).toBe(0);
    const routes = routesOf(routesFile);
    expect(routes).toEqual({
      temp: { cluster_name: 'C', meta_addrs: '10.0.0.3:34601' },
      odd: 42,
      fresh: { cluster_name: 'C', meta_addrs: '10.0.0.3:34601' },
    });
    // What the proxy's file registry reads.
    const parsed = parseRouteFile(readFileSync(routesFile, 'utf8'), 1);
    expect(parsed.ok && parsed.routes.get('fresh')).toMatchObject({ kind: 'route', cluster: 'C', metas: ['10.0.0.3:34601'] });
    expect(readdirSync(dir.dir).sort()).toEqual(['meta-proxy.yaml', 'routes.yaml']);
  });

  it('a write fails and changes nothing when the entry changed after it was read; --force overwrites', async () => {
    const edit = (): void => writeFileSync(routesFile, readFileSync(routesFile, 'utf8').replace('10.0.0.3:34601', '10.0.0.4:34601'));
    const raced = await ctl(['--config', config, 'set', 'temp', '--cluster', 'D', '--meta', '10.0.0.5:34601'], { beforeCommit: edit });
    expect(raced.code).toBe(1);
    expect(raced.stderr).toContain('"temp" was changed in file');
    expect(routesOf(routesFile).temp).toEqual({ cluster_name: 'C', meta_addrs: '10.0.0.4:34601' });
    const forced = await ctl(['--config', config, 'set', 'temp', '--cluster', 'D', '--meta', '10.0.0.5:34601', '--force']);
    expect(forced.code).toBe(0);
    expect(routesOf(routesFile).temp).toEqual({ cluster_name: 'D', meta_addrs: '10.0.0.5:34601' });
  });

  it('writes JSON back to a .json routes file', async () => {
    const jsonFile = join(dir.dir, 'routes.json');
    writeFileSync(jsonFile, JSON.stringify({ t: { cluster_name: 'A', meta_addrs: '10.0.0.1:34601' } }));
    const jsonConfig = dir.config(fileConfig('routes.json'), 'json.yaml');
    expect((await ctl(['--config', jsonConfig, 'set', 'u', '--cluster', 'B', '--meta', '10.0.0.2:34601'])).code).toBe(0);
    expect(JSON.parse(readFileSync(jsonFile, 'utf8'))).toEqual({ t: { cluster_name: 'A', meta_addrs: '10.0.0.1:34601' }, u: { cluster_name: 'B', meta_addrs: '10.0.0.2:34601' } });
  });
});

describe('meta-proxy-ctl switch on the file registry', () => {
  let a: SimCluster;
  let b: SimCluster;
  let proxy: ProxyProcess;
  let client: TestClient;
  let file: string;
  let cfg: string;
  const tables = { t1: { appId: 1, partitionCount: 2 }, t2: { appId: 2, partitionCount: 2 }, t3: { appId: 3, partitionCount: 2 } };

  beforeAll(async () => {
    [a, b] = await Promise.all([startSimCluster({ name: 'A', metas: 2, leader: 1, tables }), startSimCluster({ name: 'B', metas: 1, leader: 0, tables })]);
    file = join(dir.dir, 'switch-routes.yaml');
    const toA = { cluster_name: 'A', meta_addrs: a.metas.join(',') };
    writeFileSync(file, JSON.stringify({ t1: toA, t2: toA, t3: { cluster_name: 'B', meta_addrs: b.metas.join(',') } }));
    cfg = dir.config(fileConfig(file), 'switch.yaml');
    proxy = await startProxyProcess({ registry: { file }, metric: { type: 'none' }, server: { listen: '127.0.0.1:0', drain_timeout_ms: 1000 }, admin: { listen: '' } });
    client = await TestClient.connect(proxy.port);
  }, 60_000);
  afterAll(async () => {
    client?.close();
    await proxy?.stop('SIGKILL');
    await Promise.all([a?.close(), b?.close()]);
  });

  let seq = 0;
  const servedBy = async (table: string) => identifyCluster((await client.query(table, ++seq)).frame, ['A', 'B']);

  it('is one atomic rewrite: a concurrent edit of one table moves nothing; otherwise every table moves and the proxy follows', async () => {
    expect(await servedBy('t1')).toBe('A');
    const before = readFileSync(file, 'utf8');
    const raced = await ctl(['--config', cfg, 'switch', '--config-sync-ms', '0', '--from', 'A', '--to', 'B', '--meta', b.metas.join(',')], {
      beforeCommit: () => writeFileSync(file, before.replace('"t2":{"cluster_name":"A"', '"t2":{"cluster_name":"A","note":"edited"')),
    });
    expect(raced.code).toBe(1);
    expect(raced.stderr).toContain('"t2" was changed');
    expect(routesOf(file).t1).toEqual({ cluster_name: 'A', meta_addrs: a.metas.join(',') });

    const done = await ctl(['--config', cfg, 'switch', '--config-sync-ms', '0', '--from', 'A', '--to', 'B', '--meta', b.metas.join(',')]);
    expect(done.code).toBe(0);
    expect(done.stdout).toContain('Switched 2 tables from A to B');
    const routes = routesOf(file);
    expect(routes.t1).toEqual({ cluster_name: 'B', meta_addrs: b.metas.join(',') });
    expect(routes.t2).toEqual({ cluster_name: 'B', meta_addrs: b.metas.join(',') });
    await eventually(async () => (await servedBy('t1')) === 'B');
    expect(await servedBy('t2')).toBe('B');
  });
});
