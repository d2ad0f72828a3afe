import net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startSimCluster, type SimCluster, type SimClusterOptions } from '../../sim/cluster.js';
import { SimPegasusClient, isLoopback, runClientLoop, type SimClientOptions } from '../../sim/pegasusClient.js';
import { readRequest, requestFrameLength } from '../../sim/wire.js';
import { rawConnect } from './rawClient.js';

const DENY = 'replica.deny_client_request';
const TABLES = { temp: { appId: 2, partitionCount: 8 } };

const open: { clusters: SimCluster[]; clients: SimPegasusClient[]; servers: net.Server[] } = {
  clusters: [],
  clients: [],
  servers: [],
};

async function cluster(name: string, o: Partial<SimClusterOptions> = {}): Promise<SimCluster> {
  const c = await startSimCluster({ name, tables: TABLES, replicas: true, configSyncIntervalMs: 50, ...o });
  open.clusters.push(c);
  return c;
}

function pegasus(o: Partial<SimClientOptions> & { metas: string[] }): SimPegasusClient {
  const c = new SimPegasusClient({ table: 'temp', opTimeoutMs: 500, ...o });
  open.clients.push(c);
  return c;
}

afterEach(async () => {
  vi.restoreAllMocks();
  for (const c of open.clients.splice(0)) c.close();
  for (const s of open.servers.splice(0)) s.close();
  await Promise.all(open.clusters.splice(0).map((c) => c.close()));
});

/**
 * A stand-in for the proxy: a "meta" that relays each request frame to the
 * leader of whichever cluster `target()` names now, so a route switch is one
 * assignment. Answers come back under the client's own seqid.
 */
