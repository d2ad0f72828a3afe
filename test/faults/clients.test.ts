/**
 * Hostile and careless clients against the proxy process, each while a
 * steady load of well-behaved clients runs: garbage, truncated and oversized
 * frames, a slowloris, a client that never reads, a connection flood, and
 * clients that leave with requests in flight. What they send costs only their
 * own connection; the load sees every request answered, in time.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dump } from 'js-yaml';
import { startSimCluster, type SimCluster } from '../../sim/cluster.js';
import { startProxyProcess, type ProxyProcess } from '../support/proxyProcess.js';
import { TestClient, queryConfigArgs, queryFrame, requestBody, v0Frame } from '../support/pegasusClient.js';
import { expectAccounted, markdownTable, metric, rssMb, runFault, sleep, type FaultRow } from './harness.js';
import type { LoadTable } from './load.js';

const TEMP: LoadTable = { name: 'temp', appId: 2, partitionCount: 8 };
const OTHER: LoadTable = { name: 'other', appId: 3, partitionCount: 4 };
/** Asked only by the client that never reads, so its request count is its own. */
const PILED: LoadTable = { name: 'piled', appId: 4, partitionCount: 4 };
const LOAD = { tables: [TEMP, OTHER], connections: 4, ratePerSecond: 300, timeoutMs: 1500 };
const PARTIAL_FRAME_TIMEOUT_MS = 1000;
const MAX_CONNECTIONS = 1000;
const MAX_PENDING_CALLS = 200;
const DRAIN_TIMEOUT_MS = 1000;

let a: SimCluster;
/** A cluster of its own for the requests abandoned in flight, so the load never shares its calls. */
let s: SimCluster;
let proxy: ProxyProcess;
const rows: FaultRow[] = [];

const route = (cluster: SimCluster) => ({ cluster_name: cluster.name, meta_addrs: cluster.metas.join(',') });

beforeAll(async () => {
  a = await startSimCluster({ name: 'A', metas: 3, leader: 0, tables: { temp: TEMP, other: OTHER, piled: PILED } });
  s = await startSimCluster({ name: 'S', metas: 3, leader: 0, tables: { slowtable: { appId: 9, partitionCount: 1024 } } });
  const dir = mkdtempSync(join(tmpdir(), 'meta-proxy-faults-'));
  const routes = join(dir, 'routes.yaml');
  writeFileSync(routes, dump({ temp: route(a), other: route(a), piled: route(a), slowtable: route(s) }));
  proxy = await startProxyProcess({
    registry: { file: routes },
    metric: { type: 'prometheus' },
    server: {
      listen: '127.0.0.1:0',
      partial_frame_timeout_ms: PARTIAL_FRAME_TIMEOUT_MS,
      max_connections: MAX_CONNECTIONS,
      drain_timeout_ms: DRAIN_TIMEOUT_MS,
    },
    admin: { listen: '127.0.0.1:0' },
    upstream: {
      backup_request_delay_ms: 300,
      retry_delay_ms: 100,
      connect_timeout_ms: 500,
      default_timeout_ms: 1500,
      max_pending_calls: MAX_PENDING_CALLS,
    },
  });
}, 60_000);

afterAll(async () => {
  if (rows.length > 0) console.log(`\n${markdownTable(rows)}\n`);
  await proxy?.stop('SIGKILL');
  await a?.close();
  await s?.close();
});

interface HostileOutcome {
  /** Milliseconds from the first byte sent to the proxy closing the connection; Infinity if it did not. */
  closedAfterMs: number;
  /** The same, from the last byte sent. */
  closedAfterLastByteMs: number;
  /** Reply bytes the proxy sent before closing. */
  received: number;
}

/**
 * Connects and sends `payload` (in `pieces`, `gapMs` apart, until the proxy
 * closes), optionally ends its side, and waits up to `waitMs` after the last
 * byte for the proxy to close the connection.
 */
