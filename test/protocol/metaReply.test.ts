import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../src/errors.js';
import {
  RPC_LIST_APPS_ACK,
  RPC_QUERY_CONFIG_ACK,
  readMetaReply,
  replyFrameLength,
  stripHostPortFields,
  withSeqid,
} from '../../src/protocol/metaReply.js';
import {
  decodeQueryConfigResponse,
  encodeQueryConfigResponse,
  parseRpcAddress,
  type PartitionConfiguration,
  type QueryConfigResponse,
} from '../../src/protocol/queryConfig.js';
import { encodeListAppsResponse } from '../../src/protocol/listApps.js';
import { encodeReplyFrame } from '../../src/protocol/response.js';
import { StringInterner } from '../../src/protocol/intern.js';
import { dump, onlyProtocolErrors, queryConfigArb, samplePartition } from './helpers.js';

function queryReply(body: QueryConfigResponse, seqid = 3): Buffer {
  return encodeReplyFrame('ERR_OK', RPC_QUERY_CONFIG_ACK, seqid, encodeQueryConfigResponse(body));
}

function forwardTo(partitions: PartitionConfiguration[]): QueryConfigResponse {
  return { err: 'ERR_FORWARD_TO_OTHERS', appId: 0, partitionCount: 0, isStateful: false, partitions };
}

function withoutHostPorts(pc: PartitionConfiguration): PartitionConfiguration {
  const { hpPrimary: _p, hpSecondaries: _s, hpLastDrops: _d, ...rest } = pc;
  return rest;
}

/** A FORWARD reply as a pre-2.6 meta writes it, bytes from docs/PROTOCOL.md §4's rpc_address example. */
const FORWARD_RPC_ADDRESS = dump(`
  000000ca
  00000006 "ERR_OK"
  80010002 0000002a "RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX_ACK" 00000011
  0c 0000
    0c 0001 00000015 "ERR_FORWARD_TO_OTHERS"
    08 0002 00000000
    08 0003 00000000
    02 0004 00
    0f 0005 0c 00000001
      0c 0001 00000000 00000000
      0a 0002 0000000000000000
      08 0003 00000000
      0c 0004 0A000001 87F10001
      0f 0005 0c 00000000
      0f 0006 0c 00000000
      0a 0007 0000000000000000
      08 0008 00000000
      00
    00
  00`);

describe('replyFrameLength', () => {
  it('reads the length prefix (which counts itself) at an offset', () => {
    const buf = Buffer.concat([Buffer.from([9, 9]), FORWARD_RPC_ADDRESS]);
    expect(replyFrameLength(buf, 2)).toBe(FORWARD_RPC_ADDRESS.length);
    expect(replyFrameLength(buf, buf.length - 3)).toBeUndefined();
    expect(replyFrameLength(dump('ffffffff'), 0)).toBe(0xffffffff);
  });
});

describe('readMetaReply with a string interner (the fast path)', () => {
  it('reads every reply exactly as the general reader does, and unreadable ones the same way too', () => {
    const names = new StringInterner();
    const replies = [
      FORWARD_RPC_ADDRESS,
      queryReply(forwardTo([])),
      encodeReplyFrame('ERR_TIMEOUT', RPC_QUERY_CONFIG_ACK, 4),
      encodeReplyFrame('ERR_OK', RPC_LIST_APPS_ACK, 4, encodeListAppsResponse({ err: 'ERR_OK', infos: [] })),
      dump('00000045 00000006 "ERR_OK" 80010002 0000002a "RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX_ACK" 00000001 00'),
    ];
    for (const frame of replies) expect(outcome(() => readMetaReply(frame, names))).toEqual(outcome(() => readMetaReply(frame)));
    fc.assert(
      fc.property(queryConfigArb, fc.integer(), (response, seqid) => {
        const frame = queryReply(response, seqid);
        expect(readMetaReply(frame, names)).toEqual(readMetaReply(frame));
        // Every truncation and every single-byte change: the same answer or the same error kind.
        const cut = frame.subarray(0, Math.max(0, frame.length - 1 - (seqid & 15)));
        expect(outcome(() => readMetaReply(cut, names))).toEqual(outcome(() => readMetaReply(cut)));
        const mutated = Buffer.from(frame);
        const at = Math.abs(seqid) % frame.length;
        mutated[at] = (mutated[at]! + 1 + (seqid & 0x7f)) & 0xff;
        expect(outcome(() => readMetaReply(mutated, names))).toEqual(outcome(() => readMetaReply(mutated)));
      }),
      { numRuns: 500 },
    );
    // The same names are the same string objects.
    expect(readMetaReply(queryReply(forwardTo([])), names).name).toBe(readMetaReply(FORWARD_RPC_ADDRESS, names).name);
  });
});

