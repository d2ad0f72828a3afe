import { map, type OperatorFunction } from 'rxjs';
import type { PegasusError } from '../protocol/errorCodes.js';
import { encodeQueryConfigError } from '../protocol/response.js';
import type { Query } from '../model/query.js';

/**
 * Answers each query at once with a body error: what a table without a
 * usable route (missing, invalid, unavailable) gives every query.
 *
 * ```
 * queries: -a--b-|
 * result:  -A--B-|     A, B = a, b answered `code` under their own seqids
 * ```
 */
export function answerWith(code: PegasusError): OperatorFunction<Query, Query> {
  return map((query) => {
    query.cluster = undefined;
    query.reply = encodeQueryConfigError(code, query.seqid);
    query.code = code;
    return query;
  });
}