function hostile(payload: Buffer, options: { end?: boolean; waitMs?: number; pieces?: number; gapMs?: number } = {}): Promise<HostileOutcome> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port: proxy.port });
    let received = 0;
    let firstByteAt = 0;
    let lastByteAt = 0;
    let timer: NodeJS.Timeout | undefined;
    socket.on('data', (chunk: Buffer) => (received += chunk.length));
    socket.on('error', () => undefined);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve({ closedAfterMs: Date.now() - firstByteAt, closedAfterLastByteMs: Date.now() - lastByteAt, received });
    });
    socket.once('connect', () => {
      firstByteAt = Date.now();
      lastByteAt = firstByteAt;
      const pieces = options.pieces ?? 1;
      const size = Math.max(1, Math.ceil(payload.length / pieces));
      let at = 0;
      const next = (): void => {
        if (socket.destroyed) return;
        if (at < payload.length) {
          socket.write(payload.subarray(at, at + size));
          lastByteAt = Date.now();
          at += size;
          if (at < payload.length) {
            setTimeout(next, options.gapMs ?? 0);
            return;
          }
        }
        if (options.end) socket.end();
        timer = setTimeout(() => {
          socket.destroy();
          resolve({ closedAfterMs: Infinity, closedAfterLastByteMs: Infinity, received });
        }, options.waitMs ?? 3000);
      };
      next();
    });
  });
}

function u32(...values: number[]): Buffer {
  const b = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => b.writeUInt32BE(v >>> 0, i * 4));
  return b;
}

const MAGIC = Buffer.from('THFT');
const good = queryFrame('temp', 1, { version: 0 });

/** Frames no proxy may accept, each closing the connection that sent it. */
const HOSTILE: Record<string, Buffer> = {
  'random bytes': randomBytes(4096),
  'HTTP request': Buffer.from('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n'),
  'wrong magic': Buffer.concat([Buffer.from('THFX'), good.subarray(4)]),
  'wrong version': Buffer.concat([MAGIC, u32(2), good.subarray(8)]),
  'v0 header length 47': Buffer.concat([MAGIC, u32(0, 47), good.subarray(12)]),
  'v0 body length 4 GiB - 1': Buffer.concat([MAGIC, u32(0, 48, 0, 0xffffffff), Buffer.alloc(28)]),
  'v1 meta length 4 GiB - 1': Buffer.concat([MAGIC, u32(1, 0xffffffff, 16)]),
  'v1 body length 4 GiB - 1': Buffer.concat([MAGIC, u32(1, 1, 0xffffffff), Buffer.alloc(1)]),
  'v1 meta garbage': Buffer.concat([MAGIC, u32(1, 8, 4), Buffer.from('ffffffffffffffff', 'hex'), Buffer.alloc(4)]),
  'body cut inside the message begin': v0Frame(Buffer.from('80010001000000ff5250', 'hex')),
  'RPC name of 100 000 bytes': v0Frame(requestBody('R'.repeat(100_000), 7, queryConfigArgs('temp'))),
  'RPC name length 2^31 - 1': v0Frame(Buffer.concat([u32(0x80010001, 0x7fffffff), Buffer.from('RPC')])),
  'message type EXCEPTION': v0Frame(Buffer.concat([u32(0x80010003, 3), Buffer.from('RPC'), u32(1)])),
};

