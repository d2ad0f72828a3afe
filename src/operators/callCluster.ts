import { Observable, type OperatorFunction } from 'rxjs';
import { isPegasusError, type PegasusError } from '../protocol/errorCodes.js';
import { stripHostPortFields } from '../protocol/metaReply.js';
import { encodeQueryConfigError } from '../protocol/response.js';
import { ClusterCall, type CallOwner, type ClusterCallDeps } from '../streams/clusterCall.js';
import type { Query } from '../streams/queryTypes.js';
import type { Route } from '../streams/routeTypes.js';
import type { MetaAnswer } from '../streams/upstreamTypes.js';

export interface CallClusterDeps extends ClusterCallDeps {
  /** Whether answers from this cluster lose their hp_* fields (legacy clients). */
  dropHostPortFields(cluster: string): boolean;
  /** A query pending for the table is now sent to another cluster than before. */
  rerouted?(table: string, from: string, to: string): void;
}

/**
 * Answers every query that reaches it from one route's cluster: identical
 * queries (same partition indices) in flight together share one cluster call,
 * and each gets the answer under its own seqid. Emits each query once, when it
 * has its reply (`reply`, `code`, `cluster` set). Unsubscribing cancels every
 * call; the queries keep no reply and stay the source's to re-issue.
 *
 * ```
 * queries:  a--b--c------       a and c ask partitions [1], b asks [2]
 * call [1]: ^--------o          joined by c at frame 6
 * call [2]:    ^---p
 * result:   -------b-(ac)       p for b, o for a and c, each under its own seqid
 * ```
 *
 * @param route the cluster and metas this inner serves (a route change is a new inner)
 * @param deps the cluster call's drivers and policy, plus the hp_* option and the reroute hook
 */
export function callCluster(route: Route, deps: CallClusterDeps): OperatorFunction<Query, Query> {
  return (source) =>
    new Observable<Query>((subscriber) => {
      const calls = new Map<string, ClusterCall<Query>>();
      const drop = deps.dropHostPortFields(route.cluster);
      const cluster = { name: route.cluster, metas: route.metas };
      const { scheduler } = deps;

      const owner: CallOwner<Query> = {
        answered(call, answer) {
          const waiters = call.waiters;
          const last = waiters.length - 1;
          const failure = headerFailure(answer);
          const frame = failure === undefined && drop ? withoutHostPort(answer) : answer.frame;
          const code = answer.reply.bodyError ?? 'ERR_OK';
          for (let i = 0; i <= last; i++) {
            const query = waiters[i]!;
            query.call = undefined;
            if (failure !== undefined) {
              query.reply = encodeQueryConfigError(failure, query.seqid);
              query.code = failure;
            } else {
              // The last waiter takes the frame itself, seqid rewritten in place: nothing else reads it.
              query.reply = i === last ? frame : Buffer.from(frame);
              query.reply.writeInt32BE(query.seqid | 0, answer.reply.seqidOffset);
              query.code = code;
            }
            subscriber.next(query);
          }
        },
        failed(_call, query, error) {
          query.call = undefined;
          query.reply = encodeQueryConfigError(error, query.seqid);
          query.code = error;
          subscriber.next(query);
        },
        ended(call) {
          if (calls.get(call.key) === call) calls.delete(call.key);
        },
      };

      const subscription = source.subscribe({
        next(query) {
          const previous = query.cluster;
          query.cluster = route.cluster;
          if (previous !== undefined && previous !== route.cluster) deps.rerouted?.(query.table, previous, route.cluster);
          const now = scheduler.now();
          if (query.deadlineAt <= now) {
            query.reply = encodeQueryConfigError('ERR_TIMEOUT', query.seqid);
            query.code = 'ERR_TIMEOUT';
            subscriber.next(query);
            return;
          }
          let call = calls.get(query.key);
          if (call === undefined) {
            call = new ClusterCall<Query>(deps, cluster, query, owner, query.key);
            calls.set(query.key, call);
          }
          query.call = call;
          call.join(query, now);
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      });

      return () => {
        subscription.unsubscribe();
        // The route moved or the table is gone: its queries wait for the next inner.
        for (const call of [...calls.values()]) {
          for (const query of call.waiters) query.call = undefined;
          call.cancel();
        }
        calls.clear();
      };
    });
}

/** Query-config failures travel in the body: the Node.js client drops its connection on a non-OK header for this RPC (PROTOCOL.md §3). */
function headerFailure(answer: MetaAnswer): PegasusError | undefined {
  const header = answer.reply.headerError;
  if (header === 'ERR_OK') return undefined;
  return isPegasusError(header) ? header : 'ERR_UNKNOWN';
}

function withoutHostPort(answer: MetaAnswer): Buffer {
  try {
    return stripHostPortFields(answer.frame, answer.reply);
  } catch {
    // A reply this proxy cannot walk (a field of a type it does not know) is
    // relayed as the meta sent it: a legacy client may choke on it, but every
    // other client still gets its answer.
    return answer.frame;
  }
}
