import { Observable, Subscription, map, race, timer, type SchedulerLike, type Subscriber, switchMap, of } from 'rxjs';
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
  const inFlight = new Map<string, SharedCall>();
  // The meta list is part of the key: a route edited to other metas of the
  // same cluster must not join a call to the old ones. Route objects live as
  // long as the route does, so the prefix is built once per route, not per request.
  const prefixes = new WeakMap<Route, string>();
  const prefixOf = (route: Route): string => {
    let prefix = prefixes.get(route);
    if (prefix === undefined) {
      prefix = `${route.cluster}\u0000${route.metas.join(',')}\u0000`;
      prefixes.set(route, prefix);
    }
    return prefix;
  };

  /**
   * One upstream call multicast to its callers. Hand-written rather than
   * `pipe(map, finalize, share())`: it runs once per distinct request, and
   * that chain's teardown showed up in the profile under load.
   */
  const startShared = (route: Route, fullKey: string, request: MetaRequest, deadlineAt: number): SharedCall => {
    const callers: Array<Subscriber<ClusterOutcome>> = [];
    let upstream: Subscription | undefined;
    let over = false;
    const end = (): void => {
      over = true;
      if (inFlight.get(fullKey) === shared) inFlight.delete(fullKey);
    };
    const outcome$ = new Observable<ClusterOutcome>((subscriber) => {
      if (over) {
        // Joined after the outcome went out (possible only for a caller holding
        // an old reference): nothing will come, so say so now.
        subscriber.complete();
        return undefined;
      }
      callers.push(subscriber);
      if (upstream === undefined) {
        const drop = options.dropHostPortFields(route.cluster);
        upstream = new Subscription();
        upstream.add(
          options.callCluster({ name: route.cluster, metas: route.metas }, request, deadlineAt - scheduler.now()).subscribe({
            next: (outcome) => {
              end();
              const value = drop && outcome.kind === 'answer' ? withoutHostPort(outcome) : outcome;
              for (const caller of callers.splice(0)) {
                caller.next(value);
                caller.complete();
              }
              // One outcome is all a call gives; a synchronous one is torn down by `add` below.
              upstream?.unsubscribe();
            },
            error: (error: unknown) => {
              end();
              for (const caller of callers.splice(0)) caller.error(error);
            },
            complete: () => {
              end();
              for (const caller of callers.splice(0)) caller.complete();
            },
          }),
        );
      }
      return () => {
        const i = callers.indexOf(subscriber);
        if (i >= 0) callers.splice(i, 1);
        if (callers.length === 0 && !over) {
          // The last caller left: cancel the call and let the next identical request start afresh.
          end();
          upstream?.unsubscribe();
        }
      };
    });
    const shared: SharedCall = { outcome$, deadlineAt };
    return shared;
  };

  const call = (route: Route, key: string, request: MetaRequest, deadlineAt: number): Observable<ClusterOutcome> => {
      const fullKey = prefixOf(route) + key;
      const joined = inFlight.get(fullKey);
      if (joined !== undefined) {
        if (joined.deadlineAt === deadlineAt) return joined.outcome$;
        if (joined.deadlineAt < deadlineAt) {
          // The joined call gives up before this client would: its answer is
          // shared, but its failure is not final for a client with budget left.
          return joined.outcome$.pipe(
            switchMap((outcome) =>
              outcome.kind === 'failed' && deadlineAt > scheduler.now() ? call(route, key, request, deadlineAt) : of(outcome),
            ),
          );
        }
        // The call this request joins runs on a longer deadline than the
        // client's own: hold this client to its own budget.
        return race(
          joined.outcome$,
          timer(Math.max(0, deadlineAt - scheduler.now()), scheduler).pipe(
            map((): ClusterOutcome => ({ kind: 'failed', error: 'ERR_TIMEOUT', reason: 'client deadline reached' })),
          ),
        );
      }
      const shared = startShared(route, fullKey, request, deadlineAt);
      inFlight.set(fullKey, shared);
      return shared.outcome$;
  };
  return { call, size: () => inFlight.size };
}

interface SharedCall {
  outcome$: Observable<ClusterOutcome>;
  deadlineAt: number;
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
