/**
 * `npm run soak -- --minutes N [--rate R] [--fault-every-ms M] [--warmup W]`
 *
 * A long run of the real proxy (its CLI, as its own process, under
 * `node --expose-gc`) against a real ZooKeeper and three simulated clusters:
 * a steady stock-client-like load (v0 and v1 frames, 100 tables, a tenth of the
 * requests for tables that do not exist, herds of identical queries) while,
 * every few seconds, one fault of the fault suite's list happens: ZooKeeper
 * restarted, the ZooKeeper session expired, a leader killed, routes switched
 * (tables moved among the clusters), a leader gone silent, hostile connections.
 *
 * Every minute, between faults, it records what became of the requests sent
 * (lost, duplicated, late, by code), the proxy's RSS, heap in use after a
 * forced collection, active handles and open descriptors. It exits 1 on any
 * lost, duplicated or wrong-table answer, a hostile connection left open, the
 * proxy dying or logging an escaped error, and on heap, handle or descriptor
 * growth after warm-up (see `LIMITS`).
 */
import { readdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startSimCluster, type SimCluster } from '../sim/cluster.js';
import { startZooKeeper, type ZkServer } from '../test/support/zookeeper.js';
import { startProxyProcess, type ProxyProcess } from '../test/support/proxyProcess.js';
import { startTcpRelay, type TcpRelay } from '../test/faults/tcpRelay.js';
import { adminUrl, metric, rssMb } from '../test/faults/harness.js';
import { startLoad, type LoadSummary, type LoadTable } from '../test/faults/load.js';
import { judge, minuteTable, type Limits, type MinuteRow } from './trend.js';

/**
 * Why these bounds. The load is ~18 000 requests and ~10 faults a minute, so a
 * leak of 30 bytes per request, or of 50 KiB per fault, grows the collected
 * heap by more than 0.5 MiB a minute; a steady proxy's collected heap moves by
 * a few hundred KiB between samples, which a 12-point fit averages to well
 * under that. Handles and descriptors are counted between faults, when every
 * connection of the load and of the upstream pool is settled: the count varies
 * by one or two, and leaking even one socket per fault would add ten a minute.
 * Three minutes of warm-up let JIT code, the route cache (256 routes, churned
 * by the made-up tables) and the label sets fill.
 */
const LIMITS: Limits = { warmupMinutes: 3, heapMbPerMinute: 0.5, handlesPerMinute: 0.5 };

const MINUTE_MS = 60_000;
/** No fault starts this close to a sample: the longest (a session expiry) needs about 6 s to heal. */
const QUIET_BEFORE_SAMPLE_MS = 9000;
/** A request sent this long before a sample has had its answer (client timeout 1500 ms + 1000 ms margin). */
const SETTLED_MS = 3000;
const CLIENT_TIMEOUT_MS = 1500;
const SESSION_MS = 3000;
const ROOT = '/pegasus-soak';

interface Options {
  minutes: number;
  rate: number;
  faultEveryMs: number;
  warmup: number;
}

function parseOptions(argv: readonly string[]): Options {
  const options: Options = { minutes: 15, rate: 300, faultEveryMs: 5000, warmup: LIMITS.warmupMinutes };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = Number(argv[++i]);
    if (!Number.isFinite(value) || value <= 0) throw new Error(`${flag} needs a positive number, got ${argv[i] ?? 'nothing'}`);
    if (flag === '--minutes') options.minutes = Math.floor(value);
    else if (flag === '--rate') options.rate = value;
    else if (flag === '--fault-every-ms') options.faultEveryMs = value;
    else if (flag === '--warmup') options.warmup = Math.floor(value);
    else throw new Error(`unknown argument ${flag}; usage: npm run soak -- --minutes N [--rate R] [--fault-every-ms M] [--warmup W]`);
  }
  return options;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

const TABLES: Record<string, { appId: number; partitionCount: number }> = {};
const LOAD_TABLES: LoadTable[] = [];
for (let i = 0; i < 100; i++) {
  const name = `t${String(i).padStart(3, '0')}`;
  const table = { appId: i + 1, partitionCount: 4 + (i % 4) * 4 };
  TABLES[name] = table;
  LOAD_TABLES.push({ name, ...table });
}
/** Made-up names, more than the route cache holds: misses, evictions and ZooKeeper reads all run long. */
const MISSING = 1000;
const pick = (n: number): LoadTable =>
  n % 10 === 9 ? { name: `missing_${Math.floor(n / 10) % MISSING}`, appId: -1, partitionCount: 1 } : LOAD_TABLES[n % LOAD_TABLES.length]!;

