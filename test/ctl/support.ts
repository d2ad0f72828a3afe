/** Running `meta-proxy-ctl` in-process against a config file written for the test. */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dump } from 'js-yaml';
import { runCtl, type CtlEnv } from '../../src/ctl/run.js';

export interface CtlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs one command line; `extra` adds hooks (beforeCommit, ...). */
export async function ctl(argv: string[], extra: Partial<CtlEnv> = {}): Promise<CtlResult> {
  let stdout = '';
  let stderr = '';
  const code = await runCtl({
    argv,
    version: '0.0.0-test',
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    ...extra,
  });
  return { code, stdout, stderr };
}

/** A scratch folder with a config file in it. */
export interface Scratch {
  dir: string;
  /** Writes `config` (YAML keys) to `name` in the folder; returns its path. */
  config(config: Record<string, unknown>, name?: string): string;
  dispose(): void;
}

export function scratch(): Scratch {
  const dir = mkdtempSync(join(tmpdir(), 'meta-proxy-ctl-'));
  return {
    dir,
    config(config, name = 'meta-proxy.yaml') {
      const file = join(dir, name);
      writeFileSync(file, dump(config));
      return file;
    },
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** The config sections a ctl needs for ZooKeeper, with short upstream timings for the cluster commands. */
export function zkConfig(connectString: string, root: string, upstream: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    zookeeper: { address: [connectString], root, timeout: 2000 },
    metric: { type: 'none' },
    upstream: { connect_timeout_ms: 500, default_timeout_ms: 3000, backup_request_delay_ms: 300, retry_delay_ms: 100, ...upstream },
  };
}

/** Polls until `check` passes (route changes travel through watches). */
export async function eventually(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The compiled `meta-proxy-ctl`, as an operator runs it. */
export const CTL_BIN = new URL('../../dist/src/ctl.js', import.meta.url).pathname;

/** Runs the compiled `meta-proxy-ctl` as its own process; resolves when it exits. */
export function ctlBin(args: string[], options: { cwd?: string; timeoutMs?: number } = {}): Promise<CtlResult & { ms: number }> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CTL_BIN, ...args], { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`meta-proxy-ctl ${args.join(' ')} did not exit in time; stdout: ${stdout}; stderr: ${stderr}`));
    }, options.timeoutMs ?? 30_000);
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr, ms: Date.now() - started });
    });
  });
}
