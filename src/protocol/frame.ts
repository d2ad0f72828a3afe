/**
 * Finding request frames in a client's byte stream (docs/PROTOCOL.md §1): the rDSN
 * v0 fixed header and the v1 header with its thrift request meta.
 *
 * Hand-written over Buffer offsets: this runs for every frame, so it reads in
 * place, returns `need` (no exception) while bytes are missing, and builds one
 * header object per frame. The v1 request meta is read by hand as well; only
 * a meta field this codec does not know goes to the `thrift` package's
 * generic skip (through ThriftReader).
 */
import { FrameError, ProtocolError } from '../errors.js';
import { FRAME_MAGIC, V0_HEADER_LENGTH } from './metaRequest.js';
import { ThriftReader, T_BOOL, T_I32, T_I64, T_STOP } from './thrift.js';
import type { RequestFrame, RequestHeader } from './types.js';

export type FrameResult =
  | { kind: 'frame'; frame: RequestFrame; size: number }
  /**
   * More bytes are needed. `total` is the whole frame's size once the header
   * has told it (so a caller can size a buffer), absent before that.
   */
  | { kind: 'need'; total?: number }
  | { kind: 'error'; error: FrameError };

/** Bytes that always tell a frame's total size: 20 for v0 (body length at 16), 16 for v1. */
export const FRAME_SIZE_PREFIX_BYTES = 20;

const V1_HEADER_LENGTH = 16;
const MAGIC_BYTES = [0x54, 0x48, 0x46, 0x54] as const; // "THFT"
const NEED: FrameResult = Object.freeze({ kind: 'need' }) as FrameResult;

/**
 * Tries to decode one request frame at `offset`. Rejects as soon as the bytes
 * seen so far are wrong: a wrong magic byte, version or header length, or a
 * length over `maxFrameBytes` (checked from the header, before any body bytes
 * are waited for, so a 4 GiB length costs nothing). A frame's body is a view
 * of `buf`.
 *
 * @param maxFrameBytes Largest whole frame (header included) accepted.
 */
export function tryDecodeFrame(buf: Buffer, offset: number, maxFrameBytes: number): FrameResult {
  const n = buf.length - offset;
  // Check the magic byte by byte so a stray protocol (an HTTP probe, say) is
  // rejected on its first bytes rather than after a header's worth.
  const magicSeen = n < 4 ? n : 4;
  for (let i = 0; i < magicSeen; i++) {
    if (buf[offset + i] !== MAGIC_BYTES[i]) {
      return frameError('bad-magic', `The frame does not start with "THFT" (byte ${i} is 0x${buf[offset + i]!.toString(16)}).`);
    }
  }
  if (n < 8) return NEED;
  const version = buf.readUInt32BE(offset + 4);
  if (version === 0) return tryDecodeV0(buf, offset, n, maxFrameBytes);
  if (version === 1) return tryDecodeV1(buf, offset, n, maxFrameBytes);
  return frameError('bad-version', `The frame's header version is ${version}; only 0 and 1 exist.`);
}

function tryDecodeV0(buf: Buffer, offset: number, n: number, maxFrameBytes: number): FrameResult {
  if (n < 12) return NEED;
  const headerLength = buf.readUInt32BE(offset + 8);
  if (headerLength !== V0_HEADER_LENGTH) {
    return frameError('bad-header-length', `The v0 frame's header length is ${headerLength}, not ${V0_HEADER_LENGTH}.`);
  }
  if (n < 20) return NEED;
  const total = V0_HEADER_LENGTH + buf.readUInt32BE(offset + 16);
  if (total > maxFrameBytes) return tooLarge(total, maxFrameBytes);
  if (n < total) return { kind: 'need', total };
  const header: RequestHeader = {
    version: 0,
    appId: buf.readInt32BE(offset + 24),
    partitionIndex: buf.readInt32BE(offset + 28),
    clientTimeoutMs: buf.readInt32BE(offset + 32),
    partitionHash: buf.readBigUInt64BE(offset + 40),
    isBackupRequest: false,
  };
  return { kind: 'frame', frame: { header, body: buf.subarray(offset + V0_HEADER_LENGTH, offset + total) }, size: total };
}