describe('hostile bytes cost only the connection that sent them', () => {
  it('closes each connection that sends garbage, oversized or malformed frames', async () => {
    const outcomes: Record<string, HostileOutcome> = {};
    const row = await runFault({
      fault: `hostile frames (${Object.keys(HOSTILE).length} kinds × 10 connections)`,
      proxy,
      load: LOAD,
      inject: async () => {
        await Promise.all(
          Object.entries(HOSTILE).flatMap(([name, payload]) =>
            Array.from({ length: 10 }, async (_, i) => {
              const outcome = await hostile(name === 'random bytes' ? randomBytes(1 + ((i * 997) % 4096)) : payload);
              if (i === 0 || outcome.closedAfterMs > (outcomes[name]?.closedAfterMs ?? -1)) outcomes[name] = outcome;
            }),
          ),
        );
      },
    });
    rows.push(row);
    expectAccounted(row, ['ERR_OK']);
    for (const [name, outcome] of Object.entries(outcomes)) {
      // Closed at once, or for random bytes that happen to look like a frame's start, by the partial-frame timer.
      const bound = name === 'random bytes' ? PARTIAL_FRAME_TIMEOUT_MS + 1000 : 500;
      expect(outcome.closedAfterMs, name).toBeLessThan(bound);
      expect(outcome.received, name).toBe(0);
    }
  });

  it('closes a connection whose client ends its side in the middle of a frame', async () => {
    const whole = Buffer.concat([queryFrame('temp', 1), queryFrame('temp', 2)]);
    const cut = whole.subarray(0, good.length + 30);
    let outcome: HostileOutcome | undefined;
    const row = await runFault({
      fault: 'truncated frame, then FIN',
      proxy,
      load: LOAD,
      inject: async () => {
        outcome = await hostile(cut, { end: true });
      },
    });
    rows.push(row);
    expectAccounted(row, ['ERR_OK']);
    expect(outcome!.closedAfterMs).toBeLessThan(500);
  });

  it('closes a slowloris that holds half a frame past server.partial_frame_timeout_ms', async () => {
    let stalled: HostileOutcome | undefined;
    let dribbler: HostileOutcome | undefined;
    let idle: HostileOutcome | undefined;
    const row = await runFault({
      fault: `slowloris (half a frame; 1 byte/100 ms then stall), timeout ${PARTIAL_FRAME_TIMEOUT_MS} ms`,
      proxy,
      load: LOAD,
      inject: async () => {
        [stalled, dribbler, idle] = await Promise.all([
          hostile(good.subarray(0, 30)),
          // A byte every 100 ms for 1.5 s, then nothing: kept while it makes progress, closed once it stalls.
          hostile(good.subarray(0, 16), { pieces: 16, gapMs: 100 }),
          // Connected, sends nothing: idle clients are kept (the Go client redials once a minute).
          hostile(Buffer.alloc(0), { waitMs: PARTIAL_FRAME_TIMEOUT_MS + 1000 }),
        ]);
      },
    });
    rows.push(row);
    expectAccounted(row, ['ERR_OK']);
    expect(stalled!.closedAfterMs).toBeGreaterThan(PARTIAL_FRAME_TIMEOUT_MS - 100);
    expect(stalled!.closedAfterMs).toBeLessThan(PARTIAL_FRAME_TIMEOUT_MS + 1000);
    // The timeout measures idleness: each byte was progress, the stall after the last one was not.
    expect(dribbler!.closedAfterMs).toBeGreaterThan(1500);
    expect(dribbler!.closedAfterLastByteMs).toBeGreaterThan(PARTIAL_FRAME_TIMEOUT_MS - 100);
    expect(dribbler!.closedAfterLastByteMs).toBeLessThan(PARTIAL_FRAME_TIMEOUT_MS + 1000);
    expect(idle!.closedAfterMs).toBe(Infinity);
  });

  it('stops reading from a client that never reads its replies, and keeps serving the others', async () => {
    const sent = 400_000;
    let read = 0;
    let rssGrowthMb = 0;
    const row = await runFault({
      fault: `client pipelines ${sent / 1000}k requests, never reads`,
      proxy,
      load: LOAD,
      inject: async () => {
        const before = rssMb(proxy.child.pid!);
        const socket = net.connect({ host: '127.0.0.1', port: proxy.port });
        socket.on('error', () => undefined);
        await new Promise((r) => socket.once('connect', r));
        // Never attaching a 'data' listener: the replies pile up in the socket buffers.
        // 40 MB: more than the kernel's socket buffers on both sides can hold.
        const frame = queryFrame('piled', 7, { version: 0 });
        socket.write(Buffer.concat(Array.from({ length: sent }, () => frame)));
        await sleep(2500);
        read = await metric(proxy, 'client_query_config_count', { table: 'piled' });
        rssGrowthMb = rssMb(proxy.child.pid!) - before;
        socket.destroy();
      },
    });
    rows.push(row);
    expectAccounted(row, ['ERR_OK']);
    // The proxy stopped reading long before the end of what was sent.
    expect(read).toBeGreaterThan(0);
    expect(read).toBeLessThan(sent / 2);
    expect(rssGrowthMb).toBeLessThan(64);
  });

  it(`refuses connections beyond server.max_connections (${MAX_CONNECTIONS}) when 10 000 open at once`, async () => {
    // The test process needs a descriptor per socket; the proxy refuses beyond its own limit.
    const limit = Number(execFileSync('/bin/sh', ['-c', 'ulimit -n']).toString().trim());
    const count = Number.isFinite(limit) ? Math.min(10_000, limit - 1000) : 10_000;
    if (count < 10_000) console.warn(`ulimit -n is ${limit}: opening ${count} connections instead of 10 000`);
    let open = 0;
    let refused = 0;
    const row = await runFault({
      fault: `${count} connections at once (max_connections ${MAX_CONNECTIONS})`,
      proxy,
      load: LOAD,
      inject: async () => {
        const sockets: net.Socket[] = [];
        const settled = await Promise.all(
          Array.from(
            { length: count },
            () =>
              new Promise<net.Socket | undefined>((resolve) => {
                const socket = net.connect({ host: '127.0.0.1', port: proxy.port });
                sockets.push(socket);
                socket.on('error', () => resolve(undefined));
                socket.once('close', () => resolve(undefined));
                socket.once('connect', () => setTimeout(() => resolve(socket.destroyed ? undefined : socket), 1000));
              }),
          ),
        );
        open = await metric(proxy, 'client_connection_count');
        refused = settled.filter((x) => x === undefined || x.destroyed).length;
        for (const socket of sockets) socket.destroy();
      },
    });
    rows.push(row);
    expectAccounted(row, ['ERR_OK']);
    // The proxy's own count; the load's four connections are among them.
    expect(open).toBeLessThanOrEqual(MAX_CONNECTIONS);
    expect(open).toBeGreaterThan(MAX_CONNECTIONS / 2);
    expect(refused).toBeGreaterThan(0);
    // The refusals must not flood the log: one line per refused connection would.
    const refusalLines = proxy.logs.filter((entry) => String(entry['msg']).startsWith('connection refused')).length;
    expect(refusalLines).toBeLessThan(50);
  }, 60_000);

  it('cancels the upstream calls of a client that leaves with requests in flight', async () => {
    const followersBefore = s.requestCount(1) + s.requestCount(2);
    const leaderBefore = s.requestCount(0);
    const rounds = 3;
    const perRound = 150;
    const row = await runFault({
      fault: `${rounds} × ${perRound} requests in flight, client closes`,
      proxy,
      load: LOAD,
      inject: async () => {
        s.setBehavior(0, { mode: 'silent' });
        for (let round = 0; round < rounds; round++) {
          const c = await TestClient.connect(proxy.port);
          // Distinct partitions: no two requests share an upstream call.
          for (let i = 0; i < perRound; i++) c.send(queryFrame('slowtable', i, { indices: [round * perRound + i] }));
          await sleep(100);
          c.close();
        }
        // Past the 300 ms backup delay: calls that were not cancelled would now ask the followers.
        await sleep(600);
        s.setBehavior(0, { mode: 'normal' });
      },
    });
    rows.push(row);
    expectAccounted(row, ['ERR_OK']);
    expect(s.requestCount(0) - leaderBefore).toBe(rounds * perRound);
    expect(s.requestCount(1) + s.requestCount(2) - followersBefore).toBe(0);
    // 450 abandoned calls against a pending limit of 200: had they stayed pending, this one would be refused.
    const c = await TestClient.connect(proxy.port);
    try {
      const startedAt = Date.now();
      const reply = await c.query('slowtable', 1, { indices: [1000], timeoutMs: 1500 });
      expect(reply.err).toBe('ERR_OK');
      expect(Date.now() - startedAt).toBeLessThan(300);
    } finally {
      c.close();
    }
  });

  it('bounds requests in flight per connection and calls pending per meta, answering every request once', async () => {
    const burst = 800;
    // One answered query first: a table's request count shows on /metrics once it has had an answer.
    const first = await TestClient.connect(proxy.port);
    expect((await first.query('slowtable', 1, { indices: [999] })).err).toBe('ERR_OK');
    first.close();
    const leaderBefore = s.requestCount(0);
    const readBefore = await metric(proxy, 'client_query_config_count', { table: 'slowtable' });
    let c: TestClient | undefined;
    let leaderCalls = 0;
    let inFlight = 0;
    const row = await runFault({
      fault: `one connection sends ${burst} requests at once to a silent meta`,
      proxy,
      load: LOAD,
      inject: async () => {
        s.setBehavior(0, { mode: 'silent' });
        c = await TestClient.connect(proxy.port);
        const frames = Array.from({ length: burst }, (_, i) => queryFrame('slowtable', i, { indices: [i], timeoutMs: 1000 }));
        c.send(Buffer.concat(frames));
        // Halfway to the requests' 1 s deadline nothing has ended yet but the ERR_BUSY answers.
        await sleep(500);
        leaderCalls = s.requestCount(0) - leaderBefore;
        inFlight = (await metric(proxy, 'client_query_config_count', { table: 'slowtable' })) - readBefore - c.replies.length;
        const until = Date.now() + 8000;
        while (c.replies.length < burst && Date.now() < until) await sleep(50);
        s.setBehavior(0, { mode: 'normal' });
      },
    });
    rows.push(row);
    expectAccounted(row, ['ERR_OK']);
    const bySeqid = new Map<number, number>();
    for (const reply of c!.replies) bySeqid.set(reply.seqid, (bySeqid.get(reply.seqid) ?? 0) + 1);
    c!.close();
    expect(bySeqid.size).toBe(burst);
    expect([...bySeqid.values()].every((n) => n === 1)).toBe(true);
    const codes = new Set(c!.replies.map((reply) => reply.err));
    for (const code of codes) expect(['ERR_TIMEOUT', 'ERR_BUSY', 'ERR_NETWORK_FAILURE']).toContain(code);
    // No more calls pending at the meta than upstream.max_pending_calls, no more requests
    // in flight on the connection than twice server.max_in_flight_per_connection (default 256).
    expect(leaderCalls).toBeGreaterThan(0);
    expect(leaderCalls).toBeLessThanOrEqual(MAX_PENDING_CALLS);
    expect(inFlight).toBeGreaterThan(0);
    expect(inFlight).toBeLessThanOrEqual(2 * 256);
  });

  // Last: it stops the proxy.
  it(`on SIGTERM waits for requests stuck at a silent meta no longer than server.drain_timeout_ms`, async () => {
    s.setBehavior(0, { mode: 'silent' });
    const c = await TestClient.connect(proxy.port);
    try {
      // A 10 s client budget: only the drain time can end these early.
      for (let i = 0; i < 5; i++) c.send(queryFrame('slowtable', 100 + i, { indices: [900 + i], timeoutMs: 10_000 }));
      await sleep(200);
      const signalledAt = Date.now();
      const code = await proxy.stop('SIGTERM');
      const tookMs = Date.now() - signalledAt;
      expect(code).toBe(0);
      expect(tookMs).toBeGreaterThan(DRAIN_TIMEOUT_MS - 100);
      expect(tookMs).toBeLessThan(DRAIN_TIMEOUT_MS + 2000);
      expect(proxy.logs.some((entry) => entry['msg'] === 'drain time over: closing connections with requests still in flight')).toBe(true);
    } finally {
      c.close();
      s.setBehavior(0, { mode: 'normal' });
    }
  });
});
