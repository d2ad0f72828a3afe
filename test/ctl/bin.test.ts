import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startZooKeeper, type ZkServer } from '../support/zookeeper.js';
import { scratch, zkConfig, type Scratch } from './support.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const bin = join(root, 'dist/src/ctl.js');
let zk: ZkServer;
let dir: Scratch;

beforeAll(async () => {
  // This test runs the compiled bin; a stale build would test old code.
  for (const source of ['src/ctl.ts', 'src/ctl/run.ts', 'src/ctl/args.ts', 'src/ctl/zkStore.ts', 'src/io/zkTransaction.ts']) {
    const built = join(root, 'dist', source.replace(/\.ts$/, '.js'));
    if (!existsSync(built) || statSync(built).mtimeMs < statSync(join(root, source)).mtimeMs) {
      throw new Error(`${built} is missing or older than ${source}: run "npx tsc -p ." first`);
    }
  }
  zk = await startZooKeeper();
  dir = scratch();
});
afterAll(async () => {
  dir?.dispose();
  await zk?.dispose();
});

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: dir.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    child.once('exit', (code) => done({ code, stdout, stderr }));
  });
}

describe('the meta-proxy-ctl bin', () => {
  it('is declared in package.json with a node shebang', () => {
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    expect(manifest.bin['meta-proxy-ctl']).toBe('dist/src/ctl.js');
    expect(readFileSync(bin, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
  });

  it('sets and lists a route in ZooKeeper with ./meta-proxy.yaml, then exits', async () => {
    dir.config(zkConfig(zk.connectString, '/ctl-bin'));
    const set = await run(['set', 'temp', '--cluster', 'c1', '--meta', '10.0.0.1:34601']);
    expect(set).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse((await zk.get('/ctl-bin/temp'))!.data.toString())).toEqual({ cluster_name: 'c1', meta_addrs: '10.0.0.1:34601' });
    const list = await run(['list']);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^temp\s+c1\s+10\.0\.0\.1:34601$/m);
  });

  it('exits 2 on a usage error and 0 for --help', async () => {
    const bad = await run(['set', 'temp']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('set needs --cluster');
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: meta-proxy-ctl');
  });
});