function tryDecodeV1(buf: Buffer, offset: number, n: number, maxFrameBytes: number): FrameResult {
  if (n < 12) return NEED;
  const metaLength = buf.readUInt32BE(offset + 8);
  if (V1_HEADER_LENGTH + metaLength > maxFrameBytes) return tooLarge(V1_HEADER_LENGTH + metaLength, maxFrameBytes);
  if (n < V1_HEADER_LENGTH) return NEED;
  const total = V1_HEADER_LENGTH + metaLength + buf.readUInt32BE(offset + 12);
  if (total > maxFrameBytes) return tooLarge(total, maxFrameBytes);
  if (n < total) return { kind: 'need', total };
  const metaStart = offset + V1_HEADER_LENGTH;
  const header = readRequestMeta(buf, metaStart, metaStart + metaLength);
  if (typeof header === 'string') return frameError('bad-meta', `The v1 request meta cannot be read: ${header}`);
  return { kind: 'frame', frame: { header, body: buf.subarray(metaStart + metaLength, offset + total) }, size: total };
}

/**
 * Reads the v1 request meta struct in `[start, end)`: all five fields
 * optional, a known id with an unexpected type skipped as thrift readers do.
 * Bytes after its STOP are ignored. Returns a reason instead of throwing.
 */
function readRequestMeta(buf: Buffer, start: number, end: number): RequestHeader | string {
  const header: RequestHeader = {
    version: 1,
    appId: 0,
    partitionIndex: 0,
    clientTimeoutMs: 0,
    partitionHash: 0n,
    isBackupRequest: false,
  };
  let at = start;
  for (;;) {
    if (at >= end) return `it ends at byte ${at - start} without STOP.`;
    const type = buf[at]!;
    if (type === T_STOP) return header;
    if (at + 3 > end) return `a field header at byte ${at - start} is cut off.`;
    const id = buf.readInt16BE(at + 1);
    at += 3;
    const width = type === T_I32 ? 4 : type === T_I64 ? 8 : type === T_BOOL ? 1 : 0;
    const known =
      (type === T_I32 && (id === 1 || id === 2 || id === 3)) ||
      (type === T_I64 && id === 4) ||
      (type === T_BOOL && id === 5);
    if (!known) {
      const skipped = skipField(buf, at, end, type);
      if (typeof skipped === 'string') return skipped;
      at = skipped;
      continue;
    }
    if (at + width > end) return `field ${id} at byte ${at - start} is cut off.`;
    switch (id) {
      case 1:
        header.appId = buf.readInt32BE(at);
        break;
      case 2:
        header.partitionIndex = buf.readInt32BE(at);
        break;
      case 3:
        header.clientTimeoutMs = buf.readInt32BE(at);
        break;
      case 4:
        // Declared i64 in the IDL, u64 in rDSN; read as the server does.
        header.partitionHash = buf.readBigUInt64BE(at);
        break;
      default:
        header.isBackupRequest = buf[at] !== 0;
    }
    at += width;
  }
}

function skipField(buf: Buffer, at: number, end: number, type: number): number | string {
  const r = new ThriftReader(buf, at, end, 'v1 request meta');
  try {
    r.skip(type);
  } catch (e) {
    if (e instanceof ProtocolError) return e.message;
    throw e;
  }
  return r.pos;
}

function tooLarge(total: number, maxFrameBytes: number): FrameResult {
  return frameError('too-large', `The frame declares ${total} bytes, more than the ${maxFrameBytes} allowed.`);
}

function frameError(reason: FrameError['reason'], message: string): FrameResult {
  return { kind: 'error', error: new FrameError(reason, message) };
}