async function routingMeta(target: () => SimCluster): Promise<string> {
  const server = net.createServer((socket) => {
    let rest = Buffer.alloc(0);
    socket.on('error', () => {});
    socket.on('data', async (chunk: Buffer) => {
      rest = Buffer.concat([rest, chunk]);
      for (;;) {
        const n = requestFrameLength(rest, 0);
        if (n === undefined || n > rest.length) break;
        const frame = rest.subarray(0, n);
        rest = rest.subarray(n);
        readRequest(frame);
        const c = target();
        const upstream = await rawConnect(c.metas[c.leader()]!);
        upstream.send(frame);
        socket.write(await upstream.next());
        upstream.close();
      }
    });
  });
  open.servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the long-lived simulated client', () => {
  it('asks a meta once (following a forward to the leader), then sends every op to the partition primaries', async () => {
    const a = await cluster('A', { leader: 2 });
    const client = pegasus({ metas: a.metas });
    for (let i = 0; i < 20; i++) expect(await client.set(`k${i}`, `v${i}`)).toMatchObject({ ok: true, error: 'ERR_OK' });
    const got = await client.get('k7');
    expect(got).toMatchObject({ ok: true, kind: 'get' });
    expect(got.value?.toString()).toBe('v7');
    expect((await client.get('never')).value).toBeUndefined();
    const s = client.stats();
    expect(s).toMatchObject({ ok: 22, failed: 0, configQueries: 2, configFailures: 0 });
    expect(Object.keys(s.okByReplica).sort()).toEqual([...a.replicas].sort());
    expect(a.replicaOps({ table: 'temp' })).toEqual({ ok: 22, refused: 0, dropped: 0 });
    expect(a.requestCount(2)).toBe(1);
  });

  it('fails one op on a reconfig fence, re-queries, and moves to the cluster the meta names now', async () => {
    const a = await cluster('A');
    const b = await cluster('B');
    let route = a;
    const client = pegasus({ metas: [await routingMeta(() => route)] });
    const loop = runClientLoop(client, { intervalMs: 5 });
    await vi.waitFor(() => expect(loop.rounds).toBeGreaterThan(5));
    expect(Object.keys(client.stats().okByReplica).every((r) => a.replicas.includes(r))).toBe(true);

    // The switch: route to B, then fence A.
    route = b;
    await sleep(30);
    expect(b.replicaOps().ok).toBe(0); // the cached config still points at A
    const fenced = Date.now();
    a.setEnvs('temp', { [DENY]: 'reconfig*all' });
    await vi.waitFor(() => expect(b.replicaOps({ table: 'temp' }).ok).toBeGreaterThan(10), { timeout: 5000 });
    await loop.stop();

    const s = client.stats();
    expect(s.failed).toBe(1);
    expect(s.failedByError).toEqual({ ERR_INVALID_STATE: 1 });
    expect(s.configQueries).toBe(2);
    const firstOnB = client.ops.findIndex((o) => o.replica && b.replicas.includes(o.replica));
    expect(client.ops[firstOnB - 1]).toMatchObject({ ok: false, error: 'ERR_INVALID_STATE' });
    expect(client.ops[firstOnB - 1]!.replica).toSatisfy((r: string) => a.replicas.includes(r));
    expect(client.ops.slice(firstOnB).every((o) => o.ok && b.replicas.includes(o.replica!))).toBe(true);
    const last = client.ops.at(-1)!.t;
    expect(a.replicaOps({ table: 'temp', since: fenced })).toMatchObject({ refused: 1 });
    expect(a.replicaOpLog({ table: 'temp', since: fenced }).filter((o) => o.outcome === 'ok' && o.t > last)).toEqual([]);
  });

  it('lets ops time out on a timeout fence without asking the meta again', async () => {
    const a = await cluster('A');
    const client = pegasus({ metas: a.metas, opTimeoutMs: 150 });
    expect((await client.set('k', 'v')).ok).toBe(true);
    a.setEnvs('temp', { [DENY]: 'timeout*write' });
    await vi.waitFor(() => expect(Math.min(...a.replicaSyncCounts())).toBeGreaterThan(3));
    expect(await client.set('k', 'v2')).toMatchObject({ ok: false, error: 'ERR_TIMEOUT' });
    expect(await client.get('k')).toMatchObject({ ok: true });
    expect((await client.get('k')).value?.toString()).toBe('v');
    expect(client.stats()).toMatchObject({ configQueries: 1, failedByError: { ERR_TIMEOUT: 1 } });
    expect(client.stale).toBe(false);
    expect(a.replicaOps({ table: 'temp' })).toMatchObject({ dropped: 1 });
  });

  it('re-queries after a lost connection, and retries a failed query on the next op', async () => {
    const a = await cluster('A');
    const client = pegasus({ metas: a.metas });
    expect((await client.set('k', 'v')).ok).toBe(true);
    await a.killReplicas();
    await Promise.all(a.metas.map((_, i) => a.kill(i)));
    const lost = await client.get('k');
    expect(['ERR_SESSION_RESET', 'ERR_NETWORK_FAILURE']).toContain(lost.error);
    expect(client.stale).toBe(true);
    expect((await client.get('k')).ok).toBe(false); // no meta answers: the query fails
    expect(client.stats().configFailures).toBe(1);
    await a.restartReplicas();
    await Promise.all(a.metas.map((_, i) => a.restart(i)));
    const back = await client.get('k');
    expect(back).toMatchObject({ ok: true });
    expect(back.value?.toString()).toBe('v');
    expect(client.stats().configFailures).toBe(1);
    expect(client.stats().configQueries).toBeGreaterThanOrEqual(3);
  });

  it('never dials a replica address outside loopback', async () => {
    const fake = await startSimCluster({ name: 'F', tables: TABLES }); // fake 10.x replicas
    open.clusters.push(fake);
    const dial = vi.spyOn(net, 'connect');
    const client = pegasus({ metas: fake.metas });
    const op = await client.set('k', 'v');
    expect(op).toMatchObject({ ok: false, error: 'ERR_NOT_LOOPBACK' });
    expect(op.replica).toMatch(/^10\./);
    const dialled = dial.mock.calls.map((c) => JSON.stringify(c[0]));
    expect(dialled).toHaveLength(1); // the meta only
    expect(dialled[0]).toContain('"127.0.0.1"');
    expect(() => pegasus({ metas: ['10.1.2.3:34601'] })).not.toThrow();
    expect(await pegasus({ metas: ['10.1.2.3:34601'] }).get('k')).toMatchObject({ ok: false, error: 'ERR_NOT_LOOPBACK' });
    expect(dial).toHaveBeenCalledTimes(1);
    expect([isLoopback('127.0.0.1'), isLoopback('127.9.8.7'), isLoopback('::1'), isLoopback('[::1]')]).toEqual([
      true,
      true,
      true,
      true,
    ]);
    expect([isLoopback('10.0.0.1'), isLoopback('localhost'), isLoopback('128.0.0.1'), isLoopback('127.0.0.256')]).toEqual([
      false,
      false,
      false,
      false,
    ]);
  });
});
