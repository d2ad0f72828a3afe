/**
 * Reply frames the proxy writes itself (docs/PROTOCOL.md §3, §6): the answer to an
 * RPC it does not handle, and a query-config answer carrying an error.
 *
 * Hand-written with ThriftWriter: the reply prefix (length, header error name)
 * is rDSN framing, not thrift, and the body holds an inline error_code.
 */
import type { PegasusError } from './errorCodes.js';
import { RPC_QUERY_CONFIG_ACK } from './metaReply.js';
import { writeQueryConfigResponse } from './queryConfig.js';
import { MSG_REPLY, ThriftWriter, T_STRUCT, VERSION_1 } from './thrift.js';

/**
 * A complete reply frame: length prefix, header error name, strict REPLY
 * message begin, and, when `response` is given, the result wrapper (field 0
 * STRUCT holding the response struct bytes, then STOP).
 *
 * @param response The response struct's bytes through its STOP.
 */
export function encodeReplyFrame(headerError: string, name: string, seqid: number, response?: Uint8Array): Buffer {
  const w = new ThriftWriter(64 + name.length + (response?.length ?? 0));
  w.i32(0); // length prefix, patched below
  w.string(headerError);
  writeReplyBegin(w, name, seqid);
  if (response !== undefined) {
    w.field(T_STRUCT, 0).raw(response).stop();
  }
  w.patchI32(0, w.length);
  return w.toBuffer();
}

function writeReplyBegin(w: ThriftWriter, name: string, seqid: number): void {
  w.u32(VERSION_1 | MSG_REPLY).string(name).i32(seqid | 0);
}

/**
 * What a MetaServer answers to an RPC it has no handler for: header error
 * ERR_HANDLER_NOT_FOUND, the `<name>_ACK` message begin, no body.
 */
export function encodeHandlerNotFound(name: string, seqid: number): Buffer {
  return encodeReplyFrame('ERR_HANDLER_NOT_FOUND', `${name}_ACK`, seqid);
}

/**
 * A query-config reply whose body says `error`, written as a real meta writes
 * one for an unknown table: header ERR_OK (clients must see failures in the
 * body), app_id 0, partition_count 0, is_stateful false, no partitions.
 */
export function encodeQueryConfigError(error: PegasusError, seqid: number): Buffer {
  const w = new ThriftWriter(128);
  w.i32(0);
  w.string('ERR_OK');
  writeReplyBegin(w, RPC_QUERY_CONFIG_ACK, seqid);
  w.field(T_STRUCT, 0);
  writeQueryConfigResponse(w, { err: error, appId: 0, partitionCount: 0, isStateful: false, partitions: [] });
  w.stop();
  w.patchI32(0, w.length);
  return w.toBuffer();
}
