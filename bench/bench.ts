/**
 * `npm run bench [-- --quick] [--no-pin] [--repeat N] [--only a,b]`: every scenario of
 * BENCHMARKS.md in one run, side by side. Prints a table and writes bench/results.json.
 * Scenario names for --only: throughput (= direct, pipe, floor, proxy, herd, many, random),
 * latency, switch, idle, workers. `--switch-rate N` fixes the route-switch load.
 * Exits 1 when any scenario saw a seqid mismatch, an unanswered request or an error code.
 *
 * Processes: the simulator CLI (clusters A and B), the thing under test (the
 * simulated leader itself, a byte pipe, or the meta-proxy CLI) and the load
 * generator, each its own node process. With two or more CPUs and `taskset`,
 * the thing under test gets CPU 1 to itself and the simulator and load
 * generator share CPU 0, as if the proxy had its own host.
 */
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { cpus as osCpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { replicaIp } from '../sim/identify.js';
import type { LoadOptions, LoadResult } from './loadgen.js';
import {
  fileLimits,
  hasTaskset,
  killAll,
  rssBytes,
  startLoadgen,
  cpuMicros,
  startFloor,
  startPipe,
  startProxy,
  startSim,
  type Cpus,
  type SimProcess,
} from './processes.js';

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const only = argv.includes('--only') ? new Set((argv[argv.indexOf('--only') + 1] ?? '').split(',')) : undefined;
const cores = osCpus().length;
const pin = !argv.includes('--no-pin') && cores >= 2 && hasTaskset();
/** The thing under test, and everything else. */
const CPU_SUT: Cpus = pin ? '1' : undefined;
const CPU_LOAD: Cpus = pin ? '0' : undefined;

const REPEAT = argv.includes('--repeat') ? Number(argv[argv.indexOf('--repeat') + 1]) : undefined;
const SIZES = quick
  ? { durationMs: 700, warmupMs: 200, connections: 16, depth: 32, manyTables: 100_000, manyWarmMs: 1200, warmProxyMs: 700, idleConnections: 2000, switches: 3, repeat: 1 }
  : { durationMs: 6000, warmupMs: 1500, connections: 16, depth: 32, manyTables: 100_000, manyWarmMs: 6000, warmProxyMs: 3000, idleConnections: 10_000, switches: 10, repeat: 3 };
const MAIN_TABLES = 10;
const MAIN_PARTITIONS = 1024;
/** The random-order scenario: this many routed tables (all cached), asked in random order. */
const RANDOM_TABLES = 1000;
/** CPU a simulated meta spends building each answer in the herd scenario (µs). */
const HERD_ANSWER_COST_US = 50;

interface Row {
  scenario: string;
  /** Replies per second (or a note for non-throughput rows). */
  throughput?: number;
  latencyUs?: LoadResult['latencyUs'];
  ratios: Record<string, number>;
  /** Upstream queries the simulated leader saw per client reply (1 = no coalescing). */
  upstreamPerReply?: number;
  /** CPU time (user + system) the process under test spent per reply in the measured window, µs. */
  cpuUsPerReply?: number;
  correctness?: string;
  notes?: string;
  load?: LoadResult;
  extra?: Record<string, unknown>;
}

const rows: Row[] = [];
const dir = mkdtempSync(join(tmpdir(), 'meta-proxy-bench-'));
const log = (text: string) => process.stderr.write(`${text}\n`);
const enabled = (name: string) => only === undefined || only.has(name);

function writeAtomically(file: string, text: string): void {
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
}

function routesYaml(tables: string[], sim: SimProcess): string {
  const value = `{ cluster_name: ${sim.name}, meta_addrs: "${sim.metas.join(',')}" }`;
  return tables.map((t) => `${t}: ${value}`).join('\n') + '\n';
}

function proxyConfig(name: string, routesFile: string, workers = 1): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    [
      'registry:',
      `  file: ${routesFile}`,
      'metric:',
      '  type: prometheus',
      'server:',
      '  listen: 127.0.0.1:0',
      '  max_connections: 30000',
      ...(workers === 1 ? [] : [`  workers: ${workers}`]),
      'admin:',
      '  listen: 127.0.0.1:0',
      'log:',
      '  level: info',
      '',
    ].join('\n'),
  );
  return file;
}

