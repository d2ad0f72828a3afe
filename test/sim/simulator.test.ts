import { describe, expect, it } from 'vitest';
import { decodeListAppsReply, decodeQueryConfigReply } from '../../sim/decode.js';
import { clusterTag, identifyCluster, replicaAddress, replicaHost } from '../../sim/identify.js';
import {
  encodeRequestV0,
  encodeRequestV1,
  listAppsArgs,
  queryConfigArgs,
} from '../../sim/wire.js';
import { openSims } from './openSims.js';
import { rawConnect } from './rawClient.js';

const QUERY = 'RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX';
const LIST = 'RPC_CM_LIST_APPS';
const TABLES = { temp: { appId: 2, partitionCount: 8 }, other: { appId: 5, partitionCount: 4 } };

const { cluster, client } = openSims({ name: 'A', tables: TABLES });

const port = (meta: string) => Number(meta.slice(meta.lastIndexOf(':') + 1));

describe('simulated MetaServer', () => {
  it('answers query-config on the leader with every partition, addressed by cluster', async () => {
    const c = await cluster();
    const raw = await client(c.metas[0]!);
    raw.send(encodeRequestV0(QUERY, 7, queryConfigArgs('temp')));
    const frame = await raw.next();
    const reply = decodeQueryConfigReply(frame);
    expect(reply).toMatchObject({ headerError: 'ERR_OK', name: `${QUERY}_ACK`, seqid: 7 });
    const body = reply.body!;
    expect(body).toMatchObject({ err: 'ERR_OK', appId: 2, partitionCount: 8, isStateful: true });
    expect(body.partitions.map((p) => p.partitionIndex)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    const p1 = body.partitions[1]!;
    expect(p1).toMatchObject({
      appId: 2,
      primary: replicaAddress('A', 1),
      secondaries: [replicaAddress('A', 2), replicaAddress('A', 0)],
      lastDrops: [replicaAddress('A', 0)],
      maxReplicaCount: 3,
    });
    expect(p1.ballot).toBeGreaterThan(0n);
    expect(p1.hpPrimary).toBeUndefined();
    expect(identifyCluster(frame, ['B', 'A'])).toBe('A');
    expect(identifyCluster(frame, ['B'])).toBeUndefined();
    expect(clusterTag('A')).not.toBe(clusterTag('B'));
  });

  it('returns only the requested, existing partitions (Java v1 frame, empty list = all)', async () => {
    const c = await cluster();
    const raw = await client(c.metas[0]!);
    raw.send(encodeRequestV1(QUERY, 1, queryConfigArgs('temp', [3, 1, 99])));
    raw.send(encodeRequestV1(QUERY, 2, queryConfigArgs('other', []), 5000, false));
    const a = decodeQueryConfigReply(await raw.next());
    const b = decodeQueryConfigReply(await raw.next());
    expect(a.seqid).toBe(1);
    expect(a.body!.partitions.map((p) => p.partitionIndex)).toEqual([3, 1]);
    expect(b.seqid).toBe(2);
    expect(b.body!.partitions).toHaveLength(4);
    expect(c.lastRequest(0)).toEqual({ name: QUERY, version: 1, seqid: 2, clientTimeoutMs: 5000 });
  });

  it('writes hp_* fields in 2.6 style when asked to', async () => {
    const c = await cluster({ hostPort: true });
    const raw = await client(c.metas[0]!);
    raw.send(encodeRequestV0(QUERY, 1, queryConfigArgs('other', [2])));
    const p = decodeQueryConfigReply(await raw.next()).body!.partitions[0]!;
    expect(p.hpPrimary).toBe(`${replicaHost('A', 2)}:34803`);
    expect(p.hpSecondaries).toEqual([`${replicaHost('A', 0)}:34801`, `${replicaHost('A', 1)}:34802`]);
    expect(p.hpLastDrops).toEqual([`${replicaHost('A', 1)}:34802`]);
  });

  it('forwards from a follower to the leader, hp_primary included on 2.6', async () => {
    const c = await cluster({ leader: 2, hostPort: true });
    const raw = await client(c.metas[0]!);
    raw.send(encodeRequestV0(QUERY, 3, queryConfigArgs('temp')));
    const reply = decodeQueryConfigReply(await raw.next());
    expect(reply.headerError).toBe('ERR_OK');
    expect(reply.body).toMatchObject({ err: 'ERR_FORWARD_TO_OTHERS', appId: 0, partitionCount: 0, isStateful: false });
    expect(reply.body!.partitions).toHaveLength(1);
    expect(reply.body!.partitions[0]).toMatchObject({
      primary: c.metas[2],
      hpPrimary: c.metas[2],
      secondaries: [],
    });
  });

  it('forwards with an empty list when there is no leader, and follows setLeader', async () => {
    const c = await cluster({ leader: -1 });
    const raw = await client(c.metas[1]!);
    raw.send(encodeRequestV0(QUERY, 1, queryConfigArgs('temp')));
    const none = decodeQueryConfigReply(await raw.next()).body!;
    expect(none.err).toBe('ERR_FORWARD_TO_OTHERS');
    expect(none.partitions).toEqual([]);
    c.setLeader(0);
    raw.send(encodeRequestV0(QUERY, 2, queryConfigArgs('temp')));
    const named = decodeQueryConfigReply(await raw.next()).body!;
    expect(named.partitions[0]!.primary).toBe(c.metas[0]);
    expect(named.partitions[0]!.hpPrimary).toBeUndefined();
    c.setLeader(1);
    raw.send(encodeRequestV0(QUERY, 3, queryConfigArgs('temp')));
    expect(decodeQueryConfigReply(await raw.next()).body!.err).toBe('ERR_OK');
  });

  it('says ERR_OBJECT_NOT_FOUND for an unknown table and reflects setTables', async () => {
    const c = await cluster();
    const raw = await client(c.metas[0]!);
    raw.send(encodeRequestV0(QUERY, 1, queryConfigArgs('nope')));
    expect(decodeQueryConfigReply(await raw.next()).body).toEqual({
      err: 'ERR_OBJECT_NOT_FOUND',
      appId: 0,
      partitionCount: 0,
      isStateful: false,
      partitions: [],
    });
    c.setTables({ nope: { appId: 9, partitionCount: 2 } });
    raw.send(encodeRequestV0(QUERY, 2, queryConfigArgs('nope')));
    expect(decodeQueryConfigReply(await raw.next()).body).toMatchObject({ err: 'ERR_OK', appId: 9 });
    raw.send(encodeRequestV0(QUERY, 3, queryConfigArgs('temp')));
    expect(decodeQueryConfigReply(await raw.next()).body!.err).toBe('ERR_OBJECT_NOT_FOUND');
  });

  it('answers an unknown RPC with header ERR_HANDLER_NOT_FOUND and no body (docs/PROTOCOL.md §3 bytes)', async () => {
    const c = await cluster();
    const raw = await client(c.metas[0]!);
    raw.send(encodeRequestV0('RPC_FOO', 5, Buffer.from([0])));
    const frame = await raw.next();
    expect(frame.toString('hex')).toBe(
      '00000034' + '00000015' + Buffer.from('ERR_HANDLER_NOT_FOUND').toString('hex') +
        '80010002' + '0000000b' + Buffer.from('RPC_FOO_ACK').toString('hex') + '00000005',
    );
  });

  it('lists apps on the leader and forwards with no address on a follower', async () => {
    const c = await cluster();
    const leader = await client(c.metas[0]!);
    leader.send(encodeRequestV0(LIST, 1, listAppsArgs()));
    const list = decodeListAppsReply(await leader.next());
    expect(list.name).toBe(`${LIST}_ACK`);
    expect(list.body!.err).toBe('ERR_OK');
    expect(list.body!.infos.map((i) => [i.appName, i.appId, i.partitionCount, i.status, i.isStateful])).toEqual([
      ['other', 5, 4, 1, true],
      ['temp', 2, 8, 1, true],
    ]);
    const follower = await client(c.metas[1]!);
    follower.send(encodeRequestV0(LIST, 2, listAppsArgs()));
    expect(decodeListAppsReply(await follower.next()).body).toEqual({ err: 'ERR_FORWARD_TO_OTHERS', infos: [] });
  });

  it('answers several in-flight requests of one connection, each under its own seqid', async () => {
    const c = await cluster();
    const raw = await client(c.metas[0]!);
    raw.send(
      Buffer.concat([
        encodeRequestV0(QUERY, 11, queryConfigArgs('temp', [0])),
        encodeRequestV0(QUERY, 12, queryConfigArgs('other', [1])),
        encodeRequestV1(QUERY, 13, queryConfigArgs('nope')),
      ]),
    );
    const replies = [await raw.next(), await raw.next(), await raw.next()].map(decodeQueryConfigReply);
    expect(replies.map((r) => [r.seqid, r.body!.err, r.body!.appId])).toEqual([
      [11, 'ERR_OK', 2],
      [12, 'ERR_OK', 5],
      [13, 'ERR_OBJECT_NOT_FOUND', 0],
    ]);
    expect(c.requestCount(0)).toBe(3);
    expect(c.connectionCount(0)).toBe(1);
  });

  it('spends the configured CPU on each query-config answer of the leader; the cost can be changed while it runs', async () => {
    const c = await cluster({ answerCostUs: 3000 });
    const leader = await client(c.metas[0]!);
    const follower = await client(c.metas[1]!);
    const cpu = () => {
      const used = process.cpuUsage();
      return (used.user + used.system) / 1000;
    };
    let before = cpu();
    for (let seqid = 1; seqid <= 10; seqid++) {
      leader.send(encodeRequestV0(QUERY, seqid, queryConfigArgs('temp')));
      expect(decodeQueryConfigReply(await leader.next()).body!.err).toBe('ERR_OK');
    }
    // Busy time, not sleep: ten answers cost at least 30 ms of this process's CPU.
    expect(cpu() - before).toBeGreaterThanOrEqual(29);
    c.setAnswerCost(0);
    before = cpu();
    follower.send(encodeRequestV0(QUERY, 11, queryConfigArgs('temp')));
    expect(decodeQueryConfigReply(await follower.next()).body!.err).toBe('ERR_FORWARD_TO_OTHERS');
    leader.send(encodeRequestV0(QUERY, 12, queryConfigArgs('temp')));
    expect(decodeQueryConfigReply(await leader.next()).body!.err).toBe('ERR_OK');
    expect(() => c.setAnswerCost(-1)).toThrow(RangeError);
  });

  it('says ERR_SERVICE_NOT_ACTIVE while the leader is starting', async () => {
    const c = await cluster();
    const raw = await client(c.metas[0]!);
    c.serviceNotActiveFor(150);
    raw.send(encodeRequestV0(QUERY, 1, queryConfigArgs('temp')));
    expect(decodeQueryConfigReply(await raw.next()).body!.err).toBe('ERR_SERVICE_NOT_ACTIVE');
    await new Promise((r) => setTimeout(r, 170));
    raw.send(encodeRequestV0(QUERY, 2, queryConfigArgs('temp')));
    expect(decodeQueryConfigReply(await raw.next()).body!.err).toBe('ERR_OK');
  });

  it('closes a connection that sends bytes that are not a frame', async () => {
    const c = await cluster();
    const raw = await client(c.metas[0]!);
    raw.send(Buffer.from('GET / HTTP/1.1\r\n\r\n'));
    await raw.closed;
    const v2 = await client(c.metas[0]!);
    const bad = encodeRequestV0(QUERY, 1, queryConfigArgs('temp'));
    bad.writeUInt32BE(2, 4);
    v2.send(bad);
    await v2.closed;
  });

  it('kills and restarts a meta on the same port', async () => {
    const c = await cluster();
    const raw = await client(c.metas[1]!);
    await c.kill(1);
    await raw.closed;
    await expect(rawConnect(c.metas[1]!)).rejects.toThrow(/ECONNREFUSED/);
    await c.restart(1);
    const again = await client(c.metas[1]!);
    again.send(encodeRequestV0(QUERY, 1, queryConfigArgs('temp')));
    expect(decodeQueryConfigReply(await again.next()).body!.err).toBe('ERR_FORWARD_TO_OTHERS');
    expect(port(c.metas[1]!)).toBeGreaterThan(0);
  });

  it('misbehaves on request: slow, silent, garbage, cut mid-reply', async () => {
    const c = await cluster();
    const raw = await client(c.metas[0]!);

    c.setBehavior(0, { mode: 'slow', delayMs: 120 });
    const t0 = performance.now();
    raw.send(encodeRequestV0(QUERY, 1, queryConfigArgs('temp')));
    expect(decodeQueryConfigReply(await raw.next()).seqid).toBe(1);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(110);

    c.setBehavior(0, { mode: 'silent' });
    raw.send(encodeRequestV0(QUERY, 2, queryConfigArgs('temp')));
    await expect(raw.next(150)).rejects.toThrow(/no reply/);

    c.setBehavior(0, { mode: 'garbage' });
    raw.send(encodeRequestV0(QUERY, 3, queryConfigArgs('temp')));
    const junk = await raw.next();
    expect(() => decodeQueryConfigReply(junk)).toThrow();

    c.setBehavior(0, { mode: 'close-mid-reply' });
    raw.send(encodeRequestV0(QUERY, 4, queryConfigArgs('temp')));
    await expect(raw.next()).rejects.toThrow(/closed/);
    expect(c.requestCount(0)).toBe(4);
  });
});
