import net from 'node:net';
import { Worker } from 'node:worker_threads';
import { firstValueFrom, lastValueFrom, toArray, merge, type Observable } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { UpstreamError } from '../../src/errors.js';
import { createUpstreamPool, type UpstreamPool, type UpstreamPoolOptions } from '../../src/io/upstream.js';
import type { MetaAnswer, MetaRequest } from '../../src/model/upstream.js';
import { startSimCluster, type SimCluster } from '../../sim/cluster.js';
import { decodeQueryConfigReply } from '../../sim/decode.js';
import { queryConfigOk, stamp } from '../../sim/replies.js';
import { queryConfigArgs } from '../../sim/wire.js';

const QUERY = 'RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX';
const TABLES = { temp: { appId: 2, partitionCount: 8 }, other: { appId: 5, partitionCount: 64 } };

const open: { clusters: SimCluster[]; pools: UpstreamPool[]; servers: net.Server[] } = { clusters: [], pools: [], servers: [] };

afterEach(async () => {
  for (const p of open.pools.splice(0)) p.close();
  for (const s of open.servers.splice(0)) s.close();
  await Promise.all(open.clusters.splice(0).map((c) => c.close()));
});

async function sim(hostPort = false): Promise<SimCluster> {
  const c = await startSimCluster({ name: 'A', tables: TABLES, hostPort });
  open.clusters.push(c);
  return c;
}

function pool(o: Partial<UpstreamPoolOptions> = {}): UpstreamPool {
  const p = createUpstreamPool({ connectTimeoutMs: 500, maxPendingCalls: 1000, ...o });
  open.pools.push(p);
  return p;
}

function query(table: string, indices?: number[], timeoutMs = 1000): MetaRequest {
  return { name: QUERY, args: queryConfigArgs(table, indices), timeoutMs };
}

function failure(o: Observable<unknown>): Promise<UpstreamError> {
  return firstValueFrom(o).then(
    () => {
      throw new Error('expected the call to fail');
    },
    (e: unknown) => e as UpstreamError,
  );
}

