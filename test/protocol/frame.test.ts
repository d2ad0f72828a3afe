import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameError } from '../../src/errors.js';
import { tryDecodeFrame } from '../../src/protocol/frame.js';
import { encodeMetaRequest } from '../../src/protocol/metaRequest.js';
import { readMessageBegin, readQueryConfigRequest } from '../../src/protocol/request.js';
import { JAVA_QUERY_TEMP, NODE_QUERY_TEMP, dump, v1Frame } from './helpers.js';

const MAX = 1 << 20;

function decodeWhole(buf: Buffer) {
  const result = tryDecodeFrame(buf, 0, MAX);
  if (result.kind !== 'frame') throw new Error(`expected a frame, got ${JSON.stringify(result)}`);
  expect(result.size).toBe(buf.length);
  return result.frame;
}

function expectError(result: ReturnType<typeof tryDecodeFrame>, reason: FrameError['reason']): void {
  expect(result.kind).toBe('error');
  if (result.kind !== 'error') return;
  expect(result.error).toBeInstanceOf(FrameError);
  expect(result.error.reason).toBe(reason);
}

describe('tryDecodeFrame on real client bytes', () => {
  it('decodes the stock Node.js v0 query_cfg("temp") frame', () => {
    expect(NODE_QUERY_TEMP.length).toBe(48 + 0x42);
    const frame = decodeWhole(NODE_QUERY_TEMP);
    expect(frame.header).toEqual({
      version: 0,
      appId: 0,
      partitionIndex: 0,
      clientTimeoutMs: 0,
      partitionHash: 0n,
      isBackupRequest: false,
    });
    expect(frame.body.length).toBe(0x42);
    const begin = readMessageBegin(frame.body);
    expect(begin).toEqual({ name: 'RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX', type: 1, seqid: 0, argsOffset: 50 });
    expect(readQueryConfigRequest(frame.body, begin.argsOffset)).toEqual({ table: 'temp', partitionIndices: [] });
  });

  it('decodes the stock Java v1 query_cfg("temp") frame with the header fields its meta carries', () => {
    expect(JAVA_QUERY_TEMP.length).toBe(16 + 0x25 + 0x4a);
    const frame = decodeWhole(JAVA_QUERY_TEMP);
    expect(frame.header).toEqual({
      version: 1,
      appId: -1, // 0xffffffff
      partitionIndex: -2, // 0xfffffffe
      clientTimeoutMs: 2000, // 0x7d0
      partitionHash: 0n,
      isBackupRequest: false,
    });
    expect(frame.body.length).toBe(0x4a);
    const begin = readMessageBegin(frame.body);
    expect(begin.name).toBe('RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX');
    expect(begin.seqid).toBe(0);
    expect(readQueryConfigRequest(frame.body, begin.argsOffset)).toEqual({ table: 'temp', partitionIndices: [] });
  });

  it('returns the body as a view of the input, not a copy', () => {
    for (const bytes of [NODE_QUERY_TEMP, JAVA_QUERY_TEMP]) {
      const frame = decodeWhole(bytes);
      expect(frame.body.buffer).toBe(bytes.buffer);
      bytes[bytes.length - 1] = 0x7f;
      expect(frame.body[frame.body.length - 1]).toBe(0x7f);
      bytes[bytes.length - 1] = 0;
    }
  });

  it('decodes a frame at an offset and reports its size', () => {
    const buf = Buffer.concat([Buffer.from('junk!'), JAVA_QUERY_TEMP, NODE_QUERY_TEMP]);
    const r1 = tryDecodeFrame(buf, 5, MAX);
    expect(r1.kind === 'frame' && r1.size).toBe(JAVA_QUERY_TEMP.length);
    const r2 = tryDecodeFrame(buf, 5 + JAVA_QUERY_TEMP.length, MAX);
    expect(r2.kind === 'frame' && r2.frame.header.version).toBe(0);
  });
});

describe('tryDecodeFrame on incomplete input', () => {
  it('answers need for every truncation of a valid frame', () => {
    const rich = encodeMetaRequest('RPC_CM_LIST_APPS', 9, Buffer.from('0c00010800010000000000', 'hex'), 5000);
    for (const bytes of [NODE_QUERY_TEMP, JAVA_QUERY_TEMP, rich]) {
      for (let cut = 0; cut < bytes.length; cut++) {
        const result = tryDecodeFrame(bytes.subarray(0, cut), 0, MAX);
        expect(result.kind, `cut at ${cut}`).toBe('need');
      }
    }
  });

  it('tells the total size once the header has said it', () => {
    expect(tryDecodeFrame(NODE_QUERY_TEMP.subarray(0, 19), 0, MAX)).toEqual({ kind: 'need' });
    expect(tryDecodeFrame(NODE_QUERY_TEMP.subarray(0, 20), 0, MAX)).toEqual({ kind: 'need', total: NODE_QUERY_TEMP.length });
    expect(tryDecodeFrame(JAVA_QUERY_TEMP.subarray(0, 16), 0, MAX)).toEqual({ kind: 'need', total: JAVA_QUERY_TEMP.length });
  });

  it('answers need for every truncation of random valid v0 and v1 frames', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 64 }),
        fc.integer({ min: -0x80000000, max: 0x7fffffff }),
        fc.boolean(),
        fc.nat(200),
        (body, appId, v1, cutSeed) => {
          const meta = Buffer.concat([Buffer.from([8, 0, 1]), i32(appId), Buffer.from([0])]);
          const bytes = v1 ? v1Frame(meta, Buffer.from(body)) : encodeMetaRequest('RPC_X', 1, Buffer.from(body), 10);
          const cut = cutSeed % bytes.length;
          expect(tryDecodeFrame(bytes.subarray(0, cut), 0, MAX).kind).toBe('need');
          const whole = tryDecodeFrame(bytes, 0, MAX);
          expect(whole.kind).toBe('frame');
          if (v1 && whole.kind === 'frame') expect(whole.frame.header.appId).toBe(appId);
        },
      ),
    );
  });
});