const portOf = (address: string) => Number(address.slice(address.lastIndexOf(':') + 1));

function loadOptions(port: number, extra: Partial<LoadOptions> = {}): LoadOptions {
  return {
    host: '127.0.0.1',
    port,
    connections: SIZES.connections,
    depth: SIZES.depth,
    durationMs: SIZES.durationMs,
    warmupMs: SIZES.warmupMs,
    tablePrefix: 't',
    tableCount: MAIN_TABLES,
    indexSpace: MAIN_PARTITIONS,
    v1Every: 2,
    ...extra,
  };
}

/** Zero mismatches, nothing unanswered, every code as expected. */
function verdict(result: LoadResult, expected = 'ERR_OK'): string {
  const problems: string[] = [];
  if (result.seqidMismatches > 0) problems.push(`${result.seqidMismatches} seqid mismatches`);
  if (result.unanswered > 0) problems.push(`${result.unanswered} unanswered`);
  if (result.connectErrors > 0) problems.push(`${result.connectErrors} connect errors`);
  if (result.closedByServer > 0) problems.push(`${result.closedByServer} closed by server`);
  const others = Object.entries(result.codes).filter(([code]) => code !== expected);
  if (others.length > 0) problems.push(others.map(([code, n]) => `${n}×${code}`).join(' '));
  return problems.length === 0 ? `ok: ${result.answered} answered, 0 mismatches, all ${expected}` : `FAILED: ${problems.join(', ')}`;
}

/**
 * Runs the load `SIZES.repeat` times and keeps the best run (highest
 * throughput, or lowest p99 in rate mode): other processes on a shared
 * machine only ever slow a run down. Every run must be correct.
 */
async function measure(
  scenario: string,
  port: number,
  extra: Partial<LoadOptions>,
  sim: SimProcess,
  cpus: Cpus = CPU_LOAD,
  /** The process under test, whose CPU time per reply is read across the measured window. */
  sutPid?: number,
): Promise<Row> {
  const runs: Array<{ result: LoadResult; upstream: number; cpuUs: number | undefined }> = [];
  for (let i = 0; i < (REPEAT ?? SIZES.repeat); i++) {
    const before = Number((await sim.command({ cmd: 'requestCount', meta: 0 })).count);
    let cpuAtStart: number | undefined;
    let cpuUs: number | undefined;
    const onWindow = (edge: 'start' | 'end') => {
      if (sutPid === undefined) return;
      if (edge === 'start') cpuAtStart = cpuMicros(sutPid);
      else if (cpuAtStart !== undefined) cpuUs = cpuMicros(sutPid) - cpuAtStart;
    };
    const result = await startLoadgen(loadOptions(port, extra), cpus, undefined, onWindow).result;
    const after = Number((await sim.command({ cmd: 'requestCount', meta: 0 })).count);
    runs.push({ result, upstream: after - before, cpuUs });
  }
  const rated = extra.rate !== undefined;
  const best = runs.reduce((a, b) =>
    (rated ? b.result.latencyUs.p99 < a.result.latencyUs.p99 : b.result.throughput > a.result.throughput) ? b : a,
  );
  const failed = runs.map((run) => verdict(run.result)).find((text) => !text.startsWith('ok'));
  // The 1-minute load average, next to what the benchmark itself puts on the machine, shows interference.
  const load1 = Math.round(loadavg()[0]! * 100) / 100;
  const result = best.result;
  const row: Row = {
    scenario,
    throughput: result.throughput,
    latencyUs: result.latencyUs,
    ratios: {},
    upstreamPerReply: Math.round((best.upstream / Math.max(1, result.answered)) * 1000) / 1000,
    ...(best.cpuUs !== undefined && { cpuUsPerReply: Math.round((best.cpuUs / Math.max(1, result.measured)) * 10) / 10 }),
    correctness: failed ?? `${verdict(result)}${runs.length > 1 ? ` (each of ${runs.length} runs)` : ''}`,
    load: result,
    extra: { loadavg1: load1, ...(runs.length > 1 && { runs: runs.map((run) => ({ throughput: run.result.throughput, p99: run.result.latencyUs.p99 })) }) },
  };
  log(`  ${scenario}: ${result.throughput}/s p50 ${result.latencyUs.p50} µs p99 ${result.latencyUs.p99} µs${row.cpuUsPerReply === undefined ? '' : ` cpu ${row.cpuUsPerReply} µs/reply`} — ${row.correctness}${runs.length > 1 ? ` — runs: ${runs.map((run) => run.result.throughput).join(', ')}` : ''}`);
  rows.push(row);
  return row;
}

