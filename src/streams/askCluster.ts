import { Observable } from 'rxjs';
import { LeaderFollowingCall, type LeaderFollowingCallDeps, type Waiter } from '../model/leaderFollowingCall.js';
import type { ClusterOutcome, ClusterRef, MetaRequest } from '../model/upstream.js';

/**
 * One `LeaderFollowingCall` as an Observable, for callers that make a few (the
 * operator tool) and for marble tests: emits exactly one outcome, then
 * completes; unsubscribing cancels the call.
 *
 * ```
 * metas:     a, b, c        leader known: none      backupDelay 3, deadline 10
 * caller(a): -f             f = FORWARD to c
 * caller(c):   ----         silent
 * caller(b):     -o         o = ERR_OK     (backup, asked at frame 3)
 * result:    -----(A|)      A = answer o from b; b becomes the known leader
 * ```
 *
 * @param deps the dispatcher, the leader book, the sweep and the timing policy
 * @param cluster the cluster's name (leader book key) and its meta addresses
 * @param request what to ask; `timeoutMs` is set per call from the budget left
 * @param deadlineMs budget from subscription to the failed outcome
 */
export function askCluster(
  deps: LeaderFollowingCallDeps,
  cluster: ClusterRef,
  request: Pick<MetaRequest, 'name' | 'args'>,
  deadlineMs: number,
): Observable<ClusterOutcome> {
  return new Observable<ClusterOutcome>((subscriber) => {
    const waiter: Waiter = { deadlineAt: deps.scheduler.now() + deadlineMs };
    const call = new LeaderFollowingCall<Waiter>(deps, cluster, request, {
      answered: (_call, answer) => subscriber.next({ kind: 'answer', answer }),
      failed: (_call, _waiter, error, reason) => subscriber.next({ kind: 'failed', error, reason }),
      ended: () => subscriber.complete(),
      // One waiter, whose deadline is the call's: it never outlives it.
      outlived: () => undefined,
    });
    call.join(waiter);
    return () => call.cancel();
  });
}
