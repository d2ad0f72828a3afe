import {
  Observable,
  distinctUntilChanged,
  map,
  of,
  switchMap,
  take,
  type SchedulerLike,
} from 'rxjs';
import type { PegasusError } from '../protocol/errorCodes.js';
import { isPegasusError } from '../protocol/errorCodes.js';
import { encodeQueryConfigError } from '../protocol/response.js';
import { withSeqid } from '../protocol/metaReply.js';
import type { RouteRegistry } from './routeTypes.js';
import type { ClusterOutcome } from './upstreamTypes.js';
import type { Coalescer } from './coalescer.js';
import type { ProxyHooks } from './proxyTypes.js';
import { routeError, sameTarget } from './routeTarget.js';

export interface AnswerQueryDeps {
  registry: RouteRegistry;
  coalescer: Coalescer;
  scheduler: SchedulerLike;
  defaultTimeoutMs: number;
  maxTimeoutMs: number;
  hooks: ProxyHooks;
}

/** One query-config request, as read from a client frame. */
export interface QueryConfigCall {
  table: string;
  partitionIndices: number[];
  seqid: number;
  name: string;
  /** The args struct bytes, relayed to the meta unchanged. */
  args: Buffer;
  clientTimeoutMs: number;
  peer: string;
}

interface Answered {
  frame: Buffer;
  code: string;
  cluster?: string;
}

/**
 * The client's budget: its own timeout when set and sane (the Go client's can
 * wrap to garbage, Node.js sends 0), else the configured default.
 */
export function budgetFor(clientTimeoutMs: number, defaultMs: number, maxMs: number): number {
  return clientTimeoutMs > 0 && clientTimeoutMs <= maxMs ? clientTimeoutMs : defaultMs;
}

/**
 * The reply to one query-config request: the table's route stream, switched
 * to a (shared) call to the routed cluster's leader. A route change while the
 * call is in flight cancels it and re-issues it to the new cluster; a route
 * that disappears answers `ERR_OBJECT_NOT_FOUND`. Emits exactly one reply
 * frame under the client's seqid, then completes; never errors.
 *
 * ```
 * route$:   a-------b--------
 * call A:   ---(cancelled)
 * call B:           ----B|
 * result:   --------------B|
 * ```
 */
export function answerQuery(deps: AnswerQueryDeps, query: QueryConfigCall): Observable<Buffer> {
  const { scheduler, coalescer, hooks } = deps;
  const startedAt = scheduler.now();
  const budget = budgetFor(query.clientTimeoutMs, deps.defaultTimeoutMs, deps.maxTimeoutMs);
  const deadlineAt = startedAt + budget;
  const key = `${query.table}\u0000${query.partitionIndices.join(',')}`;
  let lastCluster: string | undefined;

  return deps.registry.route(query.table).pipe(
    distinctUntilChanged(sameTarget),
    switchMap((state): Observable<Answered> => {
      if (state.kind !== 'route') {
        lastCluster = undefined;
        const code = routeError(state);
        return of({ frame: encodeQueryConfigError(code, query.seqid), code });
      }
      if (lastCluster !== undefined && lastCluster !== state.cluster) {
        hooks.rerouted?.(query.table, lastCluster, state.cluster);
      }
      lastCluster = state.cluster;
      const remaining = deadlineAt - scheduler.now();
      if (remaining <= 0) return of(failed('ERR_TIMEOUT', query.seqid, state.cluster));
      return coalescer
        .call(state, key, { name: query.name, args: query.args, timeoutMs: remaining }, deadlineAt)
        .pipe(map((outcome) => toReply(outcome, query.seqid, state.cluster)));
    }),
    take(1),
    map((answered) => {
      hooks.queryFinished?.({
        table: query.table,
        cluster: answered.cluster,
        code: answered.code,
        latencyMs: scheduler.now() - startedAt,
        peer: query.peer,
      });
      return answered.frame;
    }),
  );
}

function failed(code: PegasusError, seqid: number, cluster: string): Answered {
  return { frame: encodeQueryConfigError(code, seqid), code, cluster };
}

function toReply(outcome: ClusterOutcome, seqid: number, cluster: string): Answered {
  if (outcome.kind === 'failed') return failed(outcome.error, seqid, cluster);
  const { reply, frame } = outcome.answer;
  if (reply.headerError !== 'ERR_OK') {
    // Query-config failures travel in the body: the Node.js client drops its
    // connection on a non-OK header for this RPC (PROTOCOL.md §3).
    const code = isPegasusError(reply.headerError) ? reply.headerError : 'ERR_UNKNOWN';
    return failed(code, seqid, cluster);
  }
  return { frame: withSeqid(frame, reply, seqid), code: reply.bodyError ?? 'ERR_OK', cluster };
}
