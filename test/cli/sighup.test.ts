/**
 * SIGHUP against the real bin, as logrotate in `create` mode does it: the log
 * file is renamed, the signal sent, and the proxy must write on to a fresh file
 * at the path it was given, without stopping or dropping a client.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimCluster, type SimCluster } from '../../sim/cluster.js';
import { TestClient } from '../support/pegasusClient.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const bin = join(root, 'dist/src/cli.js');
const scratch = mkdtempSync(join(tmpdir(), 'meta-proxy-sighup-'));
let sim: SimCluster;
let routes: string;

beforeAll(async () => {
  for (const source of ['src/cli.ts', 'src/cliRun.ts', 'src/cliWorkers.ts', 'src/io/logger.ts', 'src/io/logFile.ts']) {
    const built = join(root, 'dist', source.replace(/\.ts$/, '.js'));
    if (!existsSync(built) || statSync(built).mtimeMs < statSync(join(root, source)).mtimeMs) {
      throw new Error(`${built} is missing or older than ${source}: run "npx tsc -p ." first`);
    }
  }
  sim = await startSimCluster({ name: 'A', metas: 1, tables: { temp: { appId: 2, partitionCount: 8 } } });
  routes = join(scratch, 'routes.yaml');
  writeFileSync(routes, `temp: { cluster_name: A, meta_addrs: "${sim.metas[0]}" }\n`);
});
afterAll(async () => {
  await sim?.close();
  rmSync(scratch, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function entries(file: string): Array<Record<string, unknown>> {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** The child that must stay alive while a test waits on it. */
let watched: ChildProcess | undefined;

async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = 15_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (watched && (watched.exitCode !== null || watched.signalCode !== null)) {
      throw new Error(`the proxy exited (${watched.exitCode ?? watched.signalCode}) while waiting for ${what}`);
    }
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

interface Running {
  child: ChildProcess;
  exited: Promise<number | null>;
  stderr: () => string;
}

function start(name: string, server: string, withLog = true): Running & { config: string; log: string } {
  const config = join(scratch, `${name}.yaml`);
  const log = join(scratch, name, 'proxy.log');
  writeFileSync(config, `registry: { file: ${routes} }\nserver: ${server}\nadmin: { listen: "" }\nmetric: { type: none }\nlog: { max_size_mb: 0 }\n`);
  const child = spawn(process.execPath, withLog ? [bin, config, log] : [bin, config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout!.resume();
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  watched = child;
  return { child, exited, stderr: () => stderr, config, log };
}

const portIn = (file: string) => () =>
  (entries(file).find((entry) => entry.msg === 'meta-proxy listening')?.listen as { port: number } | undefined)?.port;

describe('SIGHUP', () => {
  it('reopens the log file after logrotate renamed it; the proxy keeps serving the same clients', async () => {
    const proxy = start('single', '{ listen: "127.0.0.1:0", drain_timeout_ms: 1000 }');
    try {
      const port = await waitFor('the proxy to listen', portIn(proxy.log));
      const client = await TestClient.connect(port);
      expect((await client.query('temp', 1)).err).toBe('ERR_OK');

      renameSync(proxy.log, `${proxy.log}.1`);
      proxy.child.kill('SIGHUP');
      await waitFor('a fresh file at the path', () => (entries(proxy.log).some((e) => e.msg === 'SIGHUP: log file reopened') ? true : undefined));
      expect(entries(proxy.log)[0]).toMatchObject({ msg: 'SIGHUP: log file reopened', logFile: proxy.log });
      expect(entries(`${proxy.log}.1`).map((e) => e.msg)).toContain('listening');

      // Still the same process, still serving on the connection it had.
      expect(proxy.child.exitCode).toBeNull();
      expect((await client.query('temp', 2)).err).toBe('ERR_OK');
      // A second SIGHUP with nothing renamed only reopens the same file.
      proxy.child.kill('SIGHUP');
      await waitFor('the second reopen', () => (entries(proxy.log).filter((e) => e.msg === 'SIGHUP: log file reopened').length === 2 ? true : undefined));
      expect((await client.query('temp', 3)).err).toBe('ERR_OK');
      client.close();

      proxy.child.kill('SIGTERM');
      expect(await proxy.exited).toBe(0);
      expect(entries(proxy.log).at(-1)).toMatchObject({ msg: 'stopped' });
      expect(entries(`${proxy.log}.1`).map((e) => e.msg)).not.toContain('stopped');
      expect(proxy.stderr()).toBe('');
    } finally {
      proxy.child.kill('SIGKILL');
    }
  }, 30_000);

  it('with workers: the primary passes it on, and every process reopens its own file', async () => {
    const proxy = start('workers', '{ listen: "127.0.0.1:0", drain_timeout_ms: 1000, workers: 2 }');
    const files = [proxy.log, ...[1, 2].map((i) => proxy.log.replace(/\.log$/, `-w${i}.log`))];
    try {
      const port = await waitFor('both workers to listen', () => {
        const ports = files.slice(1).map((file) => portIn(file)());
        return ports.every((p) => p !== undefined) ? ports[0] : undefined;
      });
      await waitFor('the primary to see them', () => (entries(proxy.log).some((e) => e.msg === 'every worker is listening') ? true : undefined));
      for (const file of files) renameSync(file, `${file}.1`);
      // Only the primary is signalled, as `kill -HUP <main pid>` does.
      proxy.child.kill('SIGHUP');
      for (const file of files) {
        await waitFor(`a fresh ${file}`, () => (entries(file).some((e) => e.msg === 'SIGHUP: log file reopened') ? true : undefined));
      }
      expect(entries(files[1]!)[0]).toMatchObject({ worker: 1, logFile: files[1] });
      expect(entries(files[2]!)[0]).toMatchObject({ worker: 2, logFile: files[2] });
      const clients = await Promise.all([1, 2, 3, 4].map(() => TestClient.connect(port)));
      for (const [i, c] of clients.entries()) expect((await c.query('temp', i + 1)).err).toBe('ERR_OK');
      for (const c of clients) c.close();
      expect(proxy.child.exitCode).toBeNull();
      proxy.child.kill('SIGTERM');
      expect(await proxy.exited).toBe(0);
    } finally {
      proxy.child.kill('SIGKILL');
    }
  }, 40_000);

  it('logging to stdout, it is harmless', async () => {
    const proxy = start('stdout', '{ listen: "127.0.0.1:0", drain_timeout_ms: 1000 }', false);
    let stdout = '';
    proxy.child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    try {
      await waitFor('the proxy to listen', () => (stdout.includes('"msg":"listening"') ? true : undefined));
      proxy.child.kill('SIGHUP');
      await waitFor('the SIGHUP line', () => (stdout.includes('SIGHUP: logging to stdout, no file to reopen') ? true : undefined));
      expect(proxy.child.exitCode).toBeNull();
      proxy.child.kill('SIGTERM');
      expect(await proxy.exited).toBe(0);
    } finally {
      proxy.child.kill('SIGKILL');
    }
  }, 30_000);
});