/** Unmeasured load on a freshly started proxy, so the JIT has compiled the hot path before a measurement. */
async function warm(port: number, extra: Partial<LoadOptions> = {}, durationMs = SIZES.warmProxyMs): Promise<void> {
  const result = await startLoadgen(loadOptions(port, { ...extra, rate: undefined, durationMs, warmupMs: 0 }), CPU_LOAD).result;
  if (!verdict(result).startsWith('ok')) throw new Error(`warm-up load failed: ${verdict(result)}`);
}

/** The highest open-loop rate the proxy answers in full with p99 under 20 ms, stepping down from near the closed-loop peak. */
async function sustainedPeak(port: number, closedLoopPeak: number): Promise<number> {
  let rate = Math.round(closedLoopPeak * 0.9);
  for (let i = 0; i < 8; i++) {
    const result = await startLoadgen(loadOptions(port, { rate, depth: 256, durationMs: quick ? 700 : 2500, warmupMs: quick ? 200 : 300 }), CPU_LOAD).result;
    log(`  trying ${rate}/s: ${result.throughput}/s, p99 ${result.latencyUs.p99} µs`);
    if (result.throughput >= rate * 0.97 && result.latencyUs.p99 < 20_000 && result.deferred === 0) return rate;
    rate = Math.round(rate * 0.85);
    // Let the backlog of an overloaded try drain before the next one.
    await sleep(quick ? 200 : 500);
  }
  return rate;
}

const ratio = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined || b === 0 ? NaN : Math.round((a / b) * 100) / 100;

