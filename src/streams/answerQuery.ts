import { Observable, Subscription, type SchedulerLike } from 'rxjs';
import type { PegasusError } from '../protocol/errorCodes.js';
import { isPegasusError } from '../protocol/errorCodes.js';
import { encodeQueryConfigError } from '../protocol/response.js';
import { withSeqid } from '../protocol/metaReply.js';
import type { RouteRegistry, RouteState } from './routeTypes.js';
import type { ClusterOutcome } from './upstreamTypes.js';
import type { Coalescer } from './coalescer.js';
import type { ProxyHooks } from './proxyTypes.js';
import { routeError } from './routeTarget.js';
import { sameRouteState } from '../operators/distinctRouteStates.js';

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
/** How much earlier than the client's budget the proxy gives its own answer. */
export function deadlineMargin(budgetMs: number): number {
  return Math.min(100, Math.floor(budgetMs / 20));
}

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
  // Answer a little before the client's own timer fires: an ERR_TIMEOUT that
  // lands after the client gave up helps nobody.
  const deadlineAt = startedAt + budget - deadlineMargin(budget);
  const key = `${query.table}\u0000${query.partitionIndices.join(',')}`;

  // Hand-written rather than `route$.pipe(distinctUntilChanged, switchMap, take(1), map)`:
  // this runs once per request, and that chain's subscribe/teardown of five
  // operators was a fifth of the proxy's CPU under load (BENCHMARKS.md).
  return new Observable<Buffer>((subscriber) => {
    let target: RouteState | undefined;
    let lastCluster: string | undefined;
    /** The call to the current target; replaced (and cancelled) when the route moves. */
    let inner: Subscription | undefined;
    let routeEnded = false;
    let answered = false;
    const routeSubscription = new Subscription();
    /** Armed while no route state has come yet; see below. */
    let routeWait: Subscription | undefined;

    const deliver = (result: Answered): void => {
      if (answered) return;
      answered = true;
      hooks.queryFinished?.({
        table: query.table,
        cluster: result.cluster,
        code: result.code,
        latencyMs: scheduler.now() - startedAt,
        peer: query.peer,
      });
      subscriber.next(result.frame);
      subscriber.complete();
    };

    const onRoute = (state: RouteState): void => {
      if (answered || (target !== undefined && sameRouteState(target, state))) return;
      target = state;
      routeWait?.unsubscribe();
      inner?.unsubscribe();
      inner = undefined;
      if (state.kind !== 'route') {
        lastCluster = undefined;
        const code = routeError(state);
        deliver({ frame: encodeQueryConfigError(code, query.seqid), code });
        return;
      }
      if (lastCluster !== undefined && lastCluster !== state.cluster) {
        hooks.rerouted?.(query.table, lastCluster, state.cluster);
      }
      lastCluster = state.cluster;
      const remaining = deadlineAt - scheduler.now();
      if (remaining <= 0) {
        deliver(failed('ERR_TIMEOUT', query.seqid, state.cluster));
        return;
      }
      const call = new Subscription();
      inner = call;
      // A call that answers synchronously has closed `call` by now; `add` then tears it down at once.
      call.add(
        coalescer.call(state, key, { name: query.name, args: query.args, timeoutMs: remaining }, deadlineAt).subscribe({
          next: (outcome) => deliver(toReply(outcome, query.seqid, state.cluster)),
          error: (error: unknown) => subscriber.error(error),
          complete: () => {
            if (inner !== call) return;
            inner = undefined;
            if (routeEnded && !answered) subscriber.complete();
          },
        }),
      );
    };

    routeSubscription.add(
      deps.registry.route(query.table).subscribe({
        next: onRoute,
        error: (error: unknown) => subscriber.error(error),
        complete: () => {
          routeEnded = true;
          if (inner === undefined && !answered) subscriber.complete();
        },
      }),
    );
    // A route ZooKeeper has not produced yet (a cache miss while it is slow or
    // unreachable) is waited for no longer than the client's budget: the
    // registry's own bound is the ZooKeeper timeout, which may be longer, and
    // past the budget the client has given up.
    if (target === undefined && !answered) {
      routeWait = scheduler.schedule(() => {
        if (target === undefined) deliver({ frame: encodeQueryConfigError('ERR_ZOOKEEPER_OPERATION', query.seqid), code: 'ERR_ZOOKEEPER_OPERATION' });
      }, deadlineAt - startedAt);
    }
    return () => {
      answered = true;
      routeWait?.unsubscribe();
      routeSubscription.unsubscribe();
      inner?.unsubscribe();
    };
  });
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