/** What a read gives: the reply, or that it failed with a ProtocolError (messages may differ). */
function outcome(read: () => unknown): unknown {
  try {
    return read();
  } catch (error) {
    if (error instanceof ProtocolError) return 'ProtocolError';
    throw error;
  }
}

describe('readMetaReply', () => {
  it('follows a FORWARD written with rpc_address only', () => {
    expect(FORWARD_RPC_ADDRESS.readUInt32BE(0)).toBe(FORWARD_RPC_ADDRESS.length);
    expect(readMetaReply(FORWARD_RPC_ADDRESS)).toEqual({
      headerError: 'ERR_OK',
      name: RPC_QUERY_CONFIG_ACK,
      seqid: 0x11,
      seqidOffset: 4 + 10 + 4 + 46,
      resultOffset: 4 + 10 + 4 + 46 + 4,
      bodyError: 'ERR_FORWARD_TO_OTHERS',
      forward: '10.0.0.1:34801',
    });
  });

  it('prefers hp_primary when a 2.6+ meta names the leader by host', () => {
    const leader = samplePartition(0, true);
    leader.primary = parseRpcAddress('10.1.2.3:34601')!;
    leader.hpPrimary = { host: 'meta2.example', port: 34601, type: 1 };
    expect(readMetaReply(queryReply(forwardTo([leader]))).forward).toBe('meta2.example:34601');
    // The host_port bytes of docs/PROTOCOL.md §4 under field 9.
    const frame = Buffer.from(FORWARD_RPC_ADDRESS);
    const at = frame.lastIndexOf(dump('08 0008 00000000 00')) + 7;
    const spliced = Buffer.concat([frame.subarray(0, at), dump('0c 0009 00000005 686f737431 87f1 01'), frame.subarray(at)]);
    spliced.writeUInt32BE(spliced.length, 0);
    expect(readMetaReply(spliced).forward).toBe('host1:34801');
  });

  it('falls back to primary when hp_primary is unusable, and has no forward for an empty list or address 0', () => {
    const pc = samplePartition(0, true);
    pc.hpPrimary = { host: '', port: 0, type: 0 };
    expect(readMetaReply(queryReply(forwardTo([pc]))).forward).toBe('10.0.0.1:34801');
    expect(readMetaReply(queryReply(forwardTo([]))).forward).toBeUndefined();
    const zero = samplePartition(0, false);
    zero.primary = { ip: 0, port: 0, type: 0 };
    const reply = readMetaReply(queryReply(forwardTo([zero])));
    expect(reply.bodyError).toBe('ERR_FORWARD_TO_OTHERS');
    expect(reply.forward).toBeUndefined();
  });

  it('reports the body error of other answers and names no forward', () => {
    const ok: QueryConfigResponse = {
      err: 'ERR_OK',
      appId: 2,
      partitionCount: 2,
      isStateful: true,
      partitions: [samplePartition(0, true), samplePartition(1, true)],
    };
    const reply = readMetaReply(queryReply(ok, 8));
    expect(reply).toMatchObject({ headerError: 'ERR_OK', seqid: 8, bodyError: 'ERR_OK' });
    expect(reply.forward).toBeUndefined();
  });

  it('reads the body error of a list-apps ack', () => {
    const frame = encodeReplyFrame('ERR_OK', RPC_LIST_APPS_ACK, 4, encodeListAppsResponse({ err: 'ERR_FORWARD_TO_OTHERS', infos: [] }));
    expect(readMetaReply(frame)).toMatchObject({ name: RPC_LIST_APPS_ACK, bodyError: 'ERR_FORWARD_TO_OTHERS' });
  });

  it('reads no body behind a header error', () => {
    const frame = encodeReplyFrame('ERR_TIMEOUT', RPC_QUERY_CONFIG_ACK, 4);
    const reply = readMetaReply(frame);
    expect(reply).toEqual({ headerError: 'ERR_TIMEOUT', name: RPC_QUERY_CONFIG_ACK, seqid: 4, seqidOffset: frame.length - 4 });
  });

  it('rejects a reply that is not REPLY, has a wrong length prefix, or lacks its result', () => {
    const call = dump('00000016 00000002 "OK" 80010001 00000000 00000001');
    expect(() => readMetaReply(call)).toThrow(/REPLY/);
    const frame = queryReply(forwardTo([]));
    expect(() => readMetaReply(Buffer.concat([frame, Buffer.from([0])]))).toThrow(/length prefix/);
    expect(() => readMetaReply(encodeReplyFrame('ERR_OK', RPC_QUERY_CONFIG_ACK, 1, Buffer.alloc(0)).subarray(0))).toThrow(ProtocolError);
    const noResult = dump('00000045 00000006 "ERR_OK" 80010002 0000002a "RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX_ACK" 00000001 00');
    expect(() => readMetaReply(noResult)).toThrow(/no result/);
  });

  it('never reads a wrong answer from a truncated frame', () => {
    const frames = [FORWARD_RPC_ADDRESS, queryReply(forwardTo([samplePartition(0, true)]))];
    for (const frame of frames) {
      const whole = readMetaReply(frame);
      let readable = 0;
      for (let cut = 0; cut < frame.length; cut++) {
        const raw = frame.subarray(0, cut);
        expect(() => readMetaReply(raw), `cut ${cut}`).toThrow(ProtocolError);
        if (cut < 4) continue;
        // With the length prefix fixed the reader sees a well-framed reply. It reads
        // only up to the forward address, so a cut after it reads the same facts;
        // any earlier cut must be an error.
        const fixed = Buffer.from(raw);
        fixed.writeUInt32BE(cut, 0);
        if (onlyProtocolErrors(() => readMetaReply(fixed)) === 'ok') {
          expect(readMetaReply(fixed), `fixed cut ${cut}`).toEqual(whole);
          readable++;
        }
      }
      // Only the closing STOP bytes (partition, response, wrapper) can go unread.
      expect(readable).toBeLessThanOrEqual(3);
    }
  });

  it('throws only ProtocolError on random and mutated bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), (bytes) => {
        const frame = Buffer.from(bytes);
        if (frame.length >= 4) frame.writeUInt32BE(frame.length, 0);
        onlyProtocolErrors(() => readMetaReply(frame));
      }),
      { numRuns: 2000 },
    );
    const valid = queryReply(forwardTo([samplePartition(0, true)]));
    let readable = 0;
    fc.assert(
      fc.property(fc.integer({ min: 4, max: valid.length - 1 }), fc.integer({ min: 0, max: 255 }), (at, byte) => {
        const mutated = Buffer.from(valid);
        mutated[at] = byte;
        if (onlyProtocolErrors(() => readMetaReply(mutated)) === 'ok') readable++;
      }),
      { numRuns: 3000 },
    );
    expect(readable).toBeGreaterThan(0);
  });
});

