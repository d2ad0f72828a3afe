import { ProtocolError } from '../errors.js';
import { RPC_QUERY_CONFIG } from '../protocol/errorCodes.js';
import { readCommonQueryConfigCall, readMessageBegin, readQueryConfigRequest, type QueryConfigCall } from '../protocol/request.js';
import { encodeHandlerNotFound, encodeQueryConfigError } from '../protocol/response.js';
import type { StringInterner } from '../protocol/intern.js';
import type { RequestFrame } from '../protocol/types.js';
import { budgetFor, deadlineMargin, type Query, type QueryOrigin } from '../model/query.js';

const ONEWAY = 4;

export interface ReadRequestContext {
  origin: QueryOrigin;
  /** Scheduler time now. */
  now: number;
  defaultTimeoutMs: number;
  maxTimeoutMs: number;
  /** Reads RPC and table names as shared strings. */
  names?: StringInterner;
  /** The args of a query-config could not be read (the client gets ERR_INVALID_PARAMETERS). */
  onUnreadableArgs?(error: ProtocolError): void;
}

/**
 * What to do with one request frame, decided from its bytes alone: a reply
 * to send at once (another RPC gets `ERR_HANDLER_NOT_FOUND`, unreadable
 * query-config args `ERR_INVALID_PARAMETERS`), a `Query` for its table's
 * pipeline, or nothing (a one-way call).
 *
 * @throws ProtocolError when the message begin cannot be read: there is no
 *   seqid to answer under, so the frame is garbage and the connection closes.
 */
export function readRequest(frame: RequestFrame, context: ReadRequestContext): Buffer | Query | undefined {
  // What every stock client sends, read with no object but the query itself.
  if (readCommonQueryConfigCall(frame.body, RPC_QUERY_CONFIG, context.names, common)) {
    return newQuery(frame, context, common.name, common.seqid, common.argsOffset, common.table, common.key);
  }
  const begin = readMessageBegin(frame.body, context.names);
  if (begin.type === ONEWAY) return undefined;
  if (begin.name !== RPC_QUERY_CONFIG) return encodeHandlerNotFound(begin.name, begin.seqid);
  let request;
  try {
    request = readQueryConfigRequest(frame.body, begin.argsOffset, context.names);
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error;
    context.onUnreadableArgs?.(error);
    return encodeQueryConfigError('ERR_INVALID_PARAMETERS', begin.seqid);
  }
  const indices = request.partitionIndices;
  const key = indices.length === 0 ? '' : indices.length === 1 ? String(indices[0]) : indices.join(',');
  return newQuery(frame, context, begin.name, begin.seqid, begin.argsOffset, request.table, key);
}

/** Filled by the common-case reader and read at once: requests are read one at a time. */
const common: QueryConfigCall = { name: '', seqid: 0, argsOffset: 0, table: '', key: '' };

function newQuery(frame: RequestFrame, context: ReadRequestContext, name: string, seqid: number, argsOffset: number, table: string, key: string): Query {
  const budget = budgetFor(frame.header.clientTimeoutMs, context.defaultTimeoutMs, context.maxTimeoutMs);
  return {
    table,
    key,
    seqid,
    name,
    args: frame.body.subarray(argsOffset),
    startedAt: context.now,
    // Answer a little before the client's own timer fires: an ERR_TIMEOUT that
    // lands after the client gave up helps nobody.
    deadlineAt: context.now + budget - deadlineMargin(budget),
    origin: context.origin,
    reply: undefined,
    code: '',
    cluster: undefined,
    call: undefined,
    holder: undefined,
    queuedIn: undefined,
    queuedBefore: undefined,
    queuedAfter: undefined,
  };
}
