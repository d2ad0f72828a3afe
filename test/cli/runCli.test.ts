import { EventEmitter } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { config as rxjsConfig } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, type CliEnv, type ServingProxy, type WorkerProcess } from '../../src/cliRun.js';
import { ConfigError } from '../../src/errors.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const fixture = join(root, 'test/fixtures/config/registry-only.yaml');
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A process stand-in: signals and fatal errors are emitted by the test, output is captured. */
function harness(argv: string[], run: CliEnv['run']) {
  const dir = mkdtempSync(join(tmpdir(), 'meta-proxy-cli-'));
  dirs.push(dir);
  const logFile = join(dir, 'proxy.log');
  const events = new EventEmitter();
  const out: string[] = [];
  const err: string[] = [];
  const exits: number[] = [];
  const env: CliEnv = {
    argv: argv.map((arg) => arg.replace('$LOG', logFile)),
    version: '9.9.9',
    stdout: (text) => out.push(text),
    stderr: (text) => err.push(text),
    run,
    onSignal: (handler) => {
      events.on('signal', handler);
      return () => events.off('signal', handler);
    },
    onHangup: (handler) => {
      events.on('hangup', handler);
      return () => events.off('hangup', handler);
    },
    onFatal: (handler) => {
      events.on('fatal', handler);
      return () => events.off('fatal', handler);
    },
    exitNow: (code) => exits.push(code),
    disposeGraceMs: 50,
  };
  const logs = () =>
    readFileSync(join(dir, 'proxy.log'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  return { env, events, out, err, exits, logs };
}

function fakeProxy(dispose: () => Promise<void>): ServingProxy {
  return { address: { host: '127.0.0.1', port: 40001 }, dispose };
}

const until = async (check: () => boolean) => {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(check()).toBe(true);
};

describe('runCli', () => {
  it('serves until SIGTERM, then disposes, logs and exits 0', async () => {
    let disposed = 0;
    let started = false;
    const h = harness([fixture, '$LOG'], async () => {
      started = true;
      return fakeProxy(async () => void disposed++);
    });
    const exit = runCli(h.env);
    await until(() => started);
    await new Promise((r) => setTimeout(r, 10));
    expect(disposed).toBe(0);
    h.events.emit('signal', 'SIGTERM');
    expect(await exit).toBe(0);
    expect(disposed).toBe(1);
    expect(h.events.listenerCount('signal')).toBe(0);
    const messages = h.logs().map((entry) => entry.msg);
    expect(messages).toEqual(['starting meta-proxy', 'listening', 'shutting down', 'stopped']);
    const [starting, listening] = h.logs();
    expect(starting).toMatchObject({ version: '9.9.9', config: { file: fixture, admin: { listen: null } } });
    expect(listening).toMatchObject({ address: { host: '127.0.0.1', port: 40001 } });
  });

  it('reopens the log file on SIGHUP and keeps serving', async () => {
    let disposed = 0;
    let started = false;
    const h = harness([fixture, '$LOG'], async () => {
      started = true;
      return fakeProxy(async () => void disposed++);
    });
    const exit = runCli(h.env);
    await until(() => started);
    const file = h.env.argv[1]!;
    await until(() => existsSync(file) && statSync(file).size > 0);
    renameSync(file, `${file}.1`);
    h.events.emit('hangup');
    await new Promise((r) => setTimeout(r, 20));
    expect(disposed).toBe(0);
    expect(h.exits).toEqual([]);
    h.events.emit('signal', 'SIGTERM');
    expect(await exit).toBe(0);
    expect(h.events.listenerCount('hangup')).toBe(0);
    // The rest of the run is in the new file, starting with the reopen itself.
    expect(h.logs().map((entry) => entry.msg)).toEqual(['SIGHUP: log file reopened', 'shutting down', 'stopped']);
    expect(h.logs()[0]).toMatchObject({ logFile: file });
  });

  it('exits at once on a second signal', async () => {
    let started = false;
    const h = harness([fixture, '$LOG'], async () => {
      started = true;
      return fakeProxy(() => new Promise(() => undefined));
    });
    const exit = runCli(h.env);
    await until(() => started);
    h.events.emit('signal', 'SIGTERM');
    expect(h.exits).toEqual([]);
    h.events.emit('signal', 'SIGINT');
    expect(h.exits).toEqual([1]);
    // The stalled dispose still ends within drain time + grace, as a failure.
    expect(await exit).toBe(1);
  });

  it('turns a rejected run() into exit 1 with the reason on stderr', async () => {
    const h = harness([fixture, '$LOG'], async () => {
      throw new Error('listen EADDRINUSE: address already in use 127.0.0.1:34601');
    });
    expect(await runCli(h.env)).toBe(1);
    expect(h.err.join('')).toBe('meta-proxy: failed to start: listen EADDRINUSE: address already in use 127.0.0.1:34601\n');
    expect(h.logs().at(-1)).toMatchObject({ level: 'fatal', msg: 'failed to start' });
  });

  it('treats a ConfigError from run() as a configuration problem (exit 2)', async () => {
    const h = harness([fixture, '$LOG'], async () => {
      throw new ConfigError('metric.custom[0]: the module exports no factory');
    });
    expect(await runCli(h.env)).toBe(2);
  });

  it('logs stray stream errors through RxJS instead of crashing, and restores the hook', async () => {
    const before = rxjsConfig.onUnhandledError;
    let started = false;
    const h = harness([fixture, '$LOG'], async () => {
      started = true;
      return fakeProxy(async () => undefined);
    });
    const exit = runCli(h.env);
    await until(() => started);
    rxjsConfig.onUnhandledError?.(new Error('teardown threw'));
    h.events.emit('signal', 'SIGINT');
    expect(await exit).toBe(0);
    expect(rxjsConfig.onUnhandledError).toBe(before);
    expect(h.logs().find((entry) => entry.msg === 'unhandled error in a stream')).toMatchObject({
      level: 'error',
      err: { message: 'teardown threw' },
    });
  });

  it('logs an uncaught exception as fatal and exits 1', async () => {
    let started = false;
    const h = harness([fixture, '$LOG'], async () => {
      started = true;
      return fakeProxy(async () => undefined);
    });
    const exit = runCli(h.env);
    await until(() => started);
    h.events.emit('fatal', new Error('boom'));
    expect(h.exits).toEqual([1]);
    expect(h.err.join('')).toContain('meta-proxy: fatal: boom');
    h.events.emit('signal', 'SIGTERM');
    await exit;
    expect(h.logs().find((entry) => entry.level === 'fatal')).toMatchObject({ err: { message: 'boom' } });
  });

  it('never calls run() for --check-config, and reports bad config with exit 2', async () => {
    let runs = 0;
    const run = async () => {
      runs++;
      return fakeProxy(async () => undefined);
    };
    const ok = harness(['--check-config', fixture], run);
    expect(await runCli(ok.env)).toBe(0);
    expect(ok.out.join('')).toMatch(new RegExp(`^config OK: ${fixture}\nroutes from file `));
    const bad = harness([join(root, 'test/fixtures/config/wrong-type.yaml')], run);
    expect(await runCli(bad.env)).toBe(2);
    expect(bad.err.join('')).toContain('zookeeper.timeout: expected a positive integer (milliseconds), got "abc"');
    expect(runs).toBe(0);
  });
});

/** A worker stand-in: the test says when it is ready and when it exits. */
class FakeWorker extends EventEmitter implements WorkerProcess {
  shutdowns = 0;
  kills = 0;
  constructor(readonly id: number, readonly pid = 1000 + id) {
    super();
  }
  onReady(handler: () => void) {
    this.on('ready', handler);
  }
  onExit(handler: (code: number | null, signal: string | null) => void) {
    this.once('exit', handler);
  }
  shutdown() {
    this.shutdowns++;
  }
  reopens = 0;
  reopenLog() {
    this.reopens++;
  }
  kill() {
    this.kills++;
    this.emit('exit', null, 'SIGKILL');
  }
}

describe('runCli with server.workers', () => {
  /** A registry-only config asking for `workers` processes, beside the fixture's routes file. */
  function workersConfig(workers: number | string): string {
    const dir = mkdtempSync(join(tmpdir(), 'meta-proxy-workers-'));
    dirs.push(dir);
    const file = join(dir, 'proxy.yaml');
    writeFileSync(
      file,
      `registry: { file: ${join(root, 'test/fixtures/config/routes.yaml')} }\nserver: { listen: 127.0.0.1:0, drain_timeout_ms: 100, workers: ${workers} }\nadmin: { listen: "" }\nmetric: { type: none }\n`,
    );
    return file;
  }

  function primary(workers: number | string, cores = 4) {
    const forked: FakeWorker[] = [];
    const h = harness([workersConfig(workers), '$LOG'], async () => {
      throw new Error('the primary never runs the proxy itself');
    });
    h.env.cores = cores;
    h.env.forkWorker = (slot) => {
      const worker = new FakeWorker(slot);
      forked.push(worker);
      return worker;
    };
    return { h, forked };
  }

  it('forks the configured workers, and on SIGTERM drains every one of them before exiting 0', async () => {
    const { h, forked } = primary(3);
    const exit = runCli(h.env);
    await until(() => forked.length === 3);
    for (const worker of forked) worker.emit('ready');
    h.events.emit('signal', 'SIGTERM');
    expect(forked.map((w) => w.shutdowns)).toEqual([1, 1, 1]);
    forked[0]!.emit('exit', 0, null);
    forked[1]!.emit('exit', 0, null);
    let settled = false;
    void exit.then(() => (settled = true));
    await new Promise((r) => setTimeout(r, 20));
    // One worker is still draining: the primary waits for it.
    expect(settled).toBe(false);
    forked[2]!.emit('exit', 0, null);
    expect(await exit).toBe(0);
    const messages = h.logs().map((entry) => entry.msg);
    expect(messages).toEqual(['starting meta-proxy', 'starting workers', 'every worker is listening', 'shutting down: every worker drains', 'stopped']);
  });

  it('passes SIGHUP on to every worker and reopens its own file', async () => {
    const { h, forked } = primary(2);
    const exit = runCli(h.env);
    await until(() => forked.length === 2);
    for (const worker of forked) worker.emit('ready');
    h.events.emit('hangup');
    expect(forked.map((w) => w.reopens)).toEqual([1, 1]);
    expect(forked.map((w) => w.shutdowns)).toEqual([0, 0]);
    h.events.emit('signal', 'SIGTERM');
    for (const worker of forked) worker.emit('exit', 0, null);
    expect(await exit).toBe(0);
    expect(h.logs().map((entry) => entry.msg)).toContain('SIGHUP: log file reopened');
    expect(h.events.listenerCount('hangup')).toBe(0);
  });

  it('"auto" forks one worker per core', async () => {
    const { h, forked } = primary('auto', 2);
    const exit = runCli(h.env);
    await until(() => forked.length === 2);
    h.events.emit('signal', 'SIGINT');
    for (const worker of forked) worker.emit('exit', 0, null);
    expect(await exit).toBe(0);
  });

  it('replaces a worker that dies while serving', async () => {
    const { h, forked } = primary(2);
    h.env.disposeGraceMs = 50;
    const exit = runCli(h.env);
    await until(() => forked.length === 2);
    for (const worker of forked) worker.emit('ready');
    forked[0]!.emit('exit', null, 'SIGSEGV');
    await until(() => forked.length === 3);
    // The replacement takes the dead worker's slot (its log file, its admin port).
    expect(forked.map((w) => w.id)).toEqual([1, 2, 1]);
    h.events.emit('signal', 'SIGTERM');
    expect(forked[0]!.shutdowns).toBe(0);
    expect([forked[1]!.shutdowns, forked[2]!.shutdowns]).toEqual([1, 1]);
    forked[1]!.emit('exit', 0, null);
    forked[2]!.emit('exit', 0, null);
    expect(await exit).toBe(0);
  });

  it('stops the others and exits with the code of a worker that failed to start', async () => {
    const { h, forked } = primary(2);
    const exit = runCli(h.env);
    await until(() => forked.length === 2);
    forked[1]!.emit('ready');
    forked[0]!.emit('exit', 2, null);
    expect(forked[1]!.shutdowns).toBe(1);
    forked[1]!.emit('exit', 0, null);
    expect(await exit).toBe(2);
  });

  it('kills workers that outlive drain time + grace, and exits 1', async () => {
    const { h, forked } = primary(2);
    const exit = runCli(h.env);
    await until(() => forked.length === 2);
    h.events.emit('signal', 'SIGTERM');
    // drain_timeout_ms 100 + disposeGraceMs 50
    expect(await exit).toBe(1);
    expect(forked.map((w) => w.kills)).toEqual([1, 1]);
  });

  it('a worker serves admin on the configured port plus its slot minus one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'meta-proxy-workers-'));
    dirs.push(dir);
    const file = join(dir, 'proxy.yaml');
    writeFileSync(
      file,
      `registry: { file: ${join(root, 'test/fixtures/config/routes.yaml')} }\nserver: { listen: 127.0.0.1:0, drain_timeout_ms: 100, workers: 4 }\nadmin: { listen: 127.0.0.1:19091 }\nmetric: { type: none }\n`,
    );
    let admin: unknown;
    const h = harness([file, '$LOG'], async (config) => {
      admin = config.admin.listen;
      return fakeProxy(async () => undefined);
    });
    h.env.workerId = 3;
    const exit = runCli(h.env);
    await until(() => admin !== undefined);
    h.events.emit('signal', 'SIGTERM');
    expect(await exit).toBe(0);
    expect(admin).toEqual({ host: '127.0.0.1', port: 19093 });
  });

  it('a worker logs to its own file', async () => {
    const h = harness([fixture, '$LOG'], async () => fakeProxy(async () => undefined));
    h.env.workerId = 7;
    let readyCalls = 0;
    h.env.workerReady = () => void readyCalls++;
    const exit = runCli(h.env);
    await until(() => readyCalls === 1);
    h.events.emit('signal', 'SIGTERM');
    expect(await exit).toBe(0);
    const file = h.env.argv[1]!.replace(/\.log$/, '-w7.log');
    const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines[0]).toMatchObject({ worker: 7, msg: 'starting meta-proxy' });
  });
});
