import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startZooKeeper, type ZkServer } from '../support/zookeeper.js';
import { ctl, scratch, zkConfig, type Scratch } from './support.js';

const ROOT = '/ctl-routes';
let zk: ZkServer;
let dir: Scratch;
let config: string;

const node = async (table: string): Promise<unknown> => {
  const n = await zk.get(`${ROOT}/${table}`);
  return n ? JSON.parse(n.data.toString()) : null;
};

beforeAll(async () => {
  zk = await startZooKeeper();
  dir = scratch();
  config = dir.config(zkConfig(zk.connectString, ROOT));
});
afterAll(async () => {
  dir?.dispose();
  await zk?.dispose();
});

describe('meta-proxy-ctl list / get / set / delete on ZooKeeper', () => {
  it('set creates the root and the node in the layout of docs/DESIGN.md, get and list show it', async () => {
    const set = await ctl(['--config', config, 'set', 'temp', '--cluster', 'c1', '--meta', '10.0.0.1:34601, 10.0.0.2:34601,10.0.0.1:34601']);
    expect(set).toMatchObject({ code: 0, stderr: '' });
    expect(set.stdout).toContain('temp: created -> c1 (10.0.0.1:34601,10.0.0.2:34601)');
    const raw = await zk.get(`${ROOT}/temp`);
    expect(raw?.data.toString()).toBe('{"cluster_name":"c1","meta_addrs":"10.0.0.1:34601,10.0.0.2:34601"}');

    await zk.set(`${ROOT}/orders`, { cluster_name: 'c2', meta_addrs: ['meta-2.example:34601'] });
    await zk.set(`${ROOT}/broken`, 'not json');
    const list = await ctl(['list', '--config', config]);
    expect(list.code).toBe(0);
    const lines = list.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^TABLE\s+CLUSTER\s+METAS$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/).slice(0, 2))).toEqual([['broken', '-'], ['orders', 'c2'], ['temp', 'c1']]);
    // Columns are aligned: every METAS cell starts at the same offset.
    expect(new Set(lines.map((l) => l.indexOf(l.split(/\s+/)[2]!))).size).toBe(1);
    expect(lines[1]).toContain('unusable: the route is not JSON');

    const json = JSON.parse((await ctl(['--config', config, 'list', '--json'])).stdout) as Array<Record<string, unknown>>;
    expect(json.find((r) => r.table === 'orders')).toEqual({ table: 'orders', cluster_name: 'c2', meta_addrs: 'meta-2.example:34601', version: 0 });

    const get = await ctl(['--config', config, 'get', 'temp', '--json']);
    expect(JSON.parse(get.stdout)).toEqual({ table: 'temp', cluster_name: 'c1', meta_addrs: '10.0.0.1:34601,10.0.0.2:34601', version: 0 });
    expect((await ctl(['--config', config, 'get', 'temp'])).stdout).toBe('temp: c1 (10.0.0.1:34601,10.0.0.2:34601) [version 0]\n');
  });

  it('set updates an existing route with the version it read; delete removes it', async () => {
    const update = await ctl(['--config', config, 'set', 'temp', '--cluster', 'c3', '--meta', 'meta-3:34601']);
    expect(update.code).toBe(0);
    expect(update.stdout).toContain('c1 (10.0.0.1:34601,10.0.0.2:34601) -> c3 (meta-3:34601)');
    expect(await node('temp')).toEqual({ cluster_name: 'c3', meta_addrs: 'meta-3:34601' });
    expect((await zk.get(`${ROOT}/temp`))?.version).toBe(1);

    const del = await ctl(['--config', config, 'delete', 'temp']);
    expect(del.code).toBe(0);
    expect(await node('temp')).toBeNull();
    const again = await ctl(['--config', config, 'delete', 'temp']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('no route for table "temp"');
    const get = await ctl(['--config', config, 'get', 'temp']);
    expect(get.code).toBe(1);
  });

  it('set fails and writes nothing when another writer changes the route between read and write; --force overwrites', async () => {
    await zk.set(`${ROOT}/raced`, { cluster_name: 'c1', meta_addrs: '10.0.0.1:34601' });
    const concurrent = { cluster_name: 'other-operator', meta_addrs: '10.9.9.9:34601' };
    const raced = await ctl(['--config', config, 'set', 'raced', '--cluster', 'c2', '--meta', '10.0.0.2:34601'], {
      beforeCommit: async () => {
        await zk.set(`${ROOT}/raced`, concurrent);
      },
    });
    expect(raced.code).toBe(1);
    expect(raced.stderr).toContain('was changed');
    expect(raced.stderr).toMatch(/Re-run the command .* or add --force/);
    expect(await node('raced')).toEqual(concurrent);

    // Created by someone else after this command saw no node.
    const created = await ctl(['--config', config, 'set', 'fresh', '--cluster', 'c2', '--meta', '10.0.0.2:34601'], {
      beforeCommit: async () => {
        await zk.set(`${ROOT}/fresh`, concurrent);
      },
    });
    expect(created.code).toBe(1);
    expect(created.stderr).toContain('was created');
    expect(await node('fresh')).toEqual(concurrent);

    const forced = await ctl(['--config', config, 'set', 'raced', '--cluster', 'c2', '--meta', '10.0.0.2:34601', '--force'], {
      beforeCommit: async () => {
        await zk.set(`${ROOT}/raced`, { cluster_name: 'third', meta_addrs: '10.8.8.8:34601' });
      },
    });
    expect(forced.code).toBe(0);
    expect(await node('raced')).toEqual({ cluster_name: 'c2', meta_addrs: '10.0.0.2:34601' });
  });

  it('delete is version-checked too', async () => {
    await zk.set(`${ROOT}/gone`, { cluster_name: 'c1', meta_addrs: '10.0.0.1:34601' });
    const changed = { cluster_name: 'c9', meta_addrs: '10.0.0.9:34601' };
    const raced = await ctl(['--config', config, 'delete', 'gone'], { beforeCommit: async () => void (await zk.set(`${ROOT}/gone`, changed)) });
    expect(raced.code).toBe(1);
    expect(await node('gone')).toEqual(changed);
    expect((await ctl(['--config', config, 'delete', 'gone', '--force'])).code).toBe(0);
    expect(await node('gone')).toBeNull();
  });

  it('exit 2 for a bad command line or configuration, 1 when ZooKeeper cannot be reached', async () => {
    const badMeta = await ctl(['--config', config, 'set', 't', '--cluster', 'c', '--meta', '10.0.0.1']);
    expect(badMeta.code).toBe(2);
    expect(badMeta.stderr).toContain('"10.0.0.1" is not a MetaServer address: there is no ":port"');
    expect(badMeta.stderr).toContain('Usage: meta-proxy-ctl set');
    expect((await ctl(['--config', config, 'set', 't', '--cluster', ' ', '--meta', '10.0.0.1:1'])).code).toBe(2);
    expect((await ctl(['--config', config, 'set', 'a/b', '--cluster', 'c', '--meta', '10.0.0.1:1'])).code).toBe(2);
    expect((await ctl(['--config', config, 'frobnicate'])).code).toBe(2);
    expect((await ctl(['--config', config])).code).toBe(2);
    const missing = await ctl(['--config', `${dir.dir}/nope.yaml`, 'list']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('nope.yaml');
    // The default config file is ./meta-proxy.yaml of the working directory.
    expect((await ctl(['list'], { cwd: dir.dir })).code).toBe(0);

    const dead = dir.config(zkConfig('127.0.0.1:1', ROOT), 'dead.yaml');
    const unreachable = await ctl(['--config', dead, 'list']);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toContain('Check that ZooKeeper is running');

    const help = await ctl(['switch', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: meta-proxy-ctl switch');
    expect((await ctl(['help', 'import'])).stdout).toContain('Usage: meta-proxy-ctl import');
    expect((await ctl(['--help'])).stdout).toContain('Commands:');
    expect((await ctl(['--version'])).stdout).toBe('0.0.0-test\n');
  });
});
