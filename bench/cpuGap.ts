/**
 * `node dist/bench/cpuGap.js [--rounds N] [--seconds S] [--only random|cached] [--proxy DIST] [--cpu-prof-dir DIR] [--node-arg OPT]`:
 * CPU per reply of the proxy against the floor (bench/floor.ts), in the two
 * scenarios of the CPU targets (BENCHMARKS.md): 1000 tables in random order,
 * 8 connections × 8 in flight, and the cached route, 16 × 32. Each round
 * measures the floor and the proxy one right after the other, so a round's
 * ratio sees the same machine; the medians over the rounds are printed.
 * `--proxy` measures another build (a `dist` directory, e.g. of the commit
 * before a change) in the proxy's place. Run the two builds one after the
 * other, not as a third process beside the two: on this machine a third
 * process started against the same simulator read up to twice the CPU per
 * reply whichever build it was, so only the floor/proxy pair is compared.
 *
 * Shorter and narrower than `bench.ts`: for checking a change to the hot path
 * on a shared, noisy machine, where only ratios taken close together mean much.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { LoadOptions } from './loadgen.js';
import { cpuMicros, hasTaskset, killAll, startFloor, startLoadgen, startProxy, startSim, type Cpus } from './processes.js';

const argv = process.argv.slice(2);
const option = (name: string): string | undefined => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
const rounds = Number(option('--rounds') ?? 5);
const seconds = Number(option('--seconds') ?? 2);
/** Another build to measure as `proxy` (a `dist` directory); default this one. */
const proxyDist = option('--proxy');
const only = option('--only');
/** Run the proxy under `node --cpu-prof`, profile written to this directory when it stops. */
const profDir = option('--cpu-prof-dir');
/** One more node option for the proxy (e.g. `--max-semi-space-size=64`). */
const nodeArg = option('--node-arg');
const pin = hasTaskset();
const CPU_SUT: Cpus = pin ? '1' : undefined;
const CPU_LOAD: Cpus = pin ? '0' : undefined;

interface Scenario {
  name: string;
  load: Omit<LoadOptions, 'host' | 'port' | 'durationMs' | 'warmupMs'>;
}
const SCENARIOS: Scenario[] = [
  { name: 'random', load: { connections: 8, depth: 8, tablePrefix: 'r', tableCount: 1000, indexSpace: 8, random: true, v1Every: 2 } },
  { name: 'cached', load: { connections: 16, depth: 32, tablePrefix: 't', tableCount: 10, indexSpace: 1024, v1Every: 2 } },
].filter((s) => only === undefined || s.name === only);

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
const round2 = (n: number) => Math.round(n * 100) / 100;

async function cpuPerReply(port: number, pid: number, load: Scenario['load'], durationMs: number, warmupMs: number): Promise<number> {
  let atStart = 0;
  let used = 0;
  const onWindow = (edge: 'start' | 'end') => {
    if (edge === 'start') atStart = cpuMicros(pid);
    else used = cpuMicros(pid) - atStart;
  };
  const result = await startLoadgen({ host: '127.0.0.1', port, durationMs, warmupMs, ...load }, CPU_LOAD, undefined, onWindow).result;
  if (result.unanswered > 0 || result.seqidMismatches > 0 || Object.keys(result.codes).some((code) => code !== 'ERR_OK')) {
    throw new Error(`port ${port}: ${JSON.stringify({ unanswered: result.unanswered, mismatches: result.seqidMismatches, codes: result.codes })}`);
  }
  return used / Math.max(1, result.measured);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'meta-proxy-cpugap-'));
  const tables = [...Array.from({ length: 1000 }, (_, i) => `r${i}:8`), ...Array.from({ length: 10 }, (_, i) => `t${i}:1024`)];
  writeFileSync(join(dir, 'tables.txt'), tables.join('\n'));
  const sim = await startSim('A', `@${join(dir, 'tables.txt')}`, CPU_LOAD);
  const value = `{ cluster_name: A, meta_addrs: "${sim.metas.join(',')}" }`;
  const routes = join(dir, 'routes.yaml');
  writeFileSync(routes, tables.map((t) => `${t.split(':')[0]}: ${value}`).join('\n') + '\n');
  const config = join(dir, 'proxy.yaml');
  writeFileSync(
    config,
    `registry: { file: ${routes} }\nmetric: { type: prometheus }\nserver: { listen: 127.0.0.1:0 }\nadmin: { listen: 127.0.0.1:0 }\nlog: { level: info }\n`,
  );
  try {
    for (const scenario of SCENARIOS) {
      // Fresh processes per scenario, as in bench.ts: a proxy that has served
      // 1000 tables carries them into the next scenario.
      const suts = [
        { name: 'floor', ...(await startFloor(routes, CPU_SUT)) },
        {
          name: 'proxy',
          ...(await startProxy(
            config,
            CPU_SUT,
            1,
            [...(profDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${join(profDir, scenario.name)}`]), ...(nodeArg === undefined ? [] : [nodeArg])],
            ...(proxyDist === undefined ? [] : [join(resolve(proxyDist), 'src/cli.js')]),
          )),
        },
      ];
      for (const sut of suts) await cpuPerReply(sut.port, sut.pid, scenario.load, 3000, 0);
      const samples = new Map<string, number[]>(suts.map((sut) => [sut.name, []]));
      for (let i = 0; i < rounds; i++) {
        // Each round in another order, so no process always runs right after the same one.
        const order = i % 2 === 0 ? suts : [...suts].reverse();
        for (const sut of order) samples.get(sut.name)!.push(await cpuPerReply(sut.port, sut.pid, scenario.load, seconds * 1000, 300));
      }
      const floor = samples.get('floor')!;
      const line = [`${scenario.name}: CPU µs/reply, median of ${rounds}:`];
      for (const sut of suts) {
        const own = samples.get(sut.name)!;
        const ratio = sut.name === 'floor' ? '' : ` (${sut.name}/floor ${round2(median(own.map((v, k) => v / floor[k]!)))}, rounds ${own.map((v, k) => round2(v / floor[k]!)).join(' ')})`;
        line.push(`  ${sut.name} ${round2(median(own))}${ratio}`);
      }
      process.stdout.write(`${line.join('\n')}\n`);
      // SIGTERM: a profiled proxy writes its profile on the way out.
      for (const sut of suts) await sut.stop();
    }
  } finally {
    killAll();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    killAll();
    console.error(error);
    process.exit(1);
  },
);
