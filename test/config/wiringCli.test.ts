/**
 * Options the command itself passes on, outside `run()`: the log section
 * (to the logger it creates) and server.drain_timeout_ms (the bound on a
 * shutdown, in the single process and in the primary of several workers).
 * The logger's and the primary's own tests build them with the values in
 * hand; these go through a YAML file and the command, and show the
 * configured value at work where it differs from the default.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dump } from 'js-yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, type CliEnv, type WorkerProcess } from '../../src/cliRun.js';
import { startSimCluster } from '../../sim/cluster.js';
import { TestClient } from '../support/pegasusClient.js';
import { CLI, startProxyProcess, type ProxyProcess } from '../support/proxyProcess.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function eventually(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`not in time: ${what}`);
    await sleep(20);
  }
}

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function scratch(): string {
  return mkdtempSync(join(tmpdir(), 'meta-proxy-wiring-cli-'));
}

/** A registry-only configuration (YAML keys) that needs no cluster to start. */
function minimal(dir: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const routes = join(dir, 'routes.yaml');
  writeFileSync(routes, 'temp: { cluster_name: A, meta_addrs: "127.0.0.1:1" }\n');
  return {
    registry: { file: routes },
    server: { listen: '127.0.0.1:0', drain_timeout_ms: 200 },
    admin: { listen: '' },
    metric: { type: 'none' },
    ...extra,
  };
}

const readLines = (file: string) =>
  existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, unknown>)
    : [];

