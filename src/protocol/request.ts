/**
 * Reading a client's request body: the thrift message begin and the
 * query-config args (docs/PROTOCOL.md §2, §5).
 *
 * Hand-written over ThriftReader: it runs once per request on the hot path and
 * must accept both message-begin forms with tight bounds. The `thrift`
 * package's generic skip steps over args fields this codec does not know.
 */
import { ProtocolError } from '../errors.js';
import type { StringInterner } from './intern.js';
import type { MessageBegin, QueryConfigRequest } from './types.js';
import {
  MSG_CALL,
  MSG_ONEWAY,
  ThriftReader,
  ThriftWriter,
  T_I32,
  T_LIST,
  T_STOP,
  T_STRING,
  T_STRUCT,
  VERSION_1,
  VERSION_MASK,
} from './thrift.js';

/**
 * The longest RPC name accepted. Names the server knows are at most 47 bytes;
 * the bound stops a garbage length from being read as a name.
 */
export const MAX_RPC_NAME_BYTES = 256;
/** Pegasus table names are short identifiers; this only bounds garbage. */
const MAX_TABLE_NAME_BYTES = 1024;

/** A message begin read by `readMessageHeader`, wherever it sits in a buffer. */
export interface MessageHeader {
  name: string;
  type: number;
  seqid: number;
  /** Offset of the 4-byte seqid. */
  seqidOffset: number;
}

/**
 * Reads a thrift message begin at the reader's position, strict
 * (`0x8001000t`, name, seqid) or old non-strict (name, i8 type, seqid) form.
 * Leaves the reader just past the seqid. The caller checks the type.
 */
export function readMessageHeader(r: ThriftReader): MessageHeader {
  const first = r.i32();
  let name: string;
  let type: number;
  if (first < 0) {
    if ((first & VERSION_MASK) >>> 0 !== VERSION_1) {
      r.fail(`bad message version 0x${(first >>> 0).toString(16)}`);
    }
    type = first & 0xff;
    name = r.string(MAX_RPC_NAME_BYTES);
  } else {
    // Non-strict: the first i32 is the name's length.
    if (first > MAX_RPC_NAME_BYTES) {
      r.fail(`message name of ${first} bytes is longer than the ${MAX_RPC_NAME_BYTES} allowed`);
    }
    r.need(first);
    name = r.buf.toString('utf8', r.pos, r.pos + first);
    r.pos += first;
    type = r.u8();
  }
  const seqidOffset = r.pos;
  const seqid = r.i32();
  return { name, type, seqid, seqidOffset };
}

/**
 * Reads the message begin of a request body. Only CALL (1) and ONEWAY (4) are
 * requests; anything else means the bytes are not a request.
 *
 * @throws ProtocolError when the body is truncated or not a request.
 */
export function readMessageBegin(body: Buffer, names?: StringInterner): MessageBegin {
  // Fast path for the strict form every Pegasus client writes: fixed layout, no reader object.
  if (body.length >= 12 && body.readInt32BE(0) === STRICT_CALL) {
    const nameLength = body.readInt32BE(4);
    if (nameLength >= 0 && nameLength <= MAX_RPC_NAME_BYTES && 8 + nameLength + 4 <= body.length) {
      const name = names !== undefined ? names.get(body, 8, 8 + nameLength) : body.toString('utf8', 8, 8 + nameLength);
      return { name, type: MSG_CALL, seqid: body.readInt32BE(8 + nameLength), argsOffset: 12 + nameLength };
    }
  }
  const r = new ThriftReader(body, 0, body.length, 'request message begin');
  const { name, type, seqid } = readMessageHeader(r);
  if (type !== MSG_CALL && type !== MSG_ONEWAY) {
    throw new ProtocolError(`request message begin: message type ${type} is neither CALL (1) nor ONEWAY (4).`);
  }
  return { name, type, seqid, argsOffset: r.pos };
}

/**
 * Reads the query-config args: a wrapper struct whose one STRUCT field (any
 * id: the server ignores it) holds query_cfg_request {1: app_name,
 * 2: partition_indices}. Other fields, in the wrapper or the request, are skipped.
 *
 * @throws ProtocolError when the args are malformed or carry no app_name.
 */
export function readQueryConfigRequest(body: Buffer, argsOffset: number, names?: StringInterner): QueryConfigRequest {
  const fast = readCommonQueryConfig(body, argsOffset, names);
  if (fast !== undefined) return fast;
  const r = new ThriftReader(body, argsOffset, body.length, 'query_cfg_request args');
  let request: QueryConfigRequest | undefined;
  for (;;) {
    const type = r.fieldType();
    if (type === T_STOP) break;
    r.fieldId();
    if (type === T_STRUCT && request === undefined) {
      request = readQueryConfigStruct(r);
    } else {
      r.skip(type);
    }
  }
  if (request === undefined) {
    throw new ProtocolError('query_cfg_request args: the args wrapper holds no request struct.');
  }
  return request;
}

/** A query-config request as the proxy's hot path keeps it: filled in by `readCommonQueryConfigCall`. */
export interface QueryConfigCall {
  name: string;
  seqid: number;
  argsOffset: number;
  table: string;
  /** The partition indices as one string: `''` for none, else the indices joined by `,`. */
  key: string;
}

/**
 * Reads a whole request body in the form every stock client sends, without
 * building an object: a strict CALL of `rpcName` whose args are laid out as
 * `readCommonQueryConfig` reads them. Fills `out` and returns true; returns
 * false, having read nothing into `out` that counts, for anything else (another
 * RPC, a one-way call, another layout, a malformed body), which
 * `readMessageBegin` and `readQueryConfigRequest` then read as before.
 */