describe('withSeqid', () => {
  it('changes only the 4 seqid bytes, in a copy', () => {
    fc.assert(
      fc.property(queryConfigArb, fc.integer({ min: -0x80000000, max: 0x7fffffff }), (body, seqid) => {
        const frame = queryReply(body, 1);
        const reply = readMetaReply(frame);
        const out = withSeqid(frame, reply, seqid);
        expect(out).not.toBe(frame);
        expect(out.length).toBe(frame.length);
        for (let i = 0; i < frame.length; i++) {
          if (i < reply.seqidOffset || i >= reply.seqidOffset + 4) expect(out[i]).toBe(frame[i]);
        }
        expect(readMetaReply(out).seqid).toBe(seqid);
        expect(readMetaReply(frame).seqid).toBe(1);
      }),
      { numRuns: 50 },
    );
  });

  it('throws ProtocolError for a reply that does not describe the frame', () => {
    const frame = queryReply(forwardTo([]));
    expect(() => withSeqid(frame.subarray(0, 10), readMetaReply(frame), 1)).toThrow(ProtocolError);
  });
});

describe('stripHostPortFields', () => {
  it('drops fields 9-11 and keeps every other byte', () => {
    fc.assert(
      fc.property(queryConfigArb, fc.integer(), (body, seqid) => {
        const frame = queryReply(body, seqid);
        const reply = readMetaReply(frame);
        const out = stripHostPortFields(frame, reply);
        const plain = { ...body, partitions: body.partitions.map(withoutHostPorts) };
        // The encoder writes fields in id order, as a meta does: without 9-11 it yields exactly the expected bytes.
        expect(out.toString('hex')).toBe(queryReply(plain, seqid).toString('hex'));
        const again = readMetaReply(out);
        expect(again.seqid).toBe(seqid);
        expect(decodeQueryConfigResponse(out, again.resultOffset! + 3).value).toEqual(plain);
        const hadHostPorts = body.partitions.some((p) => p.hpPrimary || p.hpSecondaries || p.hpLastDrops);
        if (!hadHostPorts) expect(out).toBe(frame);
        else expect(out.length).toBeLessThan(frame.length);
      }),
      { numRuns: 200 },
    );
  });

  it('keeps fields it does not know, wherever they sit', () => {
    const pcBytes = encodeQueryConfigResponse({ ...forwardTo([samplePartition(0, true)]), err: 'ERR_OK' });
    // Insert an unknown i32 field 20 just before the partition's STOP, and an unknown string field 6 in the response.
    const pcStop = pcBytes.length - 2;
    const spliced = Buffer.concat([
      pcBytes.subarray(0, pcStop),
      dump('08 0014 0000abcd'),
      pcBytes.subarray(pcStop, pcBytes.length - 1),
      dump('0b 0006 00000003 "new"'),
      pcBytes.subarray(pcBytes.length - 1),
    ]);
    const frame = encodeReplyFrame('ERR_OK', RPC_QUERY_CONFIG_ACK, 1, spliced);
    const out = stripHostPortFields(frame, readMetaReply(frame));
    expect(out.includes(dump('08 0014 0000abcd'))).toBe(true);
    expect(out.includes(dump('0b 0006 00000003 "new"'))).toBe(true);
    expect(out.includes(Buffer.from('replica1.example'))).toBe(false);
    expect(decodeQueryConfigResponse(out, readMetaReply(out).resultOffset! + 3).value.partitions).toEqual([
      withoutHostPorts(samplePartition(0, true)),
    ]);
  });

  it('returns other replies unchanged', () => {
    const notFound = encodeReplyFrame('ERR_HANDLER_NOT_FOUND', 'RPC_FOO_ACK', 1);
    expect(stripHostPortFields(notFound, readMetaReply(notFound))).toBe(notFound);
    const list = encodeReplyFrame('ERR_OK', RPC_LIST_APPS_ACK, 1, encodeListAppsResponse({ err: 'ERR_OK', infos: [] }));
    expect(stripHostPortFields(list, readMetaReply(list))).toBe(list);
  });
});