function i32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(v);
  return b;
}

describe('tryDecodeFrame rejects bad frames', () => {
  it('rejects a wrong magic on its first wrong byte', () => {
    expectError(tryDecodeFrame(Buffer.from('G'), 0, MAX), 'bad-magic');
    expectError(tryDecodeFrame(Buffer.from('GET / HTTP/1.1\r\n'), 0, MAX), 'bad-magic');
    expectError(tryDecodeFrame(Buffer.from('THFX'), 0, MAX), 'bad-magic');
    expect(tryDecodeFrame(Buffer.from('THF'), 0, MAX).kind).toBe('need');
  });

  it('rejects header versions other than 0 and 1', () => {
    expectError(tryDecodeFrame(dump('54484654 00000002'), 0, MAX), 'bad-version');
    expectError(tryDecodeFrame(dump('54484654 ffffffff'), 0, MAX), 'bad-version');
  });

  it('rejects a v0 header length other than 48', () => {
    const bad = Buffer.from(NODE_QUERY_TEMP);
    bad.writeUInt32BE(47, 8);
    expectError(tryDecodeFrame(bad.subarray(0, 12), 0, MAX), 'bad-header-length');
  });

  it('rejects a 4 GiB v0 body length from the header alone, without allocating it', () => {
    const head = Buffer.from(NODE_QUERY_TEMP.subarray(0, 20));
    head.writeUInt32BE(0xffffffff, 16);
    const result = tryDecodeFrame(head, 0, MAX);
    expectError(result, 'too-large');
    expect(result.kind === 'error' && result.error.message).toContain(String(48 + 0xffffffff));
  });

  it('rejects 4 GiB v1 meta and body lengths from the header alone', () => {
    const metaHuge = dump('54484654 00000001 ffffffff');
    expectError(tryDecodeFrame(metaHuge, 0, MAX), 'too-large');
    const bodyHuge = dump('54484654 00000001 00000025 ffffffff');
    expectError(tryDecodeFrame(bodyHuge, 0, MAX), 'too-large');
    // Each length alone fits a 4 GiB limit; their sum wraps to 16 in 32-bit arithmetic but must not here.
    const sumHuge = dump('54484654 00000001 80000000 80000000');
    expectError(tryDecodeFrame(sumHuge, 0, 0xffffffff), 'too-large');
  });

  it('accepts a frame exactly at the limit and rejects one byte over', () => {
    expect(tryDecodeFrame(NODE_QUERY_TEMP, 0, NODE_QUERY_TEMP.length).kind).toBe('frame');
    expectError(tryDecodeFrame(NODE_QUERY_TEMP, 0, NODE_QUERY_TEMP.length - 1), 'too-large');
    expect(tryDecodeFrame(JAVA_QUERY_TEMP, 0, JAVA_QUERY_TEMP.length).kind).toBe('frame');
    expectError(tryDecodeFrame(JAVA_QUERY_TEMP, 0, JAVA_QUERY_TEMP.length - 1), 'too-large');
  });

  it('rejects an unreadable v1 meta', () => {
    const body = NODE_QUERY_TEMP.subarray(48);
    // No STOP inside the declared meta length.
    expectError(tryDecodeFrame(v1Frame(dump('08 0001 00000001'), body), 0, MAX), 'bad-meta');
    // A field cut off by the meta length.
    expectError(tryDecodeFrame(v1Frame(dump('08 0001 0000'), body), 0, MAX), 'bad-meta');
    // An unknown field of an invalid type.
    expectError(tryDecodeFrame(v1Frame(dump('01 0009 00'), body), 0, MAX), 'bad-meta');
    // An unknown string field longer than the meta.
    expectError(tryDecodeFrame(v1Frame(dump('0b 0009 7fffffff 00'), body), 0, MAX), 'bad-meta');
    // Empty meta: not even a STOP.
    expectError(tryDecodeFrame(v1Frame(Buffer.alloc(0), body), 0, MAX), 'bad-meta');
  });
});

describe('tryDecodeFrame on v1 metas', () => {
  const body = NODE_QUERY_TEMP.subarray(48);

  it('treats all five meta fields as optional', () => {
    const frame = decodeWhole(v1Frame(dump('00'), body));
    expect(frame.header).toEqual({
      version: 1,
      appId: 0,
      partitionIndex: 0,
      clientTimeoutMs: 0,
      partitionHash: 0n,
      isBackupRequest: false,
    });
    expect(frame.body.equals(body)).toBe(true);
  });

  it('reads every field, skipping unknown ones and known ids of an unexpected type', () => {
    const meta = dump(`
      0b 0063 00000003 "abc"
      0f 0062 08 00000002 00000001 00000002
      0c 0061 08 0001 00000005 00
      08 0001 00000007
      0b 0002 00000001 "x"
      08 0002 00000003
      08 0003 00001388
      0a 0004 8000000000000001
      02 0005 01
      00`);
    const frame = decodeWhole(v1Frame(meta, body));
    expect(frame.header).toEqual({
      version: 1,
      appId: 7,
      partitionIndex: 3,
      clientTimeoutMs: 5000,
      partitionHash: 0x8000000000000001n,
      isBackupRequest: true,
    });
    expect(readQueryConfigRequest(frame.body, readMessageBegin(frame.body).argsOffset).table).toBe('temp');
  });
});
