import { describe, expect, it, vi } from 'vitest';
import { decodeQueryConfigReply } from '../../sim/decode.js';
import { encodeRequestV0, queryConfigArgs } from '../../sim/wire.js';
import { openSims } from './openSims.js';
import { rawConnect, type RawClient } from './rawClient.js';

// Frames are written here by hand and replies read by hand, independently of
// sim/replicaWire.ts and sim/decode.ts, so a mistake in those shows up.
const QUERY = 'RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX';
const LIST = 'RPC_CM_LIST_APPS';
const ENV = 'RPC_CM_UPDATE_APP_ENV';
const PUT = 'RPC_RRDB_RRDB_PUT';
const GET = 'RPC_RRDB_RRDB_GET';
const DENY = 'replica.deny_client_request';
const TABLES = { temp: { appId: 2, partitionCount: 8 }, other: { appId: 5, partitionCount: 4 } };

const { cluster, client } = openSims({ name: 'A', tables: TABLES, replicas: true }, () => vi.useRealTimers());

// --- hand-written thrift ---------------------------------------------------

const u8 = (...b: number[]) => Buffer.from(b);
function i32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(v);
  return b;
}
const str = (s: string | Buffer) => {
  const b = typeof s === 'string' ? Buffer.from(s) : s;
  return Buffer.concat([i32(b.length), b]);
};
const field = (type: number, id: number) => u8(type, id >> 8, id & 0xff);

/** A v0 frame carrying the gpid in the header, as the Go and Node.js clients write it. */
function v0(name: string, seqid: number, args: Buffer, appId: number, pidx: number): Buffer {
  const body = Buffer.concat([i32(0x80010001 | 0), str(name), i32(seqid), args]);
  const h = Buffer.alloc(48);
  h.write('THFT');
  h.writeUInt32BE(48, 8);
  h.writeUInt32BE(body.length, 16);
  h.writeInt32BE(appId, 24);
  h.writeInt32BE(pidx, 28);
  h.writeInt32BE(1000, 32);
  return Buffer.concat([h, body]);
}

/** A v1 frame, as the Java client writes it: gpid in the request meta. */
function v1(name: string, seqid: number, args: Buffer, appId: number, pidx: number): Buffer {
  const body = Buffer.concat([i32(0x80010001 | 0), str(name), i32(seqid), args]);
  const meta = Buffer.concat([
    field(8, 1), i32(appId), field(8, 2), i32(pidx), field(8, 3), i32(1000),
    field(10, 4), Buffer.alloc(8), field(2, 5), u8(0), u8(0),
  ]);
  const h = Buffer.alloc(16);
  h.write('THFT');
  h.writeUInt32BE(1, 4);
  h.writeUInt32BE(meta.length, 8);
  h.writeUInt32BE(body.length, 12);
  return Buffer.concat([h, meta, body]);
}

// put(1: update_request {1: blob key, 2: blob value, 3: i32 expire_ts_seconds}); blobs are inline, tagged STRUCT.
const putArgs = (key: string, value: string) =>
  Buffer.concat([field(12, 1), field(12, 1), str(key), field(12, 2), str(value), field(8, 3), i32(0), u8(0), u8(0)]);
// get(1: blob key)
const getArgs = (key: string) => Buffer.concat([field(12, 1), str(key), u8(0)]);

function stringList(id: number, items: string[]): Buffer {
  return Buffer.concat([field(15, id), u8(11), i32(items.length), ...items.map((s) => str(s))]);
}

function envArgs(table: string, op: number, o: { keys?: string[]; values?: string[]; prefix?: string } = {}): Buffer {
  return Buffer.concat([
    field(12, 1),
    field(11, 1), str(table),
    field(8, 2), i32(op),
    o.keys ? stringList(3, o.keys) : Buffer.alloc(0),
    o.values ? stringList(4, o.values) : Buffer.alloc(0),
    o.prefix !== undefined ? Buffer.concat([field(11, 5), str(o.prefix)]) : Buffer.alloc(0),
    u8(0), u8(0),
  ]);
}

interface Header {
  error: string;
  name: string;
  seqid: number;
  /** The response struct's fields by id: numbers, bigints, strings, or Buffers for STRUCT-tagged blobs. */
  fields?: Map<number, number | bigint | string | Buffer>;
}

