/**
 * Reading a client's request body: the thrift message begin and the
 * query-config args (PROTOCOL.md §2, §5).
 *
 * Hand-written over ThriftReader: it runs once per request on the hot path and
 * must accept both message-begin forms with tight bounds. The `thrift`
 * package's generic skip steps over args fields this codec does not know.
 */
import { ProtocolError } from '../errors.js';
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
export function readMessageBegin(body: Buffer): MessageBegin {
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
export function readQueryConfigRequest(body: Buffer, argsOffset: number): QueryConfigRequest {
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