describe('upstream pool', () => {
  it('relays a 2.6-style reply byte for byte, with the budget in the request header', async () => {
    const c = await sim(true);
    const p = pool();
    const a = await firstValueFrom(p.call(c.metas[0]!, query('temp', [1, 6], 777)));
    expect(a.meta).toBe(c.metas[0]);
    expect(a.reply).toMatchObject({ headerError: 'ERR_OK', name: `${QUERY}_ACK`, bodyError: 'ERR_OK' });
    // Exactly the bytes the simulator wrote for this query, under the pool's seqid.
    const written = stamp(queryConfigOk('A', TABLES.temp, [1, 6], true), a.reply.seqid);
    expect(a.frame.equals(written)).toBe(true);
    expect(decodeQueryConfigReply(a.frame).body!.partitions[0]!.hpPrimary).toBe('replica1.A.sim:34802');
    expect(c.lastRequest(0)).toMatchObject({ name: QUERY, version: 0, clientTimeoutMs: 777 });
  });

  it('matches 200 concurrent calls over one connection to their callers', async () => {
    const c = await sim();
    const p = pool();
    const asks = Array.from({ length: 200 }, (_, i) => ({ table: i % 2 ? 'other' : 'temp', index: i % 2 ? i % 64 : i % 8 }));
    const answers = await Promise.all(asks.map((q) => firstValueFrom(p.call(c.metas[0]!, query(q.table, [q.index])))));
    answers.forEach((a, i) => {
      const body = decodeQueryConfigReply(a.frame).body!;
      expect(body.appId).toBe(asks[i]!.table === 'other' ? 5 : 2);
      expect(body.partitions.map((x) => x.partitionIndex)).toEqual([asks[i]!.index]);
    });
    expect(new Set(answers.map((a) => a.reply.seqid)).size).toBe(200);
    expect(c.connectionCount(0)).toBe(1);
    expect(p.stats()).toEqual([
      { meta: c.metas[0], state: 'open', pending: 0, queued: 0, calls: 200, answers: 200, failures: 0, connects: 1 },
    ]);
  });

  it('fails every pending call at once when the connection drops; the next call reconnects', async () => {
    const c = await sim();
    const p = pool();
    await firstValueFrom(p.call(c.metas[0]!, query('temp')));
    c.setBehavior(0, { mode: 'silent' });
    const calls = Array.from({ length: 5 }, () => failure(p.call(c.metas[0]!, query('temp'))));
    await new Promise((r) => setTimeout(r, 30));
    expect(p.stats()[0]!.pending).toBe(5);
    const t0 = performance.now();
    await c.kill(0);
    const errors = await Promise.all(calls);
    expect(performance.now() - t0).toBeLessThan(500);
    for (const e of errors) expect(e).toMatchObject({ kind: 'closed', meta: c.metas[0] });
    await c.restart(0);
    c.setBehavior(0, { mode: 'normal' });
    const again = await firstValueFrom(p.call(c.metas[0]!, query('temp')));
    expect(again.reply.bodyError).toBe('ERR_OK');
    expect(p.stats()[0]).toMatchObject({ connects: 2, failures: 5, pending: 0 });
  });

  it('fails fast during the backoff after a refused connect, then tries again', async () => {
    const c = await sim();
    await c.kill(1);
    const p = pool({ reconnectBackoff: { initialMs: 150, maxMs: 1000 } });
    const first = await failure(p.call(c.metas[1]!, query('temp')));
    expect(first).toMatchObject({ kind: 'connect' });
    expect(first.message).toMatch(/ECONNREFUSED/);
    await c.restart(1);
    // Still inside the backoff: refused without a connect attempt.
    const fast = await failure(p.call(c.metas[1]!, query('temp')));
    expect(fast.message).toMatch(/next connect attempt in \d+ ms/);
    expect(c.connectionCount(1)).toBe(0);
    expect(p.stats()[0]!.state).toBe('backoff');
    await new Promise((r) => setTimeout(r, 170));
    const ok = await firstValueFrom(p.call(c.metas[1]!, query('temp')));
    expect(ok.reply.bodyError).toBe('ERR_FORWARD_TO_OTHERS');
    expect(ok.reply.forward).toBe(c.metas[0]);
    expect(c.connectionCount(1)).toBe(1);
  });

  it('queues calls made while connecting and flushes them on connect', async () => {
    const c = await sim();
    const p = pool();
    const calls = [p.call(c.metas[0]!, query('temp', [0])), p.call(c.metas[0]!, query('temp', [1])), p.call(c.metas[0]!, query('temp', [2]))];
    const dropped = p.call(c.metas[0]!, query('temp', [3])).subscribe();
    const answers = lastValueFrom(merge(...calls).pipe(toArray()));
    expect(p.stats()[0]).toMatchObject({ state: 'connecting', queued: 4, pending: 4 });
    dropped.unsubscribe();
    expect(p.stats()[0]).toMatchObject({ queued: 3, pending: 3 });
    const got = (await answers).map((a) => decodeQueryConfigReply(a.frame).body!.partitions[0]!.partitionIndex).sort();
    expect(got).toEqual([0, 1, 2]);
    expect(c.requestCount(0)).toBe(3);
    expect(c.connectionCount(0)).toBe(1);
  });

  it('forgets a call on unsubscribe and drops its late answer', async () => {
    const c = await sim();
    const p = pool();
    c.setBehavior(0, { mode: 'slow', delayMs: 50 });
    const seen: MetaAnswer[] = [];
    const sub = p.call(c.metas[0]!, query('temp')).subscribe((a) => seen.push(a));
    await new Promise((r) => setTimeout(r, 20));
    expect(p.stats()[0]!.pending).toBe(1);
    sub.unsubscribe();
    expect(p.stats()[0]!.pending).toBe(0);
    const next = await firstValueFrom(p.call(c.metas[0]!, query('other', [3])));
    expect(decodeQueryConfigReply(next.frame).body!.appId).toBe(5);
    expect(seen).toEqual([]);
    expect(p.stats()[0]).toMatchObject({ answers: 1, state: 'open' });
  });

  it('rejects calls above maxPendingCalls as overloaded', async () => {
    const c = await sim();
    c.setBehavior(0, { mode: 'silent' });
    const p = pool({ maxPendingCalls: 2 });
    const subs = [p.call(c.metas[0]!, query('temp')).subscribe({ error: () => {} }), p.call(c.metas[0]!, query('temp')).subscribe({ error: () => {} })];
    const third = await failure(p.call(c.metas[0]!, query('temp')));
    expect(third).toMatchObject({ kind: 'overloaded' });
    subs[0]!.unsubscribe();
    const fourth = p.call(c.metas[0]!, query('temp')).subscribe({ error: () => {} });
    expect(p.stats()[0]!.pending).toBe(2);
    fourth.unsubscribe();
    subs[1]!.unsubscribe();
  });

  it('closes the connection on garbage and fails its calls; a reply cut in half fails as closed', async () => {
    const c = await sim();
    const p = pool();
    c.setBehavior(0, { mode: 'garbage' });
    const bad = await failure(p.call(c.metas[0]!, query('temp')));
    expect(bad).toMatchObject({ kind: 'protocol' });
    c.setBehavior(0, { mode: 'close-mid-reply' });
    const cut = await failure(p.call(c.metas[0]!, query('temp')));
    expect(cut).toMatchObject({ kind: 'closed' });
    c.setBehavior(0, { mode: 'normal' });
    expect((await firstValueFrom(p.call(c.metas[0]!, query('temp')))).reply.bodyError).toBe('ERR_OK');
    expect(c.connectionCount(0)).toBe(3);
  });

  it('splits replies however the bytes are chunked', async () => {
    // A meta that answers two calls with one write split at odd places, one byte at a time for the head.
    const server = net.createServer((s) => {
      s.setNoDelay(true);
      let got = Buffer.alloc(0);
      s.on('data', (chunk: Buffer) => {
        got = Buffer.concat([got, chunk]);
        const seqids: number[] = [];
        let off = 0;
        while (got.length - off >= 48 && got.length - off >= 48 + got.readUInt32BE(off + 16)) {
          const len = 48 + got.readUInt32BE(off + 16);
          const body = got.subarray(off + 48, off + len);
          seqids.push(body.readInt32BE(8 + body.readUInt32BE(4)));
          off += len;
        }
        got = got.subarray(off);
        if (seqids.length < 2) return;
        const bytes = Buffer.concat(seqids.map((q, i) => stamp(queryConfigOk('A', TABLES.temp, [i], false), q)));
        let at = 0;
        const drip = () => {
          if (s.destroyed) return;
          if (at >= bytes.length) return;
          const n = at < 10 ? 1 : 37;
          s.write(bytes.subarray(at, at + n));
          at += n;
          setImmediate(drip);
        };
        drip();
      });
    });
    open.servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const meta = `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
    const p = pool();
    const [a, b] = await Promise.all([firstValueFrom(p.call(meta, query('temp'))), firstValueFrom(p.call(meta, query('temp')))]);
    expect(decodeQueryConfigReply(a!.frame).body!.partitions[0]!.partitionIndex).toBe(0);
    expect(decodeQueryConfigReply(b!.frame).body!.partitions[0]!.partitionIndex).toBe(1);
  });

  it('resolves host names', async () => {
    const c = await sim();
    const p = pool();
    const meta = c.metas[0]!.replace('127.0.0.1', 'localhost');
    const a = await firstValueFrom(p.call(meta, query('temp')));
    expect(a.meta).toBe(meta);
    expect(a.reply.bodyError).toBe('ERR_OK');
  });

  it('fails a bad address, and every call once closed', async () => {
    const c = await sim();
    const p = pool();
    expect(await failure(p.call('no-port', query('temp')))).toMatchObject({ kind: 'connect' });
    c.setBehavior(0, { mode: 'silent' });
    const pending = failure(p.call(c.metas[0]!, query('temp')));
    await new Promise((r) => setTimeout(r, 20));
    p.close();
    expect(await pending).toMatchObject({ kind: 'closed' });
    expect(await failure(p.call(c.metas[0]!, query('temp')))).toMatchObject({ kind: 'closed' });
    expect(await failure(p.call(c.metas[1]!, query('temp')))).toMatchObject({ kind: 'closed' });
  });

  it('times a hanging connect out', async () => {
    // A listener whose thread is blocked never accepts: once its backlog is
    // full the kernel drops further SYNs, so a new connect hangs.
    const flag = new Int32Array(new SharedArrayBuffer(4));
    const worker = new Worker(
      `const net = require('node:net');
       const { parentPort, workerData } = require('node:worker_threads');
       const server = net.createServer();
       server.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
         parentPort.postMessage(server.address().port);
         Atomics.wait(workerData, 0, 0, 5000);
       });`,
      { eval: true, workerData: flag },
    );
    const fillers: net.Socket[] = [];
    try {
      const port = await new Promise<number>((r) => worker.once('message', r));
      for (let i = 0; i < 4; i++) fillers.push(net.connect(port, '127.0.0.1').on('error', () => {}));
      await new Promise((r) => setTimeout(r, 50));
      const p = pool({ connectTimeoutMs: 150 });
      const t0 = performance.now();
      const e = await failure(p.call(`127.0.0.1:${port}`, query('temp')));
      const took = performance.now() - t0;
      expect(e).toMatchObject({ kind: 'timeout' });
      expect(e.message).toMatch(/longer than 150 ms/);
      expect(took).toBeGreaterThanOrEqual(140);
      expect(took).toBeLessThan(1000);
    } finally {
      for (const f of fillers) f.destroy();
      Atomics.notify(flag, 0);
      await worker.terminate();
    }
  });

  it('rejects bad options', () => {
    expect(() => createUpstreamPool({ connectTimeoutMs: 0, maxPendingCalls: 1 })).toThrow(/connectTimeoutMs/);
    expect(() => createUpstreamPool({ connectTimeoutMs: 1, maxPendingCalls: 1, reconnectBackoff: { initialMs: -1, maxMs: 1 } })).toThrow(
      /initialMs/,
    );
  });
});