/** Reads a reply: header, message begin, and the flat response struct in result field 0. */
function read(frame: Buffer): Header {
  let o = 0;
  const s = () => {
    const n = frame.readUInt32BE(o);
    const v = frame.toString('utf8', o + 4, o + 4 + n);
    o += 4 + n;
    return v;
  };
  expect(frame.readUInt32BE(0)).toBe(frame.length);
  o = 4;
  const error = s();
  expect(frame.readUInt32BE(o)).toBe(0x80010002);
  o += 4;
  const name = s();
  const seqid = frame.readInt32BE(o);
  o += 4;
  if (o === frame.length) return { error, name, seqid };
  expect([frame[o], frame.readInt16BE(o + 1)]).toEqual([12, 0]);
  o += 3;
  const fields = new Map<number, number | bigint | string | Buffer>();
  for (;;) {
    const t = frame[o]!;
    if (t === 0) break;
    const id = frame.readInt16BE(o + 1);
    o += 3;
    if (t === 8) (fields.set(id, frame.readInt32BE(o)), (o += 4));
    else if (t === 10) (fields.set(id, frame.readBigInt64BE(o)), (o += 8));
    else if (t === 11 || t === 12) {
      // STRUCT here is an inline custom type: error_code (a string) or blob (binary).
      const n = frame.readUInt32BE(o);
      const b = frame.subarray(o + 4, o + 4 + n);
      fields.set(id, t === 11 || id === 1 ? b.toString('utf8') : Buffer.from(b));
      o += 4 + n;
    } else throw new Error(`unexpected thrift type ${t} in field ${id}`);
  }
  expect(o + 2).toBe(frame.length); // response STOP, result STOP
  return { error, name, seqid, fields };
}

/** Partition of `table` whose primary is replica `i` (the sim makes partition p's primary p % 3). */
const pidxOn = (i: number) => i;

describe('simulated replica servers', () => {
  it('serve put and get on the primary, v0 and v1, with update_response and read_response', async () => {
    const c = await cluster();
    expect(c.replicas).toHaveLength(3);
    for (const r of c.replicas) expect(r).toMatch(/^127\.0\.0\.1:\d+$/);
    const primary = await client(c.replicas[1]!);
    primary.send(v0(PUT, 7, putArgs('k1', 'hello'), 2, pidxOn(1)));
    const put = read(await primary.next());
    expect(put).toMatchObject({ error: 'ERR_OK', name: `${PUT}_ACK`, seqid: 7 });
    expect([...put.fields!]).toEqual([
      [1, 0],
      [2, 2],
      [3, 1],
      [4, 1n],
      [5, c.replicas[1]],
    ]);
    primary.send(v1(PUT, 8, putArgs('k2', 'world'), 2, pidxOn(1)));
    expect(read(await primary.next()).fields!.get(4)).toBe(2n);

    primary.send(v1(GET, 9, getArgs('k1'), 2, pidxOn(1)));
    const get = read(await primary.next());
    expect(get).toMatchObject({ error: 'ERR_OK', name: `${GET}_ACK`, seqid: 9 });
    expect([...get.fields!]).toEqual([
      [1, 0],
      [2, Buffer.from('hello')],
      [3, 2],
      [4, 1],
      [6, c.replicas[1]],
    ]);
    primary.send(v0(GET, 10, getArgs('never-set'), 2, pidxOn(1)));
    const missing = read(await primary.next());
    expect(missing.fields!.get(1)).toBe(1); // rocksdb NotFound
    expect(missing.fields!.get(2)).toEqual(Buffer.alloc(0));
    expect(c.replicaTotals()).toEqual({ temp: { ok: 4, refused: 0, dropped: 0 } });
  });

  it('answers a header error with no body: INVALID_STATE off the primary, OBJECT_NOT_FOUND for an unknown gpid', async () => {
    const c = await cluster();
    const secondary = await client(c.replicas[0]!);
    secondary.send(v0(PUT, 5, putArgs('k', 'v'), 2, pidxOn(1)));
    const frame = await secondary.next();
    expect(frame.toString('hex')).toBe(
      '0000003a' +
        '00000011' + Buffer.from('ERR_INVALID_STATE').toString('hex') +
        '80010002' + '00000015' + Buffer.from(`${PUT}_ACK`).toString('hex') + '00000005',
    );
    secondary.send(v0(GET, 6, getArgs('k'), 99, 0));
    expect(read(await secondary.next())).toEqual({ error: 'ERR_OBJECT_NOT_FOUND', name: `${GET}_ACK`, seqid: 6 });
    secondary.send(v0(GET, 7, getArgs('k'), 2, 8));
    expect(read(await secondary.next()).error).toBe('ERR_OBJECT_NOT_FOUND');
    secondary.send(v0('RPC_RRDB_RRDB_SCAN', 8, getArgs('k'), 2, 0));
    expect(read(await secondary.next()).error).toBe('ERR_HANDLER_NOT_FOUND');
    expect(c.replicaOps({ table: 'temp' })).toEqual({ ok: 0, refused: 2, dropped: 0 });
    expect(c.replicaOps({ table: '#99' })).toEqual({ ok: 0, refused: 1, dropped: 0 });
  });

  it('names the real replica servers in query-config, hp_* included', async () => {
    const c = await cluster({ hostPort: true });
    const meta = await client(c.metas[0]!);
    meta.send(encodeRequestV0(QUERY, 1, queryConfigArgs('temp')));
    const body = decodeQueryConfigReply(await meta.next()).body!;
    expect(body.partitions).toHaveLength(8);
    const p4 = body.partitions[4]!;
    expect(p4.primary).toBe(c.replicas[1]);
    expect(p4.secondaries).toEqual([c.replicas[2], c.replicas[0]]);
    expect(p4.lastDrops).toEqual([c.replicas[0]]);
    expect(p4.hpPrimary).toBe(c.replicas[1]);
    expect(p4.hpSecondaries).toEqual([c.replicas[2], c.replicas[0]]);
  });

  it('cuts connections on killReplicas and serves again, same address and data, after restartReplicas', async () => {
    const c = await cluster();
    const before = [...c.replicas];
    const r = await client(c.replicas[0]!);
    r.send(v0(PUT, 1, putArgs('kept', 'yes'), 2, 0));
    await r.next();
    await c.killReplicas();
    await r.closed;
    await expect(rawConnect(c.replicas[0]!)).rejects.toThrow(/ECONNREFUSED/);
    await c.restartReplicas();
    expect(c.replicas).toEqual(before);
    const again = await client(c.replicas[0]!);
    again.send(v0(GET, 2, getArgs('kept'), 2, 0));
    expect(read(await again.next()).fields!.get(2)).toEqual(Buffer.from('yes'));
  });
});

