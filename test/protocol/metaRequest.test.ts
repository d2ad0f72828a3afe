import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { tryDecodeFrame } from '../../src/protocol/frame.js';
import { encodeMetaRequest } from '../../src/protocol/metaRequest.js';
import { readMessageBegin, readQueryConfigRequest } from '../../src/protocol/request.js';
import { JAVA_QUERY_TEMP, NODE_QUERY_TEMP, dump } from './helpers.js';

describe('encodeMetaRequest', () => {
  it('rebuilds the stock Node.js frame byte for byte from its args', () => {
    const args = NODE_QUERY_TEMP.subarray(48 + 50);
    expect(encodeMetaRequest('RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX', 0, args, 0).equals(NODE_QUERY_TEMP)).toBe(true);
  });

  it('writes the v0 header fields docs/PROTOCOL.md §1 lists', () => {
    const args = dump('0c 0001 0b 0001 00000001 "t" 00 00');
    const frame = encodeMetaRequest('RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX', 77, args, 4321);
    expect(frame.subarray(0, 48).toString('hex')).toBe(
      dump(`54484654 00000000 00000030 00000000 ${(frame.length - 48).toString(16).padStart(8, '0')}
            00000000 00000000 00000000 000010e1 00000000 0000000000000000`).toString('hex'),
    );
  });

  it('copies the Java client args unchanged behind a strict CALL begin', () => {
    const decoded = tryDecodeFrame(JAVA_QUERY_TEMP, 0, 4096);
    if (decoded.kind !== 'frame') throw new Error('no frame');
    const body = decoded.frame.body;
    const begin = readMessageBegin(body);
    const args = body.subarray(begin.argsOffset);
    const upstream = encodeMetaRequest(begin.name, 900, args, 1500);
    const again = tryDecodeFrame(upstream, 0, 4096);
    if (again.kind !== 'frame') throw new Error('no frame');
    expect(again.frame.header.clientTimeoutMs).toBe(1500);
    const upBegin = readMessageBegin(again.frame.body);
    expect(upBegin).toMatchObject({ name: 'RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX', type: 1, seqid: 900 });
    expect(again.frame.body.subarray(upBegin.argsOffset).equals(args)).toBe(true);
    expect(readQueryConfigRequest(again.frame.body, upBegin.argsOffset).table).toBe('temp');
  });

  it('round-trips any name, seqid, args and timeout', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 60 }),
        fc.integer({ min: -0x80000000, max: 0x7fffffff }),
        fc.uint8Array({ maxLength: 200 }),
        fc.integer({ min: 0, max: 0x7fffffff }),
        (name, seqid, args, timeout) => {
          const frame = encodeMetaRequest(name, seqid, Buffer.from(args), timeout);
          const decoded = tryDecodeFrame(frame, 0, 1 << 16);
          if (decoded.kind !== 'frame') throw new Error('no frame');
          expect(decoded.size).toBe(frame.length);
          expect(decoded.frame.header).toMatchObject({ version: 0, appId: 0, partitionIndex: 0, clientTimeoutMs: timeout });
          const begin = readMessageBegin(decoded.frame.body);
          expect(begin).toMatchObject({ name, seqid, type: 1 });
          expect(Buffer.from(args).equals(decoded.frame.body.subarray(begin.argsOffset))).toBe(true);
        },
      ),
    );
  });

  it('keeps client_timeout a valid i32 for fractional, negative and huge budgets', () => {
    const timeoutOf = (ms: number) => encodeMetaRequest('X', 1, Buffer.alloc(0), ms).readInt32BE(32);
    expect(timeoutOf(12.2)).toBe(13);
    expect(timeoutOf(-5)).toBe(0);
    expect(timeoutOf(Number.NaN)).toBe(0);
    expect(timeoutOf(1e12)).toBe(0x7fffffff);
  });
});
