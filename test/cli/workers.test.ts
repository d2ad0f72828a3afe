import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimCluster, type SimCluster } from '../../sim/cluster.js';
import { TestClient } from '../support/pegasusClient.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const bin = join(root, 'dist/src/cli.js');
const scratch = mkdtempSync(join(tmpdir(), 'meta-proxy-workers-'));
let sim: SimCluster;

beforeAll(async () => {
  for (const source of ['src/cli.ts', 'src/cliRun.ts', 'src/cliWorkers.ts']) {
    const built = join(root, 'dist', source.replace(/\.ts$/, '.js'));
    if (!existsSync(built) || statSync(built).mtimeMs < statSync(join(root, source)).mtimeMs) {
      throw new Error(`${built} is missing or older than ${source}: run "npx tsc -p ." first`);
    }
  }
  sim = await startSimCluster({ name: 'A', metas: 1, tables: { temp: { appId: 2, partitionCount: 8 } } });
});
afterAll(async () => {
  await sim?.close();
  rmSync(scratch, { recursive: true, force: true });
});

describe('meta-proxy with server.workers: 2 (node:cluster)', () => {
  it('serves from two worker processes on one port, and SIGTERM to the primary drains both, then exits 0', async () => {
    const routes = join(scratch, 'routes.yaml');
    writeFileSync(routes, `temp: { cluster_name: A, meta_addrs: "${sim.metas[0]}" }\n`);
    const config = join(scratch, 'proxy.yaml');
    writeFileSync(
      config,
      `registry: { file: ${routes} }\nserver: { listen: 127.0.0.1:0, workers: 2, drain_timeout_ms: 5000 }\nadmin: { listen: "" }\nmetric: { type: none }\n`,
    );
    const child = spawn(process.execPath, [bin, config], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const logs: Array<Record<string, unknown>> = [];
    const listening = new Map<number, number>();
    const port = await new Promise<number>((resolvePort, reject) => {
      const timer = setTimeout(() => reject(new Error('the workers did not start')), 20_000);
      createInterface({ input: child.stdout! }).on('line', (line) => {
        const entry = JSON.parse(line) as Record<string, unknown>;
        logs.push(entry);
        const listen = entry.listen as { port: number } | undefined;
        if (entry.msg !== 'meta-proxy listening' || !listen) return;
        listening.set(entry.worker as number, listen.port);
        if (listening.size === 2) {
          clearTimeout(timer);
          resolvePort(listen.port);
        }
      });
    });
    // Both workers share the one port.
    expect(new Set(listening.values())).toEqual(new Set([port]));
    expect([...listening.keys()].sort()).toEqual([1, 2]);

    const clients = await Promise.all(Array.from({ length: 6 }, () => TestClient.connect(port)));
    for (const [i, c] of clients.entries()) expect((await c.query('temp', i + 1)).err).toBe('ERR_OK');

    // Requests held at a slow meta when SIGTERM arrives are still answered.
    sim.setBehavior(0, { mode: 'slow', delayMs: 300 });
    const pending = clients.map((c, i) => c.query('temp', 100 + i));
    await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGTERM');
    const replies = await Promise.all(pending);
    expect(replies.map((r) => r.err)).toEqual(Array(6).fill('ERR_OK'));
    expect(await exited).toBe(0);
    expect(logs.filter((e) => e.msg === 'shut down').map((e) => e.worker).sort()).toEqual([1, 2]);
    expect(logs.at(-1)).toMatchObject({ msg: 'stopped', code: 0 });
    for (const c of clients) c.close();
  }, 30_000);
});