async function main(): Promise<void> {
  const limits = fileLimits();
  log(`meta-proxy benchmark (${quick ? 'quick' : 'full'}): ${cores} cores, node ${process.version}, pinning ${pin ? 'on (SUT on CPU 1, load + simulator on CPU 0)' : 'off'}`);
  const many = Array.from({ length: SIZES.manyTables }, (_, i) => `r${i}`);
  const main = Array.from({ length: MAIN_TABLES }, (_, i) => `t${i}`);
  const tablesFile = join(dir, 'sim-tables.txt');
  writeFileSync(tablesFile, [...main.map((t) => `${t}:${MAIN_PARTITIONS}`), 'herd:8', ...many.map((t) => `${t}:8`)].join('\n'));
  const simA = await startSim('A', `@${tablesFile}`, CPU_LOAD);
  const simB = await startSim('B', main.map((t) => `${t}:${MAIN_PARTITIONS}`).join(','), CPU_LOAD);
  const leader = simA.metas[0]!;
  const routes = join(dir, 'routes.yaml');
  writeAtomically(routes, routesYaml([...main, 'herd'], simA));
  const routesMany = join(dir, 'routes-many.yaml');
  writeAtomically(routesMany, routesYaml([...main, 'herd', ...many], simA));
  const routesRandom = join(dir, 'routes-random.yaml');
  writeAtomically(routesRandom, routesYaml(many.slice(0, RANDOM_TABLES), simA));

  try {
    // Throughput at saturation: direct, pipe, proxy.
    let direct: Row | undefined;
    let pipeRow: Row | undefined;
    let proxyRow: Row | undefined;
    if (enabled('throughput') || enabled('direct')) {
      log('throughput (closed loop, 16 connections × 32 in flight, v0/v1 mixed, 10 tables × 1024 partitions):');
      direct = await measure('direct to meta leader', portOf(leader), {}, simA, CPU_LOAD, simA.pid);
    }
    if (enabled('throughput') || enabled('pipe')) {
      const pipe = await startPipe(leader, CPU_SUT);
      pipeRow = await measure('byte pipe', pipe.port, {}, simA, CPU_LOAD, pipe.pid);
      pipeRow.ratios = { 'pipe/direct': ratio(pipeRow.throughput, direct?.throughput) };
      await pipe.stop();
    }
    let floorRow: Row | undefined;
    if (enabled('throughput') || enabled('floor') || enabled('proxy')) {
      const floor = await startFloor(routes, CPU_SUT);
      await warm(floor.port);
      floorRow = await measure('floor: minimal Node.js proxy', floor.port, {}, simA, CPU_LOAD, floor.pid);
      floorRow.ratios = { 'floor/direct': ratio(floorRow.throughput, direct?.throughput) };
      await floor.stop();
    }
    if (enabled('throughput') || enabled('proxy') || enabled('herd')) {
      const proxy = await startProxy(proxyConfig('main', routes), CPU_SUT);
      await warm(proxy.port);
      if (enabled('throughput') || enabled('proxy')) {
        proxyRow = await measure('meta-proxy, cached route (10 tables)', proxy.port, {}, simA, CPU_LOAD, proxy.pid);
        proxyRow.ratios = {
          'CPU proxy/floor': ratio(proxyRow.cpuUsPerReply, floorRow?.cpuUsPerReply),
          'proxy/floor': ratio(proxyRow.throughput, floorRow?.throughput),
          'proxy/direct': ratio(proxyRow.throughput, direct?.throughput),
          'proxy/pipe': ratio(proxyRow.throughput, pipeRow?.throughput),
        };
      }
      if (enabled('throughput') || enabled('herd')) {
        log(`herd (every client asks the same table and indices; the meta spends ${HERD_ANSWER_COST_US} µs of CPU per answer):`);
        const herd = { indexSpace: 0, tables: ['herd'] };
        await simA.command({ cmd: 'answerCost', us: HERD_ANSWER_COST_US });
        try {
          const herdDirect = await measure('herd: direct to meta leader', portOf(leader), herd, simA, CPU_LOAD, simA.pid);
          const herdProxy = await measure('herd: meta-proxy (coalescing)', proxy.port, herd, simA, CPU_LOAD, proxy.pid);
          herdProxy.ratios = { 'proxy/direct': ratio(herdProxy.throughput, herdDirect.throughput) };
        } finally {
          await simA.command({ cmd: 'answerCost', us: 0 });
        }
      }
      await proxy.stop();
    }
    if (enabled('throughput') || enabled('random')) {
      // 1000 cached routes, each request a table and partition picked at random:
      // the route lookup and the per-table state are exercised, not one hot entry.
      const random = { tablePrefix: 'r', tableCount: RANDOM_TABLES, indexSpace: 8, random: true, connections: 8, depth: 8 };
      log(`${RANDOM_TABLES} routed tables asked in random order (8 connections × 8 in flight):`);
      await startLoadgen(loadOptions(portOf(leader), { ...random, durationMs: SIZES.warmProxyMs, warmupMs: 0 }), CPU_LOAD).result;
      const randomDirect = await measure(`${RANDOM_TABLES} random tables: direct to meta leader`, portOf(leader), random, simA, CPU_LOAD, simA.pid);
      const floor = await startFloor(routesRandom, CPU_SUT);
      await warm(floor.port, random);
      const randomFloor = await measure(`${RANDOM_TABLES} random tables: floor proxy`, floor.port, random, simA, CPU_LOAD, floor.pid);
      await floor.stop();
      const proxy = await startProxy(proxyConfig('random', routesRandom), CPU_SUT);
      await warm(proxy.port, random);
      const randomProxy = await measure(`${RANDOM_TABLES} random tables: meta-proxy`, proxy.port, random, simA, CPU_LOAD, proxy.pid);
      randomProxy.ratios = {
        'CPU proxy/floor': ratio(randomProxy.cpuUsPerReply, randomFloor.cpuUsPerReply),
        'proxy/floor': ratio(randomProxy.throughput, randomFloor.throughput),
        'proxy/direct': ratio(randomProxy.throughput, randomDirect.throughput),
      };
      await proxy.stop();
    }
    if (enabled('throughput') || enabled('many')) {
      // Partition 0 of each table: the simulator builds each (table, indices) answer once,
      // and a warm pass over every table first keeps that cost out of both rows.
      const spread = { tablePrefix: 'r', tableCount: SIZES.manyTables, indexSpace: 1 };
      const k = `${SIZES.manyTables / 1000}k`;
      log(`${k} routed tables (queries spread over all of them):`);
      await startLoadgen(loadOptions(portOf(leader), { ...spread, durationMs: SIZES.manyWarmMs, warmupMs: 0 }), CPU_LOAD).result;
      const manyDirect = await measure(`${k} tables: direct to meta leader`, portOf(leader), spread, simA, CPU_LOAD, simA.pid);
      const proxyMany = await startProxy(proxyConfig('many', routesMany), CPU_SUT);
      await warm(proxyMany.port, spread, SIZES.manyWarmMs);
      const manyRow = await measure(`meta-proxy, ${k} routed tables, spread`, proxyMany.port, spread, simA, CPU_LOAD, proxyMany.pid);
      manyRow.ratios = {
        [`${k}/10 tables`]: ratio(manyRow.throughput, proxyRow?.throughput),
        'proxy/direct': ratio(manyRow.throughput, manyDirect.throughput),
      };
      await proxyMany.stop();
    }

    // Added latency at half of the proxy's peak. The peak of open-loop traffic
    // (requests spread evenly in time, few per connection at once, as a fleet
    // of clients sends them) is lower than the closed-loop one, where deep
    // pipelining batches everything: it is searched for first.
    let halfRate: number | undefined;
    if (enabled('latency') || enabled('switch')) {
      const proxy = await startProxy(proxyConfig('half', routes), CPU_SUT);
      await warm(proxy.port);
      const peak = await sustainedPeak(proxy.port, proxyRow?.throughput ?? 40_000);
      halfRate = Math.round(peak / 2);
      log(`open-loop peak of the proxy: ${peak}/s (sustained with p99 under 20 ms)`);
      if (enabled('latency')) {
        const rate = halfRate;
        log(`latency at half of the proxy's open-loop peak (${rate}/s):`);
        const rated = { rate, depth: 256 };
        const directHalf = await measure(`direct @ ${rate}/s`, portOf(leader), rated, simA);
        const pipe = await startPipe(leader, CPU_SUT);
        const pipeHalf = await measure(`byte pipe @ ${rate}/s`, pipe.port, rated, simA);
        await pipe.stop();
        const proxyHalf = await measure(`meta-proxy @ ${rate}/s (open-loop peak ${peak}/s)`, proxy.port, rated, simA);
        const added = Math.round(((proxyHalf.latencyUs?.p99 ?? 0) - (directHalf.latencyUs?.p99 ?? 0)) * 10) / 10;
        proxyHalf.ratios = { 'added p99 µs': added, 'added p50 µs': Math.round(((proxyHalf.latencyUs?.p50 ?? 0) - (directHalf.latencyUs?.p50 ?? 0)) * 10) / 10 };
        pipeHalf.ratios = { 'added p99 µs': Math.round(((pipeHalf.latencyUs?.p99 ?? 0) - (directHalf.latencyUs?.p99 ?? 0)) * 10) / 10 };
      }
      await proxy.stop();
    }

    // Route switch under load.
    if (enabled('switch')) {
      const asked = argv.includes('--switch-rate') ? Number(argv[argv.indexOf('--switch-rate') + 1]) : undefined;
      const rate = asked ?? halfRate ?? 5000;
      log(`route switch under load (${rate}/s, ${SIZES.switches} switches A↔B):`);
      const switchRoutes = join(dir, 'routes-switch.yaml');
      writeAtomically(switchRoutes, routesYaml(main, simA));
      const proxy = await startProxy(proxyConfig('switch', switchRoutes), CPU_SUT);
      await warm(proxy.port);
      const identify = [simA, simB].map((s) => ({ name: s.name, ip: replicaIp(s.name) }));
      const load = startLoadgen(loadOptions(proxy.port, { rate, depth: 256, identify, durationMs: 3_600_000, warmupMs: 0 }), CPU_LOAD);
      await load.ready;
      await sleep(500);
      await load.mark();
      const latencies: number[] = [];
      const loads: number[] = [];
      let failures = 0;
      let from = simA;
      for (let i = 0; i < SIZES.switches; i++) {
        const to = from === simA ? simB : simA;
        const at = performance.timeOrigin + performance.now();
        writeAtomically(switchRoutes, routesYaml(main, to));
        await sleep(600);
        const mark = await load.mark();
        const loadedAt = proxy.routeLoads.find((loaded) => loaded >= Math.floor(at));
        loads.push(loadedAt === undefined ? NaN : loadedAt - at);
        failures += mark.failures;
        const lastOld = mark.lastSentAnsweredBy[from.name] ?? at;
        const answeredByNew = mark.lastSentAnsweredBy[to.name] !== undefined;
        latencies.push(answeredByNew ? Math.max(0, lastOld - at) : Infinity);
        from = to;
      }
      load.stop();
      const result = await load.result;
      await proxy.stop();
      const sorted = [...latencies].sort((a, b) => a - b);
      const pct = (p: number) => Math.round((sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN) * 10) / 10;
      const row: Row = {
        scenario: `route switch A↔B under ${rate}/s`,
        ratios: { 'switch p50 ms': pct(50), 'switch p99 ms': pct(99), 'switch max ms': pct(100) },
        correctness: `${verdict(result)}; ${failures} failed queries during switches`,
        load: result,
        extra: { switchLatenciesMs: latencies.map((l) => Math.round(l * 10) / 10), routesLoadedAfterMs: loads.map((l) => Math.round(l)), failures },
        notes: 'switch latency: file rename → send time of the last query answered by the old cluster; routesLoadedAfterMs: rename → the proxy logged the new file as loaded',
      };
      rows.push(row);
      log(`  switch latencies (ms): ${row.extra!.switchLatenciesMs}; file loaded after (ms): ${row.extra!.routesLoadedAfterMs} — ${row.correctness}`);
    }

    // Memory of idle connections.
    if (enabled('idle')) {
      let count = SIZES.idleConnections;
      let note = '';
      // Each side (load generator, proxy) holds one descriptor per connection, plus a margin.
      const needed = count + 1000;
      if (limits.hard < needed) {
        count = Math.max(100, limits.hard - 1000);
        note = `ulimit -n hard limit ${limits.hard}: sized down from ${SIZES.idleConnections} to ${count}`;
      }
      log(`idle connections (${count}):`);
      const proxy = await startProxy(proxyConfig('idle', routes), CPU_SUT);
      await sleep(1000);
      const before = rssBytes(proxy.pid);
      const load = startLoadgen(loadOptions(proxy.port, { connections: count, idle: true }), CPU_LOAD, limits.soft < needed ? Math.min(limits.hard, needed) : undefined);
      await load.ready;
      await sleep(2000);
      const after = rssBytes(proxy.pid);
      load.stop();
      const result = await load.result;
      await proxy.stop();
      const mb = (bytes: number) => Math.round((bytes / 1048576) * 10) / 10;
      const row: Row = {
        scenario: `${count} idle client connections`,
        ratios: { 'RSS before MB': mb(before), 'RSS after MB': mb(after), 'KB/conn': Math.round((after - before) / 1024 / count * 10) / 10 },
        correctness: `${result.idleConnections}/${count} connections answered once; ${verdict(result)}`,
        load: result,
        ...(note !== '' && { notes: note }),
      };
      rows.push(row);
      log(`  RSS ${mb(before)} MB → ${mb(after)} MB — ${row.correctness}`);
    }

    // One host, all its cores: 1 vs 2 workers, nothing pinned.
    if (enabled('workers')) {
      log('workers (nothing pinned):');
      let one: Row | undefined;
      for (const workers of [1, 2]) {
        const proxy = await startProxy(proxyConfig(`workers-${workers}`, routes, workers), undefined, workers);
        await warm(proxy.port);
        const row = await measure(`meta-proxy, ${workers} worker${workers > 1 ? 's' : ''} (unpinned)`, proxy.port, {}, simA, undefined);
        if (one === undefined) one = row;
        else row.ratios = { [`${workers}/1 workers`]: ratio(row.throughput, one.throughput) };
        const code = await proxy.stop();
        row.extra = { ...row.extra, exitCodeAfterSigterm: code };
      }
    }
  } finally {
    await simA.stop();
    await simB.stop();
    killAll();
  }

  const table = render();
  process.stdout.write(`${table}\n`);
  const resultsFile = new URL('./results.json', import.meta.url.replace('/dist/bench/', '/bench/')).pathname;
  writeFileSync(
    resultsFile,
    `${JSON.stringify({ date: new Date().toISOString(), quick, machine: { cores, cpu: osCpus()[0]?.model, memoryGb: Math.round(totalmem() / 2 ** 30), node: process.version, pinned: pin, ulimitNoFile: limits }, sizes: SIZES, rows, table }, null, 2)}\n`,
  );
  log(`results: ${resultsFile}`);
  const failed = rows.filter((row) => row.correctness?.includes('FAILED'));
  if (failed.length > 0) {
    log(`correctness FAILED in: ${failed.map((row) => row.scenario).join('; ')}`);
    process.exitCode = 1;
  }
}