describe('app envs on the simulated meta', () => {
  it('sets, lists, deletes and clears envs on the leader, as server_state.cpp answers', async () => {
    const c = await cluster();
    const leader = await client(c.metas[0]!);
    const call = async (seqid: number, args: Buffer) => {
      leader.send(encodeRequestV0(ENV, seqid, args));
      const h = read(await leader.next());
      expect(h).toMatchObject({ error: 'ERR_OK', name: `${ENV}_ACK`, seqid });
      return [h.fields!.get(1), h.fields!.get(2)];
    };
    expect(await call(1, envArgs('temp', 1, { keys: [DENY, 'user.a', 'user.b'], values: ['reconfig*all', '1', '2'] }))).toEqual([
      'ERR_OK',
      '',
    ]);
    expect(c.envs('temp')).toEqual({ [DENY]: 'reconfig*all', 'user.a': '1', 'user.b': '2' });

    leader.send(encodeRequestV0(LIST, 2, Buffer.concat([field(12, 1), field(8, 1), i32(0), u8(0), u8(0)])));
    const list = await leader.next();
    // app_info.envs: field 6, map<string,string>, keys in order.
    const envMap = Buffer.concat([
      field(13, 6), u8(11, 11), i32(3),
      str(DENY), str('reconfig*all'), str('user.a'), str('1'), str('user.b'), str('2'),
    ]);
    expect(list.includes(envMap)).toBe(true);
    expect(list.includes(Buffer.concat([field(13, 6), u8(11, 11), i32(0)]))).toBe(true); // 'other' has none

    expect(await call(3, envArgs('temp', 2, { keys: ['not.set'] }))).toEqual(['ERR_OK', 'no key needs to be deleted']);
    expect(await call(4, envArgs('temp', 2, { keys: [DENY, 'not.set'] }))).toEqual(['ERR_OK', `deleted keys:\n    ${DENY}`]);
    expect(await call(5, envArgs('temp', 3, { prefix: 'user' }))).toEqual([
      'ERR_OK',
      'deleted keys:\n    user.a\n    user.b',
    ]);
    expect(c.envs('temp')).toEqual({});
    expect(await call(6, envArgs('temp', 3, { prefix: '' }))).toEqual(['ERR_OK', 'no key needs to be deleted']);

    leader.send(encodeRequestV0(LIST, 7, Buffer.concat([field(12, 1), field(8, 1), i32(0), u8(0), u8(0)])));
    expect((await leader.next()).includes(Buffer.from(DENY))).toBe(false);
  });

  it('refuses what a real meta refuses, and a follower forwards with no address', async () => {
    const c = await cluster();
    const leader = await client(c.metas[0]!);
    const call = async (m: RawClient, seqid: number, args: Buffer) => {
      m.send(encodeRequestV0(ENV, seqid, args));
      const h = read(await m.next());
      expect(h.error).toBe('ERR_OK');
      return [h.fields!.get(1), h.fields!.get(2)];
    };
    const [err, hint] = await call(leader, 1, envArgs('temp', 1, { keys: [DENY], values: ['reconfig*everything'] }));
    expect(err).toBe('ERR_INVALID_PARAMETERS');
    expect(hint).toMatch(/reconfig\*read/);
    expect(await call(leader, 2, envArgs('nope', 1, { keys: [DENY], values: ['timeout*all'] }))).toEqual([
      'ERR_APP_NOT_EXIST',
      'app cannot be found',
    ]);
    expect((await call(leader, 3, envArgs('temp', 1, { keys: [DENY], values: [] })))[0]).toBe('ERR_INVALID_PARAMETERS');
    expect((await call(leader, 4, envArgs('temp', 0)))[0]).toBe('ERR_INVALID_PARAMETERS');
    expect(await call(await client(c.metas[2]!), 5, envArgs('temp', 1, { keys: [DENY], values: ['timeout*all'] }))).toEqual([
      'ERR_FORWARD_TO_OTHERS',
      '',
    ]);
    expect(c.envs('temp')).toEqual({});
    expect(() => c.setEnvs('temp', { [DENY]: 'sometimes*all' })).toThrow(/ERR_INVALID_PARAMETERS/);
    expect(() => c.setEnvs('nope', { [DENY]: 'timeout*all' })).toThrow(/ERR_APP_NOT_EXIST/);
  });
});

