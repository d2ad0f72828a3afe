import fc from 'fast-check';
import { TBinaryProtocol, TBufferedTransport, Thrift } from 'thrift';
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../src/errors.js';
import { tryDecodeFrame } from '../../src/protocol/frame.js';
import { encodeMetaRequest } from '../../src/protocol/metaRequest.js';
import {
  encodeQueryConfigArgs,
  readCommonQueryConfigCall,
  readMessageBegin,
  readQueryConfigRequest,
  type QueryConfigCall,
} from '../../src/protocol/request.js';
import { RPC_QUERY_CONFIG } from '../../src/protocol/errorCodes.js';
import { StringInterner } from '../../src/protocol/intern.js';
import { NODE_QUERY_TEMP, dump, onlyProtocolErrors } from './helpers.js';

const NODE_BODY = NODE_QUERY_TEMP.subarray(48);

/** Bytes written by the `thrift` package itself, as an independent encoder. */
function thriftBytes(write: (p: TBinaryProtocol) => void, strict = true): Buffer {
  let out: Buffer | undefined;
  const transport = new TBufferedTransport(undefined, (buf) => {
    out = buf;
  });
  const protocol = new TBinaryProtocol(transport, false, strict);
  write(protocol);
  protocol.flush();
  return out!;
}

describe('readMessageBegin', () => {
  it('reads the strict form every client writes', () => {
    expect(readMessageBegin(NODE_BODY)).toEqual({
      name: 'RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX',
      type: 1,
      seqid: 0,
      argsOffset: 4 + 4 + 38 + 4,
    });
  });

  it('reads the old non-strict form and ONEWAY', () => {
    const body = dump('00000007 "RPC_FOO" 04 0000002a 00');
    expect(readMessageBegin(body)).toEqual({ name: 'RPC_FOO', type: 4, seqid: 42, argsOffset: 4 + 7 + 1 + 4 });
  });

  it('agrees with the thrift package on both forms', () => {
    for (const strict of [true, false]) {
      const body = thriftBytes((p) => {
        p.writeMessageBegin('RPC_CM_LIST_APPS', Thrift.MessageType.CALL, -7);
        p.writeStructBegin('x');
        p.writeFieldStop();
      }, strict);
      expect(readMessageBegin(body)).toEqual({
        name: 'RPC_CM_LIST_APPS',
        type: 1,
        seqid: -7,
        argsOffset: body.length - 1,
      });
    }
  });

  it('rejects message types other than CALL and ONEWAY', () => {
    expect(() => readMessageBegin(dump('80010002 00000001 "a" 00000000'))).toThrow(ProtocolError);
    expect(() => readMessageBegin(dump('80010003 00000001 "a" 00000000'))).toThrow(ProtocolError);
    expect(() => readMessageBegin(dump('00000001 "a" 02 00000000'))).toThrow(ProtocolError);
  });

  it('rejects a bad strict version', () => {
    expect(() => readMessageBegin(dump('80020001 00000001 "a" 00000000'))).toThrow(/version/);
  });

  it('rejects names over 256 bytes in both forms, before reading them', () => {
    const name = 'N'.repeat(257);
    const strict = Buffer.concat([dump('80010001 00000101'), Buffer.from(name), dump('00000000')]);
    const loose = Buffer.concat([dump('00000101'), Buffer.from(name), dump('01 00000000')]);
    expect(() => readMessageBegin(strict)).toThrow(/256/);
    expect(() => readMessageBegin(loose)).toThrow(/256/);
    expect(readMessageBegin(Buffer.concat([dump('80010001 00000100'), Buffer.from(name.slice(1)), dump('00000000')])).name).toHaveLength(256);
    // A 2 GiB name length is an error, not an allocation.
    expect(() => readMessageBegin(dump('80010001 7fffffff'))).toThrow(ProtocolError);
    expect(() => readMessageBegin(dump('80010001 ffffffff'))).toThrow(ProtocolError);
  });

  it('throws ProtocolError on every truncation', () => {
    for (let cut = 0; cut < 50; cut++) {
      expect(() => readMessageBegin(NODE_BODY.subarray(0, cut)), `cut ${cut}`).toThrow(ProtocolError);
    }
  });

  it('throws only ProtocolError on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        onlyProtocolErrors(() => readMessageBegin(Buffer.from(bytes)));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('readQueryConfigRequest', () => {
  const args = (hex: string) => {
    const body = dump(`80010001 00000001 "Q" 00000003 ${hex}`);
    return readQueryConfigRequest(body, readMessageBegin(body).argsOffset);
  };

  it('reads Java/Go args with a partition list', () => {
    expect(args('0c 0001  0b 0001 00000004 "temp"  0f 0002 08 00000003 00000000 00000002 00000007  00  00')).toEqual({
      table: 'temp',
      partitionIndices: [0, 2, 7],
    });
  });

  it('accepts any wrapper field id and skips unknown fields at both levels', () => {
    expect(
      args(`08 0005 00000001
            0c 0009  0a 0007 0000000000000001  0b 0001 00000002 "t2"  0d 0003 0b 08 00000001 00000001 "k" 00000002  00
            0c 0001  0b 0001 00000002 "no"  00
            00`),
    ).toEqual({ table: 't2', partitionIndices: [] });
  });

  it('agrees with args written by the thrift package', () => {
    const body = Buffer.concat([
      dump('80010001 00000001 "Q" 00000000'),
      thriftBytes((p) => {
        p.writeStructBegin('args');
        p.writeFieldBegin('req', Thrift.Type.STRUCT, 1);
        p.writeStructBegin('query_cfg_request');
        p.writeFieldBegin('app_name', Thrift.Type.STRING, 1);
        p.writeString('stat_table');
        p.writeFieldEnd();
        p.writeFieldBegin('partition_indices', Thrift.Type.LIST, 2);
        p.writeListBegin(Thrift.Type.I32, 2);
        p.writeI32(3);
        p.writeI32(-1);
        p.writeListEnd();
        p.writeFieldEnd();
        p.writeFieldStop();
        p.writeStructEnd();
        p.writeFieldEnd();
        p.writeFieldStop();
        p.writeStructEnd();
      }),
    ]);
    expect(readQueryConfigRequest(body, readMessageBegin(body).argsOffset)).toEqual({
      table: 'stat_table',
      partitionIndices: [3, -1],
    });
  });

  it('round-trips encodeQueryConfigArgs through a request frame', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), fc.array(fc.integer({ min: -5, max: 1000 }), { maxLength: 20 }), (table, indices) => {
        const frame = encodeMetaRequest('RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX', 1, encodeQueryConfigArgs(table, indices), 100);
        const decoded = tryDecodeFrame(frame, 0, 1 << 16);
        if (decoded.kind !== 'frame') throw new Error('no frame');
        const body = decoded.frame.body;
        expect(readQueryConfigRequest(body, readMessageBegin(body).argsOffset)).toEqual({ table, partitionIndices: indices });
      }),
    );
  });

  it('reads the stock layout (by offsets) and any other layout of the same request alike', () => {
    const names = new StringInterner();
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), fc.array(fc.integer(), { maxLength: 20 }), fc.boolean(), (table, indices, list) => {
        const canonical = encodeQueryConfigArgs(table, list ? indices : []);
        // The same request with an unknown i32 field in the wrapper after the request struct: the general reader's path.
        const other = Buffer.concat([canonical.subarray(0, canonical.length - 1), dump('08 0007 0000002a 00')]);
        const expected = { table, partitionIndices: list ? indices : [] };
        expect(readQueryConfigRequest(canonical, 0, names)).toEqual(expected);
        expect(readQueryConfigRequest(canonical, 0)).toEqual(expected);
        expect(readQueryConfigRequest(other, 0, names)).toEqual(expected);
      }),
    );
    // Table names are one string object per name.
    const a = readQueryConfigRequest(encodeQueryConfigArgs('orders'), 0, names).table;
    expect(readQueryConfigRequest(encodeQueryConfigArgs('orders', [1]), 0, names).table).toBe(a);
  });

  it('rejects args without a request struct or without app_name', () => {
    expect(() => args('00')).toThrow(/no request struct/);
    expect(() => args('08 0001 00000001 00')).toThrow(/no request struct/);
    expect(() => args('0c 0001 0f 0002 08 00000000 00 00')).toThrow(/app_name/);
  });

  it('rejects a partition list of another element type or longer than the bytes left', () => {
    expect(() => args('0c 0001 0f 0002 0b 00000000 00 00')).toThrow(ProtocolError);
    expect(() => args('0c 0001 0f 0002 08 7fffffff 00 00')).toThrow(/cannot fit/);
    expect(() => args('0c 0001 0f 0002 08 ffffffff 00 00')).toThrow(/negative/);
  });

  it('throws ProtocolError on every truncation of a valid request', () => {
    const body = dump('80010001 00000001 "Q" 00000003 0c 0001 0b 0001 00000004 "temp" 0f 0002 08 00000001 00000005 00 00');
    const argsOffset = readMessageBegin(body).argsOffset;
    for (let cut = argsOffset; cut < body.length; cut++) {
      expect(() => readQueryConfigRequest(body.subarray(0, cut), argsOffset), `cut ${cut}`).toThrow(ProtocolError);
    }
  });

  it('throws only ProtocolError on random args', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), (bytes) => {
        onlyProtocolErrors(() => readQueryConfigRequest(Buffer.from(bytes), 0));
      }),
      { numRuns: 3000 },
    );
    // Random bytes rarely get past the first field; mutate a valid body too.
    const valid = dump('0c 0001 0b 0001 00000004 "temp" 0f 0002 08 00000001 00000005 00 00');
    fc.assert(
      fc.property(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 }), (at, byte) => {
        const mutated = Buffer.from(valid);
        mutated[at] = byte;
        onlyProtocolErrors(() => readQueryConfigRequest(mutated, 0));
      }),
      { numRuns: 3000 },
    );
  });
});

