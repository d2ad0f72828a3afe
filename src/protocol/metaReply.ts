/**
 * Reading a MetaServer's reply frame (docs/PROTOCOL.md §3, §6) and the two rewrites
 * the relay makes: the client's seqid, and (opt-in) dropping hp_* fields.
 *
 * Hand-written over ThriftReader: the reply prefix (length, header error name,
 * message begin) is fixed layout, and the result struct holds Pegasus's inline
 * custom types, which only a schema-aware reader can walk. The `thrift`
 * package's generic skip handles fields this codec does not know.
 *
 * Reading is deliberately shallow: the relay forwards the bytes unchanged, so
 * only what routing needs (body `err`, the forward address) is decoded, and a
 * newer meta's unknown fields after those cannot make a good reply unreadable.
 */
import { ProtocolError } from '../errors.js';
import type { StringInterner } from './intern.js';
import { RPC_LIST_APPS, RPC_QUERY_CONFIG } from './errorCodes.js';
import {
  formatHostPort,
  formatRpcAddress,
  readErrorCode,
  readPartitionConfiguration,
  readQueryConfigResponse,
  type PartitionConfiguration,
} from './queryConfig.js';
import { readMessageHeader } from './request.js';
import { MSG_REPLY, ThriftReader, T_LIST, T_STOP, T_STRUCT } from './thrift.js';
import type { MetaReply } from './types.js';

export const RPC_QUERY_CONFIG_ACK = `${RPC_QUERY_CONFIG}_ACK`;
export const RPC_LIST_APPS_ACK = `${RPC_LIST_APPS}_ACK`;
/** Spelled out here rather than imported: updateAppEnv.ts imports this module. */
const RPC_UPDATE_APP_ENV_ACK = 'RPC_CM_UPDATE_APP_ENV_ACK';

const MAX_ERROR_NAME_BYTES = 256;

/**
 * The total length of the reply frame starting at `offset` (the i32 prefix
 * counts its own 4 bytes), read as unsigned so a garbage prefix shows up as a
 * huge length for the caller's limit check. Undefined when fewer than 4 bytes are there.
 */
export function replyFrameLength(buf: Buffer, offset: number): number | undefined {
  if (buf.length - offset < 4) return undefined;
  return buf.readUInt32BE(offset);
}

/**
 * Reads what the proxy needs from one complete reply frame: header error,
 * reply name, seqid (and where it sits), and for query-config, list-apps and
 * update-app-env acks the body `err`; for a query-config FORWARD also the leader address.
 *
 * @throws ProtocolError on malformed input, and on nothing else.
 */
export function readMetaReply(frame: Buffer, names?: StringInterner): MetaReply {
  if (names !== undefined) {
    const fast = readCommonReply(frame, names);
    if (fast !== undefined) return fast;
  }
  const r = new ThriftReader(frame, 0, frame.length, 'MetaServer reply');
  const declared = r.u32();
  if (declared !== frame.length) {
    r.fail(`length prefix says ${declared} bytes but the frame has ${frame.length}`);
  }
  const headerError = r.string(MAX_ERROR_NAME_BYTES);
  const { name, type, seqid, seqidOffset } = readMessageHeader(r);
  if (type !== MSG_REPLY) r.fail(`message type ${type} is not REPLY (2)`);
  const reply: MetaReply = { headerError, name, seqid, seqidOffset };
  if (headerError !== 'ERR_OK') return reply;
  reply.resultOffset = r.pos;

  if (name === RPC_QUERY_CONFIG_ACK) {
    if (!enterResult(r)) r.fail('the query-config reply has no result (field 0)');
    readQueryConfigFacts(r, reply);
  } else if (name === RPC_LIST_APPS_ACK || name === RPC_UPDATE_APP_ENV_ACK) {
    // Both responses lead with `err`; a follower answers FORWARD naming no leader.
    const what = name === RPC_LIST_APPS_ACK ? 'list-apps' : 'update-app-env';
    if (!enterResult(r)) r.fail(`the ${what} reply has no result (field 0)`);
    reply.bodyError = readLeadingError(r);
    if (reply.bodyError === undefined) r.fail(`the ${what} response has no err (field 1)`);
  }
  return reply;
}

/** `0x80010002`: strict version 1, message type REPLY. */
const STRICT_REPLY = 0x80010002 | 0;

/**
 * The common case read by offsets: a query-config ack whose body error is not
 * a forward (the forward's address needs the partition list, left to the
 * general reader), or any reply with a header error. Undefined when the
 * frame is anything else, or odd in any way: the general reader decides.
 */
function readCommonReply(frame: Buffer, names: StringInterner): MetaReply | undefined {
  const end = frame.length;
  if (end < 20 || frame.readUInt32BE(0) !== end) return undefined;
  const errorLength = frame.readInt32BE(4);
  if (errorLength < 0 || errorLength > MAX_ERROR_NAME_BYTES || 8 + errorLength + 8 > end) return undefined;
  let at = 8 + errorLength;
  if (frame.readInt32BE(at) !== STRICT_REPLY) return undefined;
  const nameLength = frame.readInt32BE(at + 4);
  if (nameLength < 0 || nameLength > 256 || at + 8 + nameLength + 4 > end) return undefined;
  const headerError = names.get(frame, 8, 8 + errorLength);
  const name = names.get(frame, at + 8, at + 8 + nameLength);
  at += 8 + nameLength;
  const reply: MetaReply = { headerError, name, seqid: frame.readInt32BE(at), seqidOffset: at };
  at += 4;
  if (headerError !== 'ERR_OK') return reply;
  if (name !== RPC_QUERY_CONFIG_ACK) return undefined;
  reply.resultOffset = at;
  // result wrapper field 0 STRUCT, then query_cfg_response field 1 (error_code: a string marked STRUCT).
  if (at + 10 > end || frame[at] !== T_STRUCT || frame.readInt16BE(at + 1) !== 0) return undefined;
  if (frame[at + 3] !== T_STRUCT || frame.readInt16BE(at + 4) !== 1) return undefined;
  const bodyLength = frame.readInt32BE(at + 6);
  if (bodyLength < 0 || bodyLength > MAX_ERROR_NAME_BYTES || at + 10 + bodyLength > end) return undefined;
  const bodyError = names.get(frame, at + 10, at + 10 + bodyLength);
  if (bodyError === 'ERR_FORWARD_TO_OTHERS') return undefined;
  reply.bodyError = bodyError;
  return reply;
}