function render(): string {
  const header = ['scenario', 'replies/s', 'CPU µs/reply', 'p50 µs', 'p99 µs', 'p99.9 µs', 'up/reply', 'ratios', 'correctness'];
  const lines = rows.map((row) => [
    row.scenario,
    row.throughput === undefined ? '' : String(row.throughput),
    row.cpuUsPerReply === undefined ? '' : String(row.cpuUsPerReply),
    row.latencyUs ? String(row.latencyUs.p50) : '',
    row.latencyUs ? String(row.latencyUs.p99) : '',
    row.latencyUs ? String(row.latencyUs.p999) : '',
    row.upstreamPerReply === undefined ? '' : String(row.upstreamPerReply),
    Object.entries(row.ratios).map(([k, v]) => `${k} ${v}`).join(', '),
    (row.correctness ?? '').startsWith('ok') ? 'ok' : (row.correctness ?? ''),
  ]);
  const all = [header, ...lines];
  const widths = header.map((_, i) => Math.max(...all.map((line) => (line[i] ?? '').length)));
  const format = (line: string[]) => `| ${line.map((cell, i) => cell.padEnd(widths[i]!)).join(' | ')} |`;
  return [format(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...lines.map(format)].join('\n');
}

process.once('SIGINT', () => {
  killAll();
  process.exit(130);
});
main().catch((error: unknown) => {
  killAll();
  console.error(error);
  process.exit(1);
});
