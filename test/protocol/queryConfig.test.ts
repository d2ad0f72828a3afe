import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeQueryConfigResponse,
  encodeQueryConfigResponse,
  formatRpcAddress,
  parseRpcAddress,
  readGpid,
  readHostPort,
  readRpcAddress,
  writeGpid,
  writeHostPort,
  writeRpcAddress,
  type QueryConfigResponse,
} from '../../src/protocol/queryConfig.js';
import { ThriftReader, ThriftWriter } from '../../src/protocol/thrift.js';
import { dump, onlyProtocolErrors, queryConfigArb, samplePartition } from './helpers.js';

const reader = (buf: Buffer) => new ThriftReader(buf, 0, buf.length, 'test');
const written = (f: (w: ThriftWriter) => void) => {
  const w = new ThriftWriter(1);
  f(w);
  return w.toBuffer();
};

describe('custom inline types, against the bytes of docs/PROTOCOL.md §4', () => {
  it('gpid: app 2, partition 5', () => {
    expect(written((w) => writeGpid(w, { appId: 2, partitionIndex: 5 })).toString('hex')).toBe('0000000500000002');
    expect(readGpid(reader(dump('00000005 00000002')))).toEqual({ appId: 2, partitionIndex: 5 });
  });

  it('rpc_address: 10.0.0.1:34801', () => {
    const addr = parseRpcAddress('10.0.0.1:34801')!;
    expect(written((w) => writeRpcAddress(w, addr)).toString('hex')).toBe('0a00000187f10001');
    const back = readRpcAddress(reader(dump('0A000001 87F10001')));
    expect(back).toEqual({ ip: 0x0a000001, port: 34801, type: 1 });
    expect(formatRpcAddress(back)).toBe('10.0.0.1:34801');
    expect(formatRpcAddress({ ip: 0xffffffff, port: 65535, type: 1 })).toBe('255.255.255.255:65535');
    expect(formatRpcAddress({ ip: 0, port: 0, type: 0 })).toBeUndefined();
    expect(formatRpcAddress({ ip: 0x0a000001, port: 1, type: 0 })).toBeUndefined();
    expect(parseRpcAddress('10.0.0.256:1')).toBeUndefined();
    expect(parseRpcAddress('host:1')).toBeUndefined();
  });

  it('host_port: "host1":34801', () => {
    const bytes = dump('00000005 686f737431 87f1 01');
    expect(written((w) => writeHostPort(w, { host: 'host1', port: 34801, type: 1 })).equals(bytes)).toBe(true);
    expect(readHostPort(reader(bytes))).toEqual({ host: 'host1', port: 34801, type: 1 });
  });
});

describe('query_cfg_response codec', () => {
  it('round-trips configurations with and without hp_* fields', () => {
    const value: QueryConfigResponse = {
      err: 'ERR_OK',
      appId: 2,
      partitionCount: 4,
      isStateful: true,
      partitions: [samplePartition(0, true), samplePartition(1, false), samplePartition(2, true)],
    };
    const bytes = encodeQueryConfigResponse(value);
    const { value: back, end } = decodeQueryConfigResponse(bytes, 0);
    expect(back).toEqual(value);
    expect(end).toBe(bytes.length);
    expect('hpPrimary' in back.partitions[1]!).toBe(false);
  });

  it('round-trips any response, at any offset', () => {
    fc.assert(
      fc.property(queryConfigArb, fc.uint8Array({ maxLength: 8 }), (value, prefix) => {
        const bytes = Buffer.concat([Buffer.from(prefix), encodeQueryConfigResponse(value), Buffer.from([0xee])]);
        const { value: back, end } = decodeQueryConfigResponse(bytes, prefix.length);
        expect(back).toEqual(value);
        expect(end).toBe(bytes.length - 1);
      }),
      { numRuns: 300 },
    );
  });

  it('skips fields it does not know and reads a known id of the wrong type as unknown', () => {
    const bytes = dump(`
      0b 0063 00000002 "hi"
      0c 0001 00000006 "ERR_OK"
      0b 0002 00000001 "x"
      08 0003 00000008
      0f 0005 0c 00000001
        0c 0001 00000001 00000002
        0b 0063 00000000
        0c 0004 0A000001 87F10001
        00
      00`);
    const { value } = decodeQueryConfigResponse(bytes, 0);
    expect(value).toMatchObject({ err: 'ERR_OK', appId: 0, partitionCount: 8, isStateful: false });
    expect(value.partitions[0]).toMatchObject({ pid: { appId: 2, partitionIndex: 1 }, primary: { ip: 0x0a000001, port: 34801, type: 1 } });
  });

  it('throws only ProtocolError on truncated or mutated bytes', () => {
    const bytes = encodeQueryConfigResponse({
      err: 'ERR_OK',
      appId: 1,
      partitionCount: 1,
      isStateful: true,
      partitions: [samplePartition(0, true)],
    });
    for (let cut = 0; cut < bytes.length; cut++) {
      expect(onlyProtocolErrors(() => decodeQueryConfigResponse(bytes.subarray(0, cut), 0)), `cut ${cut}`).toBe('protocol-error');
    }
    fc.assert(
      fc.property(fc.nat(bytes.length - 1), fc.integer({ min: 0, max: 255 }), (at, byte) => {
        const mutated = Buffer.from(bytes);
        mutated[at] = byte;
        onlyProtocolErrors(() => decodeQueryConfigResponse(mutated, 0));
      }),
      { numRuns: 3000 },
    );
  });
});
