/**
 * The request frame the proxy sends to a MetaServer.
 *
 * Hand-written over one exact-size Buffer: the rDSN v0 header (docs/PROTOCOL.md §1)
 * and the thrift strict message begin are fixed layouts, and the args struct is
 * the client's own bytes, copied unchanged, so unknown args fields survive.
 */
import { MSG_CALL, VERSION_1 } from './thrift.js';

/** `THFT` as a big-endian u32. */
export const FRAME_MAGIC = 0x54484654;
export const V0_HEADER_LENGTH = 48;

/**
 * Encodes a complete v0 request frame: 48-byte header, then the body
 * `message begin(CALL, name, seqid)` + `args`.
 *
 * @param name RPC name, e.g. `RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX`.
 * @param seqid The upstream connection's own sequence id.
 * @param args The args struct bytes exactly as the client sent them.
 * @param timeoutMs Written into client_timeout, so the meta knows the budget left.
 */
export function encodeMetaRequest(name: string, seqid: number, args: Buffer, timeoutMs: number): Buffer {
  // Everything up to the seqid is the same for every request of one RPC but
  // the body length and timeout: copy it from a prefix built once per name.
  const prefix = prefixOf(name);
  const bodyLength = prefix.length - V0_HEADER_LENGTH + 4 + args.length;
  const frame = Buffer.allocUnsafe(prefix.length + 4 + args.length);
  prefix.copy(frame, 0);
  frame.writeUInt32BE(bodyLength, 16);
  frame.writeInt32BE(clampTimeout(timeoutMs), 32);
  frame.writeInt32BE(seqid | 0, prefix.length);
  args.copy(frame, prefix.length + 4);
  return frame;
}

/** Header and message begin up to the seqid, per RPC name (a handful of names ever). */
const prefixes = new Map<string, Buffer>();
function prefixOf(name: string): Buffer {
  let prefix = prefixes.get(name);
  if (prefix === undefined) {
    const full = encodeFullRequest(name, 0, Buffer.alloc(0), 0);
    prefix = full.subarray(0, full.length - 4);
    if (prefixes.size < 64) prefixes.set(name, prefix);
  }
  return prefix;
}

function encodeFullRequest(name: string, seqid: number, args: Buffer, timeoutMs: number): Buffer {
  const nameLength = Buffer.byteLength(name, 'utf8');
  const bodyLength = 4 + 4 + nameLength + 4 + args.length;
  const frame = Buffer.allocUnsafe(V0_HEADER_LENGTH + bodyLength);

  frame.writeUInt32BE(FRAME_MAGIC, 0);
  frame.writeUInt32BE(0, 4); // header version
  frame.writeUInt32BE(V0_HEADER_LENGTH, 8);
  frame.writeUInt32BE(0, 12); // header crc: never checked by the server
  frame.writeUInt32BE(bodyLength, 16);
  frame.writeUInt32BE(0, 20); // body crc: never checked by the server
  frame.writeInt32BE(0, 24); // app_id: meta RPCs are not bound to a table's partition
  frame.writeInt32BE(0, 28); // partition_index
  frame.writeInt32BE(clampTimeout(timeoutMs), 32);
  frame.writeUInt32BE(0, 36); // thread hash
  frame.writeBigUInt64BE(0n, 40); // partition hash

  let at = V0_HEADER_LENGTH;
  at = frame.writeUInt32BE((VERSION_1 | MSG_CALL) >>> 0, at);
  at = frame.writeInt32BE(nameLength, at);
  at += frame.write(name, at, nameLength, 'utf8');
  at = frame.writeInt32BE(seqid | 0, at);
  args.copy(frame, at);
  return frame;
}

/** client_timeout is an i32 of whole ms; a fractional or out-of-range budget must not throw. */
function clampTimeout(timeoutMs: number): number {
  if (!(timeoutMs > 0)) return 0;
  return Math.min(Math.ceil(timeoutMs), 0x7fffffff);
}