/** Runs the command with `[config, logFile]` and resolves once the log file says it listens. */
async function commandLoggingTo(dir: string, config: Record<string, unknown>, logFile: string): Promise<ChildProcess> {
  const configFile = join(dir, 'meta-proxy.yaml');
  writeFileSync(configFile, dump(config));
  const child = spawn(process.execPath, [CLI, configFile, logFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  await eventually(
    () => {
      if (child.exitCode !== null) throw new Error(`the command exited with ${child.exitCode}: ${stderr}`);
      return readLines(logFile).some((line) => line['msg'] === 'meta-proxy listening');
    },
    'the command listens',
    15_000,
  );
  return child;
}

/** Writes `file` with `bytes` bytes of JSON lines, last modified `daysAgo` days ago. */
function oldFile(file: string, daysAgo: number, bytes = 3): void {
  writeFileSync(file, '{}\n'.repeat(Math.ceil(bytes / 3)));
  const at = (Date.now() - daysAgo * 24 * 60 * 60 * 1000) / 1000;
  utimesSync(file, at, at);
}

describe('log', () => {
  it('log.level: debug writes the debug lines', async () => {
    const a = await startSimCluster({ name: 'A', metas: 1, tables: { temp: { appId: 2, partitionCount: 4 } } });
    cleanups.push(() => a.close());
    const dir = scratch();
    const routes = join(dir, 'routes-a.yaml');
    writeFileSync(routes, dump({ temp: { cluster_name: 'A', meta_addrs: a.metas.join(',') } }));
    const proxy: ProxyProcess = await startProxyProcess({ ...minimal(dir), registry: { file: routes }, log: { level: 'debug' } });
    cleanups.push(() => proxy.stop('SIGKILL'));
    const c = await TestClient.connect(proxy.port);
    cleanups.push(() => c.close());
    expect((await c.query('temp', 1)).err).toBe('ERR_OK');
    // Logged at debug only: the default level (info) leaves it out.
    await eventually(() => proxy.logs.some((line) => line['msg'] === 'connected to MetaServer'), 'the debug line');
  });

  it('log.max_files and log.max_age_days: rotated files past the count or the age go at start', async () => {
    const dir = scratch();
    const log = join(dir, 'proxy.log');
    oldFile(`${log}.1`, 3);
    oldFile(`${log}.2`, 0);
    oldFile(`${log}.3`, 0);
    oldFile(`${log}.4`, 0);
    await commandLoggingTo(dir, minimal(dir, { log: { max_files: 3, max_age_days: 2 } }), log);
    // The defaults (10 files, 7 days) would keep all four.
    await eventually(() => !existsSync(`${log}.1`) && !existsSync(`${log}.4`), 'proxy.log.1 (too old) and proxy.log.4 (beyond 3) removed');
    expect(existsSync(`${log}.2`)).toBe(true);
    expect(existsSync(`${log}.3`)).toBe(true);
  });

  it('log.max_size_mb: 1 rotates a live file that already holds more', async () => {
    const dir = scratch();
    const log = join(dir, 'proxy.log');
    oldFile(log, 0, 1024 * 1024 + 3);
    await commandLoggingTo(dir, minimal(dir, { log: { max_size_mb: 1 } }), log);
    // The default (500 MB) would go on appending to it.
    await eventually(() => existsSync(`${log}.1`), 'proxy.log rotated to proxy.log.1');
    expect(readFileSync(`${log}.1`, 'utf8').startsWith('{}\n{}\n')).toBe(true);
    expect(readLines(log)[0]).not.toEqual({});
  });
});

describe('server.drain_timeout_ms bounds the shutdown', () => {
  /** The command in this process, on a YAML file with drain_timeout_ms 100; the test sends the signals. */
  function command(extra: Record<string, unknown>, run: CliEnv['run']) {
    const dir = scratch();
    const configFile = join(dir, 'meta-proxy.yaml');
    writeFileSync(configFile, dump(minimal(dir, { server: { listen: '127.0.0.1:0', drain_timeout_ms: 100, ...extra } })));
    const events = new EventEmitter();
    const env: CliEnv = {
      argv: [configFile, join(dir, 'proxy.log')],
      version: '0.0.0-test',
      stdout: () => undefined,
      stderr: () => undefined,
      run,
      onSignal: (handler) => {
        events.on('signal', handler);
        return () => events.off('signal', handler);
      },
      onFatal: () => () => undefined,
      exitNow: () => undefined,
      disposeGraceMs: 50,
    };
    return { env, events };
  }

  /** Resolves with the exit code, or 'still running' after `ms`. */
  const within = (exit: Promise<number>, ms: number) =>
    Promise.race([exit, sleep(ms).then(() => 'still running' as const)]);

  it('in one process: a dispose that never ends is given up on after drain time + grace', async () => {
    let running = false;
    const { env, events } = command({}, async () => {
      running = true;
      return { address: { host: '127.0.0.1', port: 1 }, dispose: () => new Promise<void>(() => undefined) };
    });
    const exit = runCli(env);
    await eventually(() => running, 'run() called');
    events.emit('signal', 'SIGTERM');
    // 100 + 50 ms; the default drain time (10 s) would still be waiting.
    expect(await within(exit, 3000)).toBe(1);
  });

  it('with workers: the primary kills workers that outlive drain time + grace', async () => {
    const forked: Array<WorkerProcess & { kills: number }> = [];
    const { env, events } = command({ workers: 2 }, async () => {
      throw new Error('the primary never runs the proxy itself');
    });
    env.forkWorker = (slot) => {
      const exits: Array<(code: number | null, signal: string | null) => void> = [];
      const worker = {
        id: slot,
        pid: 1000 + slot,
        kills: 0,
        onReady: () => undefined,
        onExit: (handler: (code: number | null, signal: string | null) => void) => void exits.push(handler),
        // Never stops on its own.
        shutdown: () => undefined,
        reopenLog: () => undefined,
        kill: () => {
          worker.kills++;
          for (const handler of exits) handler(null, 'SIGKILL');
        },
      };
      forked.push(worker);
      return worker;
    };
    const exit = runCli(env);
    await eventually(() => forked.length === 2, 'two workers forked');
    events.emit('signal', 'SIGTERM');
    expect(await within(exit, 3000)).toBe(1);
    expect(forked.map((worker) => worker.kills)).toEqual([1, 1]);
  });
});