describe('replica.deny_client_request on the replicas', () => {
  it('takes effect at each replica server own config sync, not when the meta is told', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const c = await cluster({ configSyncIntervalMs: 30_000 });
    const conns = await Promise.all(c.replicas.map(client));
    let seq = 0;
    const putOn = async (i: number) => {
      const seqid = ++seq;
      conns[i]!.send(v0(PUT, seqid, putArgs('k', 'v'), 2, pidxOn(i)));
      return read(await conns[i]!.next()).error;
    };
    c.setEnvs('temp', { [DENY]: 'reconfig*write' });
    expect([await putOn(0), await putOn(1), await putOn(2)]).toEqual(['ERR_OK', 'ERR_OK', 'ERR_OK']);
    vi.advanceTimersByTime(20_000);
    expect(c.replicaSyncCounts()).toEqual([2, 2, 1]);
    expect([await putOn(0), await putOn(1), await putOn(2)]).toEqual(['ERR_INVALID_STATE', 'ERR_INVALID_STATE', 'ERR_OK']);
    vi.advanceTimersByTime(10_000);
    expect(await putOn(2)).toBe('ERR_INVALID_STATE');
    c.delEnvs('temp', [DENY]);
    expect(await putOn(0)).toBe('ERR_INVALID_STATE');
    vi.advanceTimersByTime(30_000);
    expect([await putOn(0), await putOn(1), await putOn(2)]).toEqual(['ERR_OK', 'ERR_OK', 'ERR_OK']);
  });

  it('reconfig*write refuses writes only; timeout*read drops reads without a reply', async () => {
    const c = await cluster({ configSyncIntervalMs: 30 });
    const since = Date.now();
    const r = await client(c.replicas[0]!);
    c.setEnvs('temp', { [DENY]: 'reconfig*write' });
    await vi.waitFor(() => expect(Math.min(...c.replicaSyncCounts())).toBeGreaterThan(2));
    r.send(v0(PUT, 1, putArgs('k', 'v'), 2, 0));
    expect(read(await r.next())).toEqual({ error: 'ERR_INVALID_STATE', name: `${PUT}_ACK`, seqid: 1 });
    r.send(v0(GET, 2, getArgs('k'), 2, 0));
    expect(read(await r.next()).error).toBe('ERR_OK');
    r.send(v0(PUT, 3, putArgs('x', 'v'), 5, 0));
    expect(read(await r.next()).error).toBe('ERR_OK'); // another table is not fenced

    c.setEnvs('temp', { [DENY]: 'timeout*read' });
    const synced = c.replicaSyncCounts()[0]!;
    await vi.waitFor(() => expect(c.replicaSyncCounts()[0]).toBeGreaterThan(synced + 1));
    r.send(v0(GET, 4, getArgs('k'), 2, 0));
    r.send(v0(PUT, 5, putArgs('k', 'v2'), 2, 0));
    expect(read(await r.next()).seqid).toBe(5); // the get (seqid 4) is never answered
    await expect(r.next(300)).rejects.toThrow(/no reply/);
    expect(c.replicaOps({ table: 'temp', since })).toEqual({ ok: 2, refused: 1, dropped: 1 });
    expect(c.replicaOps({ table: 'temp', since: Date.now() + 1000 })).toEqual({ ok: 0, refused: 0, dropped: 0 });
  });
});