/**
 * Moves the reader into the result wrapper's field 0 (the response struct).
 * Returns false when the wrapper ends without one.
 */
export function enterResult(r: ThriftReader): boolean {
  for (;;) {
    const type = r.fieldType();
    if (type === T_STOP) return false;
    const id = r.fieldId();
    if (id === 0 && type === T_STRUCT) return true;
    r.skip(type);
  }
}

/** The `err` field (1) of a response struct whose err is an error_code; undefined when absent. */
function readLeadingError(r: ThriftReader): string | undefined {
  for (;;) {
    const type = r.fieldType();
    if (type === T_STOP) return undefined;
    const id = r.fieldId();
    if (id === 1 && type === T_STRUCT) return readErrorCode(r);
    r.skip(type);
  }
}

/**
 * Reads query_cfg_response just far enough: `err`, and when it is
 * ERR_FORWARD_TO_OTHERS the first partition's primary. Servers write fields in
 * id order, so for any other error reading stops right after field 1.
 */
function readQueryConfigFacts(r: ThriftReader, reply: MetaReply): void {
  let first: PartitionConfiguration | undefined;
  for (;;) {
    const type = r.fieldType();
    if (type === T_STOP) break;
    const id = r.fieldId();
    if (id === 1 && type === T_STRUCT) {
      reply.bodyError = readErrorCode(r);
      if (reply.bodyError !== 'ERR_FORWARD_TO_OTHERS') return;
    } else if (id === 5 && type === T_LIST) {
      const { size } = r.listBegin(T_STRUCT);
      if (size > 0) first = readPartitionConfiguration(r);
      if (reply.bodyError !== undefined) break;
      // `err` not seen yet (out-of-order writer): read past the rest to find it.
      for (let i = 1; i < size; i++) readPartitionConfiguration(r);
    } else {
      r.skip(type);
    }
  }
  if (reply.bodyError === undefined) r.fail('the query-config response has no err (field 1)');
  if (reply.bodyError === 'ERR_FORWARD_TO_OTHERS' && first !== undefined) {
    const forward =
      (first.hpPrimary && formatHostPort(first.hpPrimary)) ?? formatRpcAddress(first.primary);
    if (forward !== undefined) reply.forward = forward;
  }
}

/**
 * A copy of `frame` with the seqid replaced; the body is not re-encoded.
 *
 * @throws ProtocolError when `reply` does not describe this frame.
 */
export function withSeqid(frame: Buffer, reply: MetaReply, seqid: number): Buffer {
  const copy = Buffer.allocUnsafe(frame.length);
  frame.copy(copy);
  return setSeqid(copy, reply, seqid);
}

/**
 * `frame` itself with the seqid replaced, for a frame nothing else will read
 * (the relay's last reader of an upstream reply): no copy.
 *
 * @throws ProtocolError when `reply` does not describe this frame.
 */
export function setSeqid(frame: Buffer, reply: MetaReply, seqid: number): Buffer {
  if (reply.seqidOffset < 0 || reply.seqidOffset + 4 > frame.length) {
    throw new ProtocolError(`MetaServer reply: seqid offset ${reply.seqidOffset} is outside the ${frame.length}-byte frame.`);
  }
  frame.writeInt32BE(seqid | 0, reply.seqidOffset);
  return frame;
}

/**
 * A query-config reply re-written without fields 9–11 (hp_primary,
 * hp_secondaries, hp_last_drops) of each partition_configuration, for clients
 * built from pre-2.6 IDL. Every other byte is kept; the length prefix is fixed.
 * Returns `frame` itself when there is nothing to drop or the frame is not a
 * successful query-config reply.
 *
 * @throws ProtocolError when the configurations cannot be walked.
 */
export function stripHostPortFields(frame: Buffer, reply: MetaReply): Buffer {
  if (reply.resultOffset === undefined || reply.name !== RPC_QUERY_CONFIG_ACK) return frame;
  const r = new ThriftReader(frame, reply.resultOffset, frame.length, 'query-config reply');
  if (!enterResult(r)) return frame;
  const cuts: number[] = [];
  readQueryConfigResponse(r, cuts);
  if (cuts.length === 0) return frame;

  let dropped = 0;
  for (let i = 0; i < cuts.length; i += 2) dropped += cuts[i + 1]! - cuts[i]!;
  const out = Buffer.allocUnsafe(frame.length - dropped);
  let from = 0;
  let at = 0;
  for (let i = 0; i < cuts.length; i += 2) {
    at += frame.copy(out, at, from, cuts[i]!);
    from = cuts[i + 1]!;
  }
  frame.copy(out, at, from);
  out.writeUInt32BE(out.length, 0);
  return out;
}
