/**
 * `node dist/bench/profile.js [--herd | --many | --random] [--seconds N]`: runs the proxy CLI under
 * `node --cpu-prof` against the simulator, drives it with the load generator
 * (the cached-route workload of the benchmark), stops it with SIGTERM and prints
 * the functions with the most self time. The .cpuprofile file stays in
 * bench/profiles/ for Chrome DevTools or speedscope.
 */
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasTaskset, killAll, startLoadgen, startProxy, startSim } from './processes.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

const argv = process.argv.slice(2);
const herd = argv.includes('--herd');
const many = argv.includes('--many');
/** 1000 tables asked in random order, 8 connections × 8 in flight: the benchmark's random-order scenario. */
const random = argv.includes('--random');
const seconds = Number(argv[argv.indexOf('--seconds') + 1] ?? 0) || 8;
const pin = hasTaskset();

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'meta-proxy-profile-'));
  const out = new URL('./profiles/', import.meta.url.replace('/dist/bench/', '/bench/')).pathname;
  mkdirSync(out, { recursive: true });
  const tableCount = many ? 100_000 : random ? 1000 : 10;
  const tables = Array.from({ length: tableCount }, (_, i) => `t${i}`);
  const simTables = join(dir, 'tables.txt');
  writeFileSync(simTables, [...tables.map((t) => `${t}:${many || random ? 8 : 1024}`), 'herd:8'].join('\n'));
  const sim = await startSim('A', `@${simTables}`, pin ? '0' : undefined);
  const routes = join(dir, 'routes.yaml');
  const value = `{ cluster_name: A, meta_addrs: "${sim.metas.join(',')}" }`;
  writeFileSync(routes, [...tables, 'herd'].map((t) => `${t}: ${value}`).join('\n'));
  const config = join(dir, 'proxy.yaml');
  writeFileSync(
    config,
    `registry: { file: ${routes} }\nmetric: { type: prometheus }\nserver: { listen: 127.0.0.1:0 }\nadmin: { listen: 127.0.0.1:0 }\n`,
  );
  const profDir = join(dir, 'prof');
  try {
    const proxy = await startProxy(config, pin ? '1' : undefined, 1, ['--cpu-prof', `--cpu-prof-dir=${profDir}`]);
    const load = startLoadgen(
      {
        host: '127.0.0.1',
        port: proxy.port,
        connections: random ? 8 : 16,
        depth: random ? 8 : 32,
        ...(random && { random: true }),
        durationMs: seconds * 1000,
        warmupMs: 1000,
        ...(herd ? { tables: ['herd'] } : { tablePrefix: 't', tableCount }),
        indexSpace: herd ? 0 : many || random ? 8 : 1024,
        v1Every: 2,
      },
      pin ? '0' : undefined,
    );
    const result = await load.result;
    process.stderr.write(`load: ${result.throughput}/s, p99 ${result.latencyUs.p99} µs, codes ${JSON.stringify(result.codes)}\n`);
    await proxy.stop();
  } finally {
    await sim.stop();
    killAll();
  }
  const file = readdirSync(profDir).find((name) => name.endsWith('.cpuprofile'));
  if (file === undefined) throw new Error('no profile written');
  const target = join(out, `${herd ? 'herd' : many ? 'many' : random ? 'random' : 'cached'}-${Date.now()}.cpuprofile`);
  renameSync(join(profDir, file), target);
  summarize(target);
}

if (argv.includes('--summarize')) {
  summarize(argv[argv.indexOf('--summarize') + 1]!);
  process.exit(0);
}

function summarize(file: string): void {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as { nodes: ProfileNode[] };
  const self = new Map<string, number>();
  let total = 0;
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    total += hits;
    const { functionName, url, lineNumber } = node.callFrame;
    const where = url.replace(/^.*\/(node_modules\/|dist\/)/, '$1');
    const key = `${functionName || '(anonymous)'} ${where}:${lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + hits);
  }
  const top = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 30);
  process.stdout.write(`profile: ${file}\nself time, top 30 of ${total} samples:\n`);
  for (const [key, hits] of top) process.stdout.write(`${((hits / total) * 100).toFixed(1).padStart(5)}%  ${key}\n`);

  // Inclusive time of the project's own functions: what a fix in src/ can win.
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const inclusive = new Map<string, number>();
  const walk = (node: ProfileNode, onPath: Set<string>): number => {
    const { functionName, url, lineNumber } = node.callFrame;
    const key = `${functionName || '(anonymous)'} ${url.replace(/^.*\/(node_modules\/|dist\/)/, '$1')}:${lineNumber + 1}`;
    const fresh = !onPath.has(key);
    if (fresh) onPath.add(key);
    let hits = node.hitCount ?? 0;
    for (const child of node.children ?? []) hits += walk(byId.get(child)!, onPath);
    if (fresh) {
      onPath.delete(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + hits);
    }
    return hits;
  };
  walk(profile.nodes[0]!, new Set());
  const own = [...inclusive.entries()].filter(([key]) => / (dist\/(src|sim)\/|node:net|node:internal\/stream_base)/.test(key)).sort((a, b) => b[1] - a[1]).slice(0, 30);
  process.stdout.write(`\ninclusive time, project functions and socket writes, top 30:\n`);
  for (const [key, hits] of own) process.stdout.write(`${((hits / total) * 100).toFixed(1).padStart(5)}%  ${key}\n`);
}

main().catch((error: unknown) => {
  killAll();
  console.error(error);
  process.exit(1);
});
