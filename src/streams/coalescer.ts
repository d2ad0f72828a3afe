import { Observable, finalize, map, race, share, timer, type SchedulerLike } from 'rxjs';
import type { Route } from './routeTypes.js';
import type { ClusterOutcome, MetaRequest } from './upstreamTypes.js';
import { stripHostPortFields } from '../protocol/metaReply.js';

/** Asks a cluster's leader; `clusterCall` bound to its drivers. */
export type CallCluster = (
  cluster: { name: string; metas: string[] },
  request: MetaRequest,
  deadlineMs: number,
) => Observable<ClusterOutcome>;

export interface CoalescerOptions {
  callCluster: CallCluster;
  /** Whether answers from this cluster lose their hp_* fields (legacy clients). */
  dropHostPortFields(cluster: string): boolean;
  scheduler: SchedulerLike;
}

export interface Coalescer {
  /**
   * The shared call for this (cluster, table, partition indices): the first
   * caller starts it, later identical callers join it; it is cancelled when the
   * last caller unsubscribes. Emits one outcome, by `deadlineAt` (scheduler
   * time) at the latest.
   */
  call(route: Route, key: string, request: MetaRequest, deadlineAt: number): Observable<ClusterOutcome>;
  /** Calls in flight. */
  size(): number;
}

/**
 * Concurrent identical queries bound for the same cluster share one upstream
 * call. The map holds only calls in flight: an entry is removed when its call
 * ends or its last caller leaves.
 */
export function createCoalescer(options: CoalescerOptions): Coalescer {
  const { scheduler } = options;
  const inFlight = new Map<string, { outcome$: Observable<ClusterOutcome>; deadlineAt: number }>();
  return {
    call(route, key, request, deadlineAt) {
      // The meta list is part of the key: a route edited to other metas of the
      // same cluster must not join a call to the old ones.
      const fullKey = `${route.cluster}\u0000${route.metas.join(',')}\u0000${key}`;
      const joined = inFlight.get(fullKey);
      if (joined !== undefined) {
        if (joined.deadlineAt <= deadlineAt) return joined.outcome$;
        // The call this request joins runs on a longer deadline than the
        // client's own: hold this client to its own budget.
        return race(
          joined.outcome$,
          timer(Math.max(0, deadlineAt - scheduler.now()), scheduler).pipe(
            map((): ClusterOutcome => ({ kind: 'failed', error: 'ERR_TIMEOUT', reason: 'client deadline reached' })),
          ),
        );
      }
      const drop = options.dropHostPortFields(route.cluster);
      const outcome$: Observable<ClusterOutcome> = options
        .callCluster({ name: route.cluster, metas: route.metas }, request, deadlineAt - scheduler.now())
        .pipe(
          map((outcome) => (drop && outcome.kind === 'answer' ? withoutHostPort(outcome) : outcome)),
          finalize(() => {
            if (inFlight.get(fullKey)?.outcome$ === outcome$) inFlight.delete(fullKey);
          }),
          share(),
        );
      inFlight.set(fullKey, { outcome$, deadlineAt });
      return outcome$;
    },
    size: () => inFlight.size,
  };
}

function withoutHostPort(outcome: Extract<ClusterOutcome, { kind: 'answer' }>): ClusterOutcome {
  const { answer } = outcome;
  let frame: Buffer;
  try {
    frame = stripHostPortFields(answer.frame, answer.reply);
  } catch {
    // A reply this proxy cannot walk (a field of a type it does not know) is
    // relayed as the meta sent it: a legacy client may choke on it, but every
    // other client still gets its answer.
    return outcome;
  }
  return frame === answer.frame ? outcome : { kind: 'answer', answer: { ...answer, frame } };
}