describe('readCommonQueryConfigCall', () => {
  const read = (body: Buffer, names?: StringInterner): QueryConfigCall | undefined => {
    const out: QueryConfigCall = { name: '', seqid: 0, argsOffset: 0, table: '', key: '' };
    return readCommonQueryConfigCall(body, RPC_QUERY_CONFIG, names, out) ? out : undefined;
  };
  /** What the general readers make of the same body, or undefined when they throw. */
  const general = (body: Buffer): QueryConfigCall | undefined => {
    try {
      const begin = readMessageBegin(body);
      const { table, partitionIndices } = readQueryConfigRequest(body, begin.argsOffset);
      return { name: begin.name, seqid: begin.seqid, argsOffset: begin.argsOffset, table, key: partitionIndices.join(',') };
    } catch {
      return undefined;
    }
  };
  const request = (table: string, indices: number[], seqid: number) =>
    Buffer.concat([dump(`80010001 00000026 "${RPC_QUERY_CONFIG}"`), Buffer.from([seqid >>> 24, (seqid >>> 16) & 255, (seqid >>> 8) & 255, seqid & 255]), encodeQueryConfigArgs(table, indices)]);

  it('reads what every stock client sends as the general readers do', () => {
    expect(read(NODE_BODY)).toEqual(general(NODE_BODY));
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), fc.array(fc.integer(), { maxLength: 5 }), fc.integer(), (table, indices, seqid) => {
        const body = request(table, indices, seqid);
        expect(read(body)).toEqual(general(body));
        expect(read(body, new StringInterner())).toEqual(general(body));
      }),
    );
  });

  it('leaves anything else to the general readers', () => {
    expect(read(dump('00000007 "RPC_FOO" 04 0000002a 00'))).toBeUndefined();
    expect(read(dump('80010001 00000007 "RPC_FOO" 0000002a 0c 0001 0b 0001 00000001 "t" 00 00'))).toBeUndefined();
    expect(read(dump(`80010004 00000026 "${RPC_QUERY_CONFIG}" 0000002a 0c 0001 0b 0001 00000001 "t" 00 00`))).toBeUndefined();
    // The request struct under field 1 with an extra field: another layout.
    expect(read(dump(`80010001 00000026 "${RPC_QUERY_CONFIG}" 0000002a 0c 0001 0b 0001 00000001 "t" 08 0003 00000001 00 00`))).toBeUndefined();
  });

  it('agrees with the general readers on every mutation of a valid body', () => {
    const valid = request('temp', [5, 7], 42);
    fc.assert(
      fc.property(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 }), fc.nat(valid.length), (at, byte, cut) => {
        const mutated = Buffer.from(valid);
        mutated[at] = byte;
        const body = mutated.subarray(0, cut);
        const fast = read(body);
        if (fast !== undefined) expect(fast).toEqual(general(body));
      }),
      { numRuns: 3000 },
    );
  });
});