/** Payloads no client sends; each must cost only its own connection. */
const HOSTILE: Array<[string, Buffer]> = [
  ['random bytes', Buffer.from('9f1c2e77a0b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5', 'hex')],
  ['an HTTP request', Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')],
  ['a 4 GiB v0 frame', Buffer.concat([Buffer.from('THFT'), Buffer.from('00000000000000300000000000000000ffffffff', 'hex'), Buffer.alloc(28)])],
  ['wrong version', Buffer.concat([Buffer.from('THFT'), Buffer.from('00000009', 'hex'), Buffer.alloc(40)])],
];

interface World {
  zk: ZkServer;
  relay: TcpRelay;
  clusters: SimCluster[];
  proxy: ProxyProcess;
  /** Where each table is routed now. */
  routes: Map<string, SimCluster>;
  problems: string[];
  /** Harness trouble that is not the proxy's: reported, never a failure. */
  notes: string[];
}

const routeTo = (cluster: SimCluster) => ({ cluster_name: cluster.name, meta_addrs: cluster.metas.join(',') });

interface Fault {
  name: string;
  run(world: World, round: number): Promise<void>;
}

const FAULTS: Fault[] = [
  {
    name: 'zookeeper restart',
    async run({ zk }) {
      await zk.stop();
      await sleep(2000);
      await zk.restart();
    },
  },
  {
    name: 'leader kill',
    async run({ clusters }, round) {
      const cluster = clusters[round % clusters.length]!;
      const leader = cluster.leader();
      await cluster.kill(leader);
      await sleep(300);
      cluster.setLeader((leader + 1) % cluster.metas.length);
      await sleep(1500);
      await cluster.restart(leader);
    },
  },
  {
    name: 'route switch',
    async run({ zk, clusters, routes }, round) {
      // Five tables hop among the three clusters every 250 ms and end where they
      // started (A or B): cluster C is named only during the switch, so its
      // connections are closed as unused between rounds and opened again.
      const moved = [0, 1, 2, 3, 4].map((k) => (round * 7 + k * 13) % LOAD_TABLES.length);
      for (let flip = 0; flip < 4; flip++) {
        for (const [k, index] of moved.entries()) {
          const home = clusters[index % 2]!;
          const target = flip === 3 ? home : clusters[(round + flip + k) % clusters.length]!;
          routes.set(LOAD_TABLES[index]!.name, target);
          await zk.set(`${ROOT}/${LOAD_TABLES[index]!.name}`, routeTo(target));
        }
        await sleep(250);
      }
    },
  },
  {
    name: 'silent leader',
    async run({ clusters }, round) {
      const cluster = clusters[round % 2]!;
      const leader = cluster.leader();
      cluster.setBehavior(leader, { mode: 'silent' });
      // Every other time leadership moves away from the silent meta, else it stays silent.
      if (round % 2 === 0) cluster.setLeader((leader + 1) % cluster.metas.length);
      await sleep(2000);
      cluster.setBehavior(leader, { mode: 'normal' });
    },
  },
  {
    name: 'session expiry',
    async run({ relay }) {
      relay.cut();
      await sleep(SESSION_MS + 1500);
      relay.heal();
      await sleep(1000);
    },
  },
  {
    name: 'hostile connections',
    async run({ proxy, problems }) {
      await Promise.all(
        HOSTILE.map(async ([what, bytes]) => {
          if (!(await closedByProxy(proxy.port, bytes, 5000))) problems.push(`A connection sending ${what} was not closed within 5 s.`);
        }),
      );
    },
  },
];

/** Sends `bytes` and resolves true once the proxy closes the connection. */
function closedByProxy(port: number, bytes: Buffer, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(false);
    }, timeoutMs);
    socket.on('error', () => undefined);
    socket.once('connect', () => socket.write(bytes));
    socket.resume();
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

interface Sample {
  /** Every active resource by type, for the results file. */
  resources: Record<string, number>;
  rssMb: number;
  heapMb: number;
  handles: number;
  fds: number;
  upstreamConnections: number;
}

