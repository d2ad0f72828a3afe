import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const bin = join(root, 'dist/src/cli.js');
const fixtures = join(root, 'test/fixtures/config');
const scratch = mkdtempSync(join(tmpdir(), 'meta-proxy-bin-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

beforeAll(() => {
  // These tests run the compiled bin; a stale build would test yesterday's code.
  const sources = ['src/cli.ts', 'src/cliRun.ts', 'src/cliArgs.ts', 'src/config/load.ts', 'src/config/schema.ts', 'src/io/logger.ts'];
  for (const source of sources) {
    const built = join(root, 'dist', source.replace(/\.ts$/, '.js'));
    if (!existsSync(built) || statSync(built).mtimeMs < statSync(join(root, source)).mtimeMs) {
      throw new Error(`${built} is missing or older than ${source}: run "npx tsc -p ." first`);
    }
  }
});

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the bin; `onStdout` may act on the running process (send a signal) as output arrives. */
function cli(args: string[], onStdout?: (text: string, signal: (name: NodeJS.Signals) => void) => void): Promise<Outcome> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      onStdout?.(stdout, (name) => child.kill(name));
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolveRun({ code, stdout, stderr }));
  });
}

describe('meta-proxy bin', () => {
  it('--check-config on the shipped file exits 0 with a summary', async () => {
    const result = await cli(['--check-config', 'meta-proxy.yaml']);
    expect(result).toEqual({
      code: 0,
      stdout: `config OK: ${join(root, 'meta-proxy.yaml')}\nroutes from zookeeper 127.0.0.1:2181 under /pegasus-cluster; listen 0.0.0.0:34601; admin 0.0.0.0:9091; metrics prometheus; log level info\n`,
      stderr: '',
    });
    expect((await cli(['meta-proxy.yaml', '--check-config'])).code).toBe(0);
  });

  it('--check-config exits 2 naming the key of a wrong type', async () => {
    const file = join(fixtures, 'wrong-type.yaml');
    const result = await cli(['--check-config', file]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(`${file}: zookeeper.timeout: expected a positive integer (milliseconds), got "abc"`);
  });

  it('--check-config exits 2 naming an unknown key', async () => {
    const file = join(fixtures, 'unknown-key.yaml');
    const result = await cli([file, '--check-config']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${file}: zookeeper.adress: unknown key (did you mean "address"?)`);
  });

  it('exits 2 for a configuration file that does not exist', async () => {
    const result = await cli([join(scratch, 'nope.yaml')]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${join(scratch, 'nope.yaml')}: cannot read the configuration file: no such file`);
  });

  it('--help and --version exit 0', async () => {
    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('meta-proxy <config.yaml> [log-file]');
    const version = await cli(['--version']);
    expect(version).toEqual({ code: 0, stdout: '0.1.0\n', stderr: '' });
  });

  it('with no arguments prints the usage on stderr and exits 2', async () => {
    const result = await cli([]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('The configuration file is missing.');
    expect(result.stderr).toContain('Usage:');
  });

  it('exits 2 on an unknown option', async () => {
    const result = await cli(['--bogus', 'meta-proxy.yaml']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('Unknown option: --bogus.');
  });

  it('logs the redacted effective config as JSON, serves, and exits 0 after a SIGTERM drain', async () => {
    const config = join(scratch, 'secret.yaml');
    writeFileSync(
      config,
      `registry: { file: ${join(fixtures, 'routes.yaml')} }\n` +
        `zookeeper: { address: [127.0.0.1:1], timeout: 200, auth: { scheme: digest, credential: "u:hidden-pw" } }\n` +
        'server: { listen: "127.0.0.1:0", drain_timeout_ms: 100 }\nadmin: { listen: "" }\nmetric: { type: none }\n',
    );
    let signalled = false;
    const result = await cli([config], (stdout, signal) => {
      if (!signalled && stdout.includes('"msg":"listening"')) {
        signalled = true;
        signal('SIGTERM');
      }
    });
    const entries = result.stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(entries[0]).toMatchObject({
      level: 'info',
      msg: 'starting meta-proxy',
      config: { file: config, zookeeper: { auth: { scheme: 'digest', credential: '***' } } },
    });
    expect(result.stdout).not.toContain('hidden-pw');
    // ZooKeeper is unreachable here: the proxy still starts (routes answer
    // ERR_ZOOKEEPER_OPERATION until it comes), and stops cleanly on SIGTERM.
    expect(signalled).toBe(true);
    expect(result.code).toBe(0);
    expect(entries.at(-1)).toMatchObject({ msg: 'stopped', signal: 'SIGTERM' });
  });

  it('exits 1 when the listen port is taken', async () => {
    const server: Server = createServer();
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    const { port } = server.address() as { port: number };
    try {
      const config = join(scratch, 'busy.yaml');
      writeFileSync(
        config,
        `registry: { file: ${join(fixtures, 'routes.yaml')} }\nserver: { listen: "127.0.0.1:${port}" }\nadmin: { listen: "" }\nmetric: { type: none }\n`,
      );
      const result = await cli([config, join(scratch, 'busy.log')]);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/^meta-proxy: failed to start: /);
    } finally {
      server.close();
    }
  });
});