export function readCommonQueryConfigCall(body: Buffer, rpcName: string, names: StringInterner | undefined, out: QueryConfigCall): boolean {
  if (body.length < 12 || body.readInt32BE(0) !== STRICT_CALL) return false;
  const nameLength = body.readInt32BE(4);
  if (nameLength !== rpcName.length || 8 + nameLength + 4 > body.length) return false;
  const name = names !== undefined ? names.get(body, 8, 8 + nameLength) : body.toString('utf8', 8, 8 + nameLength);
  if (name !== rpcName) return false;
  const at = 12 + nameLength;
  const end = body.length;
  if (at + 10 > end || body[at] !== T_STRUCT || body[at + 3] !== T_STRING || body.readInt16BE(at + 4) !== 1) return false;
  const tableLength = body.readInt32BE(at + 6);
  if (tableLength < 0 || tableLength > MAX_TABLE_NAME_BYTES) return false;
  const tableStart = at + 10;
  let pos = tableStart + tableLength;
  if (pos + 2 > end) return false;
  let key = '';
  if (body[pos] === T_LIST) {
    if (pos + 8 > end || body.readInt16BE(pos + 1) !== 2 || body[pos + 3] !== T_I32) return false;
    const size = body.readInt32BE(pos + 4);
    pos += 8;
    if (size < 0 || pos + 4 * size + 2 > end) return false;
    if (size === 1) key = String(body.readInt32BE(pos));
    else if (size > 1) {
      const indices = new Array<number>(size);
      for (let i = 0; i < size; i++) indices[i] = body.readInt32BE(pos + 4 * i);
      key = indices.join(',');
    }
    pos += 4 * size;
  }
  if (pos + 2 !== end || body[pos] !== T_STOP || body[pos + 1] !== T_STOP) return false;
  out.name = name;
  out.seqid = body.readInt32BE(8 + nameLength);
  out.argsOffset = at;
  out.table = names !== undefined ? names.get(body, tableStart, tableStart + tableLength) : body.toString('utf8', tableStart, tableStart + tableLength);
  out.key = key;
  return true;
}

/** `0x80010001`: strict version 1, message type CALL. */
const STRICT_CALL = (VERSION_1 | MSG_CALL) | 0;

/**
 * The args as every stock client lays them out, read by offsets: wrapper
 * field 1 STRUCT { 1: STRING app_name, [2: LIST<I32> partition_indices] },
 * STOP, STOP, and nothing after. Anything else (other ids, extra fields,
 * another order) is left to the general reader: undefined.
 */
function readCommonQueryConfig(body: Buffer, at: number, names: StringInterner | undefined): QueryConfigRequest | undefined {
  const end = body.length;
  if (at + 10 > end || body[at] !== T_STRUCT || body[at + 3] !== T_STRING || body.readInt16BE(at + 4) !== 1) return undefined;
  const tableLength = body.readInt32BE(at + 6);
  if (tableLength < 0 || tableLength > MAX_TABLE_NAME_BYTES) return undefined;
  const tableStart = at + 10;
  let pos = tableStart + tableLength;
  if (pos + 2 > end) return undefined;
  let partitionIndices: number[] = NO_INDICES;
  if (body[pos] === T_LIST) {
    if (pos + 8 > end || body.readInt16BE(pos + 1) !== 2 || body[pos + 3] !== T_I32) return undefined;
    const size = body.readInt32BE(pos + 4);
    pos += 8;
    if (size < 0 || pos + 4 * size + 2 > end) return undefined;
    partitionIndices = new Array<number>(size);
    for (let i = 0; i < size; i++, pos += 4) partitionIndices[i] = body.readInt32BE(pos);
  }
  if (pos + 2 !== end || body[pos] !== T_STOP || body[pos + 1] !== T_STOP) return undefined;
  const table = names !== undefined ? names.get(body, tableStart, tableStart + tableLength) : body.toString('utf8', tableStart, tableStart + tableLength);
  return { table, partitionIndices };
}

/** Shared by every request that names no partitions: never written to. */
const NO_INDICES: number[] = Object.freeze([]) as unknown as number[];

function readQueryConfigStruct(r: ThriftReader): QueryConfigRequest {
  let table: string | undefined;
  let partitionIndices: number[] = [];
  for (;;) {
    const type = r.fieldType();
    if (type === T_STOP) break;
    const id = r.fieldId();
    if (id === 1 && type === T_STRING) {
      table = r.string(MAX_TABLE_NAME_BYTES);
    } else if (id === 2 && type === T_LIST) {
      const { size } = r.listBegin(T_I32);
      partitionIndices = new Array<number>(size);
      for (let i = 0; i < size; i++) partitionIndices[i] = r.i32();
    } else {
      r.skip(type);
    }
  }
  if (table === undefined) {
    throw new ProtocolError('query_cfg_request args: the request has no app_name (field 1).');
  }
  return { table, partitionIndices };
}

/**
 * The query-config args struct bytes, as the Java/Go clients write them
 * (wrapper field 1 STRUCT, app_name, partition_indices list). For tooling and tests.
 */
export function encodeQueryConfigArgs(table: string, partitionIndices: readonly number[] = []): Buffer {
  const w = new ThriftWriter(32 + table.length + partitionIndices.length * 4);
  w.field(T_STRUCT, 1);
  w.field(T_STRING, 1).string(table);
  w.field(T_LIST, 2).listBegin(T_I32, partitionIndices.length);
  for (const p of partitionIndices) w.i32(p);
  w.stop();
  w.stop();
  return w.toBuffer();
}