async function sample(proxy: ProxyProcess): Promise<Sample> {
  const pid = proxy.child.pid!;
  const response = await fetch(`${adminUrl(proxy)}/debug/memory`);
  if (response.status !== 200) throw new Error(`/debug/memory answered ${response.status}: is the proxy running under --expose-gc?`);
  const memory = (await response.json()) as { heapUsedBytes: number; resources: Record<string, number> };
  // Sockets, servers and pipes: what a leak of connections leaves. Not timers (each request
  // in flight under the load holds its deadline, so they follow the moment's traffic; a
  // timer that leaks shows in the heap) nor the I/O requests in flight at that instant.
  const handles = Object.entries(memory.resources)
    .filter(([type]) => type !== 'Timeout' && type !== 'Immediate' && !/Req(Wrap|Callback)$/.test(type))
    .reduce((sum, [, n]) => sum + n, 0);
  const mib = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;
  return {
    rssMb: rssMb(pid),
    heapMb: mib(memory.heapUsedBytes),
    handles,
    fds: readdirSync(`/proc/${pid}/fd`).length,
    upstreamConnections: await metric(proxy, 'upstream_connection_count'),
    resources: memory.resources,
  };
}

function row(minute: number, summary: LoadSummary, faults: string[], measured: Sample): MinuteRow {
  const errors = Object.fromEntries(Object.entries(summary.codes).filter(([code]) => code !== 'ERR_OK'));
  return {
    minute,
    sent: summary.sent,
    answered: summary.answered,
    lost: summary.lost,
    duplicates: summary.duplicates,
    wrongTable: summary.wrongTable,
    late: summary.late,
    maxLatencyMs: summary.maxLatencyMs,
    errors,
    faults,
    ...measured,
  };
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  const limits = { ...LIMITS, warmupMinutes: options.warmup };
  const log = (text: string) => process.stdout.write(`${text}\n`);
  log(`soak: ${options.minutes} min, ${options.rate} requests/s over 8 connections, herds of 20 every 2 s, a fault every ${options.faultEveryMs} ms`);

  const cleanups: Array<() => Promise<unknown>> = [];
  try {
    return await soak(options, limits, cleanups, log);
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  }
}

