import { EventEmitter } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { config as rxjsConfig } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, type CliEnv, type ServingProxy } from '../../src/cliRun.js';
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
    onFatal: (handler) => {
      events.on('fatal', handler);
      return () => events.off('fatal', handler);
    },
    exitNow: (code) => exits.push(code),
    disposeGraceMs: 50,
  };
  const logs = () =>
    readFileSync(join(dir, 'proxy.1.log'), 'utf8')
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
