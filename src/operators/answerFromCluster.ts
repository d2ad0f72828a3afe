import { Observable, type OperatorFunction, type Subscriber } from 'rxjs';
import { isPegasusError, type PegasusError } from '../protocol/errorCodes.js';
import { setSeqid, stripHostPortFields, withSeqid } from '../protocol/metaReply.js';
import { encodeQueryConfigError } from '../protocol/response.js';
import { LeaderFollowingCall, type CallFailure, type CallOwner, type LeaderFollowingCallDeps } from '../model/leaderFollowingCall.js';
import type { Query } from '../model/query.js';
import type { Route } from '../model/route.js';
import type { ClusterRef, MetaAnswer } from '../model/upstream.js';

export interface AnswerFromClusterDeps extends LeaderFollowingCallDeps {
  /** Whether answers from this cluster lose their hp_* fields (legacy clients). */
  dropHostPortFields(cluster: string): boolean;
  /** A query pending for the table is now sent to another cluster than before. */
  rerouted?(table: string, from: string, to: string): void;
}

/**
 * Answers every query that reaches it from one route's cluster: identical
 * queries (same partition indices) in flight together share one `LeaderFollowingCall`,
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
export function answerFromCluster(route: Route, deps: AnswerFromClusterDeps): OperatorFunction<Query, Query> {
  return (source) =>
    new Observable<Query>((subscriber) => {
      const calls = new RouteCalls(subscriber, route, deps);
      const queries = source.subscribe({
        next: (query) => calls.ask(query),
        error: (err: unknown) => subscriber.error(err),
        complete: () => subscriber.complete(),
      });
      return () => {
        queries.unsubscribe();
        calls.cancelAll();
      };
    });
}

/**
 * One route's calls and the queries waiting on them, in a plain object that
 * the operator's observer hands each query to and that is also the calls'
 * owner: it lives as long as the route does, so its state is in fields, and a
 * query passes through it with no object of its own but the call it starts
 * (or joins).
 */
class RouteCalls implements CallOwner<Query> {
  /**
   * The call in flight, when there is one: a route nearly always has at most
   * one key in flight at a time, so the common case needs no Map at all.
   */
  private single: LeaderFollowingCall<Query> | undefined = undefined;
  /** Calls for further keys in flight beside `single`; created when first needed. */
  private calls: Map<string, LeaderFollowingCall<Query>> | undefined = undefined;
  private readonly drop: boolean;
  private readonly cluster: ClusterRef;
  /** The subscription ended: queries handed back by a call wait for the next inner. */
  private closed = false;

  constructor(
    private readonly replies: Subscriber<Query>,
    private readonly route: Route,
    private readonly deps: AnswerFromClusterDeps,
  ) {
    this.drop = deps.dropHostPortFields(route.cluster);
    this.cluster = { name: route.cluster, metas: route.metas };
  }

  ask(query: Query): void {
    const cluster = this.route.cluster;
    const previous = query.cluster;
    query.cluster = cluster;
    if (previous !== undefined && previous !== cluster) this.deps.rerouted?.(query.table, previous, cluster);
    const now = this.deps.scheduler.now();
    if (query.deadlineAt <= now) {
      query.reply = encodeQueryConfigError('ERR_TIMEOUT', query.seqid);
      query.code = 'ERR_TIMEOUT';
      this.replies.next(query);
      return;
    }
    const key = query.key;
    const single = this.single;
    let call = single !== undefined && single.key === key ? single : this.calls?.get(key);
    if (call === undefined) {
      call = new LeaderFollowingCall<Query>(this.deps, this.cluster, query, this, key);
      if (single === undefined) this.single = call;
      else (this.calls ??= new Map()).set(key, call);
    }
    query.call = call;
    call.join(query, now);
  }

  answered(call: LeaderFollowingCall<Query>, answer: MetaAnswer): void {
    const waiters = call.waiters;
    const last = waiters.length - 1;
    const failure = headerFailure(answer);
    const frame = failure === undefined && this.drop ? withoutHostPort(answer) : answer.frame;
    const code = answer.reply.bodyError ?? 'ERR_OK';
    for (let i = 0; i <= last; i++) {
      const query = waiters[i]!;
      query.call = undefined;
      if (failure !== undefined) {
        query.reply = encodeQueryConfigError(failure, query.seqid);
        query.code = failure;
      } else {
        // The last waiter takes the frame itself, seqid rewritten in place: nothing else reads it.
        query.reply = i === last ? setSeqid(frame, answer.reply, query.seqid) : withSeqid(frame, answer.reply, query.seqid);
        query.code = code;
      }
      this.replies.next(query);
    }
  }

  failed(_call: LeaderFollowingCall<Query>, query: Query, error: CallFailure): void {
    query.call = undefined;
    query.reply = encodeQueryConfigError(error, query.seqid);
    query.code = error;
    this.replies.next(query);
  }

  ended(call: LeaderFollowingCall<Query>): void {
    if (this.single === call) this.single = undefined;
    else if (this.calls !== undefined && this.calls.get(call.key) === call) this.calls.delete(call.key);
  }

  outlived(_call: LeaderFollowingCall<Query>, queries: Query[]): void {
    // Re-issued as if they had just come: identical ones share a new call again.
    for (const query of queries) {
      query.call = undefined;
      if (!this.closed) this.ask(query);
    }
  }

  /** The subscription ended: every call is cancelled. */
  cancelAll(): void {
    if (this.closed) return;
    this.closed = true;
    // The route moved or the table is gone: its queries wait for the next inner.
    const calls = this.single === undefined ? [] : [this.single];
    if (this.calls !== undefined) calls.push(...this.calls.values());
    this.single = undefined;
    this.calls?.clear();
    for (const call of calls) {
      for (const query of call.waiters) query.call = undefined;
      call.cancel();
    }
  }
}

/** Query-config failures travel in the body: the Node.js client drops its connection on a non-OK header for this RPC (docs/PROTOCOL.md §3). */
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