async function soak(options: Options, limits: Limits, cleanups: Array<() => Promise<unknown>>, log: (text: string) => void): Promise<number> {
  const zk = await startZooKeeper();
  cleanups.push(() => zk.dispose());
  const relay = await startTcpRelay(zk.port);
  cleanups.push(() => relay.close());
  const clusters: SimCluster[] = [];
  cleanups.push(() => Promise.all(clusters.map((c) => c.close())));
  clusters.push(await startSimCluster({ name: 'A', metas: 3, leader: 0, tables: TABLES }));
  clusters.push(await startSimCluster({ name: 'B', metas: 3, leader: 0, tables: TABLES }));
  clusters.push(await startSimCluster({ name: 'C', metas: 2, leader: 0, tables: TABLES }));
  const routes = new Map<string, SimCluster>();
  for (const [i, table] of LOAD_TABLES.entries()) {
    const cluster = clusters[i % 2]!;
    routes.set(table.name, cluster);
    await zk.set(`${ROOT}/${table.name}`, routeTo(cluster));
  }
  const proxy = await startProxyProcess(
    {
      zookeeper: { address: [`127.0.0.1:${relay.port}`], root: ROOT, timeout: SESSION_MS, table_watcher_cache_capacity: 256 },
      metric: { type: 'prometheus' },
      server: { listen: '127.0.0.1:0', partial_frame_timeout_ms: 1000, drain_timeout_ms: 2000 },
      admin: { listen: '127.0.0.1:0' },
      upstream: {
        backup_request_delay_ms: 300,
        retry_delay_ms: 100,
        connect_timeout_ms: 500,
        default_timeout_ms: CLIENT_TIMEOUT_MS,
        // Cluster C is named only now and then: its connections come and go.
        idle_close_ms: 20_000,
      },
    },
    { nodeArgs: ['--expose-gc'], timeoutMs: 30_000 },
  );
  cleanups.push(() => proxy.stop('SIGKILL'));
  const world: World = { zk, relay, clusters, proxy, routes, problems: [], notes: [] };
  const load = startLoad({
    port: proxy.port,
    connections: 8,
    ratePerSecond: options.rate,
    timeoutMs: CLIENT_TIMEOUT_MS,
    pick,
    herd: { everyMs: 2000, size: 20 },
  });
  await load.ready;
  const startedAt = performance.now();
  const rows: MinuteRow[] = [];
  let cut = startedAt;
  let previousCut = startedAt;
  let round = 0;
  let verdictText = '';
  let ok = false;
  try {
    for (let minute = 1; minute <= options.minutes; minute++) {
      const minuteEnd = startedAt + minute * MINUTE_MS;
      const faults: string[] = [];
      while (performance.now() < minuteEnd - QUIET_BEFORE_SAMPLE_MS) {
        const fault = FAULTS[round % FAULTS.length]!;
        const faultStarted = performance.now();
        try {
          await fault.run(world, Math.floor(round / FAULTS.length));
        } catch (error) {
          // The harness's own trouble (its ZooKeeper client refused right after a restart):
          // noted, and the run goes on; what the proxy did is judged as always.
          const note = `minute ${minute}: "${fault.name}" could not be completed by the harness: ${(error as Error).message}`;
          world.notes.push(note);
          log(note);
        }
        round++;
        faults.push(fault.name);
        if (proxy.child.exitCode !== null || proxy.child.signalCode !== null) throw new Error(`the proxy exited during "${fault.name}"`);
        await sleep(Math.max(faultStarted + options.faultEveryMs, performance.now() + 1000) - performance.now());
      }
      await sleep(minuteEnd - performance.now());
      const measured = await sample(proxy);
      const nextCut = performance.now() - SETTLED_MS;
      rows.push(row(minute, load.window(cut, nextCut), faults, measured));
      // Kept one minute longer than judged, so a late duplicate still finds its request.
      load.forget(previousCut);
      previousCut = cut;
      cut = nextCut;
      const r = rows.at(-1)!;
      log(
        `minute ${minute}: sent ${r.sent}, lost ${r.lost}, dup ${r.duplicates}, late ${r.late}, RSS ${r.rssMb} MiB, heap ${r.heapMb} MiB, handles ${r.handles}, fds ${r.fds}, faults ${faults.length}`,
      );
    }
  } catch (error) {
    world.problems.push(`The run stopped: ${(error as Error).message}`);
  } finally {
    const rest = await load.stop();
    const tail = load.window(cut, Number.POSITIVE_INFINITY);
    const last = rows.at(-1);
    if (last !== undefined) {
      last.sent += tail.sent;
      last.answered += tail.answered;
      last.lost += tail.lost;
      last.duplicates += tail.duplicates;
      last.wrongTable += tail.wrongTable;
      last.late += tail.late;
    }
    if (rest.unknownSeqids > 0) world.problems.push(`${rest.unknownSeqids} answer(s) came with a seqid no request had.`);
    if (rest.connectionsClosed > 0) world.problems.push(`The proxy closed ${rest.connectionsClosed} well-behaved load connection(s).`);
    const escaped = proxy.logs.filter((entry) => entry['level'] === 'fatal' || entry['msg'] === 'unhandled error in a stream');
    if (escaped.length > 0) world.problems.push(`The proxy logged ${escaped.length} fatal or escaped error(s): ${JSON.stringify(escaped[0])}`);
    const alive = proxy.child.exitCode === null && proxy.child.signalCode === null;
    if (!alive) world.problems.push('The proxy is not running at the end.');
    const code = await proxy.stop('SIGTERM');
    if (alive && code !== 0) world.problems.push(`The proxy exited ${code} on SIGTERM, not 0.`);

    const verdict = judge(rows, limits);
    const failures = [...verdict.failures, ...world.problems];
    ok = failures.length === 0;
    const slope = (v: number | undefined, unit: string) => (v === undefined ? 'n/a (too short)' : `${v.toFixed(3)} ${unit}/min`);
    verdictText = [
      minuteTable(rows),
      '',
      `After ${limits.warmupMinutes} min of warm-up: heap ${slope(verdict.heapSlope, 'MiB')} (limit ${limits.heapMbPerMinute}), ` +
        `handles ${slope(verdict.handleSlope, '')} (limit ${limits.handlesPerMinute}), fds ${slope(verdict.fdSlope, '')} (limit ${limits.handlesPerMinute}).`,
      ...(world.notes.length > 0 ? [`Harness notes (not failures):\n${world.notes.map((n) => `  - ${n}`).join('\n')}`] : []),
      ok ? 'soak: PASSED' : `soak: FAILED\n${failures.map((f) => `  - ${f}`).join('\n')}`,
    ].join('\n');
    const resultsFile = process.env['SOAK_RESULTS'] ?? join(tmpdir(), 'meta-proxy-soak.json');
    writeFileSync(resultsFile, `${JSON.stringify({ options, limits, rows, verdict, problems: world.problems, notes: world.notes, at: new Date().toISOString() }, null, 2)}\n`);
    log(`\n${verdictText}\n(rows also in ${resultsFile})`);
  }
  return ok ? 0 : 1;
}

// Anything not cleaned up (a helper's reconnect timer) must not keep a finished run alive.
main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`soak: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
