import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLoad } from '../../bench/loadgen.js';
import { startSimCluster, type SimCluster } from '../../sim/cluster.js';
import { replicaIp } from '../../sim/identify.js';
import { queryConfigError, queryConfigOk, stamp } from '../../sim/replies.js';
import { readQueryConfigArgs, readRequest, requestFrameLength } from '../../sim/wire.js';

let sim: SimCluster;
beforeAll(async () => {
  sim = await startSimCluster({ name: 'A', metas: 1, tables: { t0: { appId: 1, partitionCount: 64 }, t1: { appId: 2, partitionCount: 64 } } });
});
afterAll(() => sim?.close());

const portOf = (address: string) => Number(address.slice(address.lastIndexOf(':') + 1));

/**
 * A server that keeps its own tally of what it did: most requests answered
 * ERR_OK, every 4th ERR_OBJECT_NOT_FOUND, every 5th under a wrong seqid,
 * every 7th never answered.
 */
async function misbehavingServer() {
  const tally = { requests: 0, ok: 0, notFound: 0, wrongSeqid: 0, dropped: 0, v1: 0 };
  const ok = queryConfigOk('A', { appId: 1, partitionCount: 8 }, [0], false);
  const notFound = queryConfigError('ERR_OBJECT_NOT_FOUND');
  const server = net.createServer((socket) => {
    let rest = Buffer.alloc(0);
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      let buf = Buffer.concat([rest, chunk]);
      let off = 0;
      for (;;) {
        const length = requestFrameLength(buf, off);
        if (length === undefined || off + length > buf.length) break;
        const request = readRequest(buf.subarray(off, off + length));
        off += length;
        const n = ++tally.requests;
        if (request.version === 1) tally.v1++;
        if (n % 7 === 0) {
          tally.dropped++;
        } else if (n % 5 === 0) {
          tally.wrongSeqid++;
          socket.write(stamp(ok, request.seqid + 100_000));
        } else if (n % 4 === 0) {
          tally.notFound++;
          socket.write(stamp(notFound, request.seqid));
        } else {
          tally.ok++;
          socket.write(stamp(ok, request.seqid));
        }
      }
      buf = buf.subarray(off);
      rest = Buffer.from(buf);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as net.AddressInfo).port, tally, close: () => new Promise((r) => server.close(r)) };
}

describe('bench load generator', () => {
  it('counts every request and reply of a real run against the simulator, v0 and v1 mixed', async () => {
    const before = sim.requestCount(0);
    const run = startLoad({
      host: '127.0.0.1',
      port: portOf(sim.metas[0]!),
      connections: 4,
      depth: 8,
      durationMs: 700,
      warmupMs: 200,
      tablePrefix: 't',
      tableCount: 2,
      indexSpace: 64,
      v1Every: 2,
      identify: [{ name: 'A', ip: replicaIp('A') }],
    });
    const result = await run.done;
    expect(result.sent).toBeGreaterThan(100);
    // The simulator saw exactly what the generator says it sent, and answered all of it.
    expect(sim.requestCount(0) - before).toBe(result.sent);
    expect(result.answered).toBe(result.sent);
    expect(result.unanswered).toBe(0);
    expect(result.seqidMismatches).toBe(0);
    expect(result.codes).toEqual({ ERR_OK: result.answered });
    expect(result.clusters).toEqual({ A: result.answered });
    // Only the measured window counts toward throughput and latency.
    expect(result.measured).toBeGreaterThan(0);
    expect(result.measured).toBeLessThan(result.answered);
    expect(result.throughput).toBeGreaterThan(0);
    expect(result.latencyUs.p50).toBeGreaterThan(0);
    expect(result.latencyUs.p99).toBeGreaterThanOrEqual(result.latencyUs.p50);
    expect(sim.lastRequest(0)?.name).toBe('RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX');
  });

  it('reports wrong seqids, unanswered requests and error codes exactly as the server produced them', async () => {
    const server = await misbehavingServer();
    const run = startLoad({
      host: '127.0.0.1',
      port: server.port,
      connections: 2,
      depth: 64,
      durationMs: 300,
      warmupMs: 0,
      tables: ['t0'],
      indexSpace: 8,
      v1Every: 3,
      graceMs: 200,
    });
    const result = await run.done;
    await server.close();
    const { tally } = server;
    expect(tally.wrongSeqid).toBeGreaterThan(0);
    expect(tally.dropped).toBeGreaterThan(0);
    expect(result.sent).toBe(tally.requests);
    // Every third request is a v1 (Java) frame.
    expect(tally.v1).toBe(Math.floor(result.sent / 3));
    expect(result.seqidMismatches).toBe(tally.wrongSeqid);
    expect(result.codes).toEqual({ ERR_OK: tally.ok, ERR_OBJECT_NOT_FOUND: tally.notFound });
    expect(result.answered).toBe(tally.ok + tally.notFound);
    // A reply under the wrong seqid leaves its request unanswered.
    expect(result.unanswered).toBe(tally.dropped + tally.wrongSeqid);
  });

  it('rate mode sends at the asked rate', async () => {
    const before = sim.requestCount(0);
    const run = startLoad({
      host: '127.0.0.1',
      port: portOf(sim.metas[0]!),
      connections: 2,
      depth: 64,
      durationMs: 1000,
      warmupMs: 0,
      tables: ['t0'],
      indexSpace: 64,
      v1Every: 0,
      rate: 2000,
    });
    const result = await run.done;
    expect(sim.requestCount(0) - before).toBe(result.sent);
    expect(result.sent).toBeGreaterThan(1600);
    expect(result.sent).toBeLessThan(2400);
    expect(result.unanswered).toBe(0);
    expect(result.seqidMismatches).toBe(0);
  });
});
