/** Runs the real `meta-proxy` CLI as its own process, as an operator would. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { dump } from 'js-yaml';

// From the sources (vitest) the bin is under dist/; compiled (the soak run) this file already is.
export const CLI = new URL(
  import.meta.url.includes('/dist/test/') ? '../../src/cli.js' : '../../dist/src/cli.js',
  import.meta.url,
).pathname;

export interface ProxyProcess {
  readonly port: number;
  readonly child: ChildProcess;
  /** Every JSON log line the proxy wrote to stdout so far. */
  readonly logs: Array<Record<string, unknown>>;
  /** Everything the proxy wrote to stderr so far. */
  stderr(): string;
  readonly configFile: string;
  readonly exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Writes `config` (YAML keys) to a temp file and starts the proxy on it; resolves once it listens. */
export async function startProxyProcess(
  config: Record<string, unknown>,
  options: { timeoutMs?: number; /** Flags for node itself, e.g. --expose-gc. */ nodeArgs?: string[] } = {},
): Promise<ProxyProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'meta-proxy-e2e-'));
  const configFile = join(dir, 'meta-proxy.yaml');
  writeFileSync(configFile, dump(config));
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), CLI, configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: Array<Record<string, unknown>> = [];
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`proxy did not start: ${stderr}`)), options.timeoutMs ?? 15_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      logs.push(entry);
      const listen = entry.listen as { port?: number } | undefined;
      if (entry.msg === 'meta-proxy listening' && typeof listen?.port === 'number') {
        clearTimeout(timer);
        resolve(listen.port);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`proxy exited with ${code} before listening: ${stderr}`));
    });
  });
  return {
    port,
    child,
    logs,
    stderr: () => stderr,
    configFile,
    exited,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
