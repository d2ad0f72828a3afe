import { Observable, Subscription, asyncScheduler, type SchedulerLike } from 'rxjs';
import { UpstreamError } from '../errors.js';
import type { ClusterOutcome, LeaderBook, MetaAnswer, MetaCaller, MetaRequest } from './upstreamTypes.js';

export interface ClusterCallDeps {
  caller: MetaCaller;
  leaders: LeaderBook;
  /** No answer from the meta asked first within this long → ask every other meta too. */
  backupDelayMs: number;
  /** Pause before asking a meta again that said it is not ready, and between rounds. */
  retryDelayMs: number;
  scheduler?: SchedulerLike;
}

/** Answers that mean "ask this meta again shortly" (PROTOCOL.md §6, Java client §7). */
const NOT_READY: ReadonlySet<string> = new Set(['ERR_SERVICE_NOT_ACTIVE', 'ERR_UNDER_RECOVERY']);

/**
 * Asks a cluster for the answer of its MetaServer leader, following the
 * cluster's own directions (PROTOCOL.md §6–7): emits exactly one outcome, then
 * completes.
 *
 * ```
 * metas:     a, b, c        leader known: none      backupDelay 3, deadline 10
 * caller(a): -f             f = FORWARD to c
 * caller(c):   ----         silent
 * caller(b):     -o         o = ERR_OK     (backup, asked at frame 3)
 * result:    -----(A|)      A = answer o from b; b becomes the known leader
 * ```
 *
 * - The first meta asked is the last known leader, else `metas[0]`.
 * - FORWARD naming a meta → ask that one (learning the address if new); FORWARD
 *   naming none, or a failed call (refused, dropped) → the next meta not yet
 *   asked this round, immediately. A forward is never an outcome.
 * - SERVICE_NOT_ACTIVE / UNDER_RECOVERY → the same meta again after `retryDelayMs`.
 * - No final answer `backupDelayMs` into a round → every meta not yet asked is
 *   asked in parallel; the first final answer wins and every other call is
 *   unsubscribed.
 * - A round ends when every meta has been asked and nothing is pending; the
 *   next one starts `retryDelayMs` later. Forwards followed per round are
 *   bounded, so two metas naming each other cannot loop.
 * - At the deadline: `ERR_NETWORK_FAILURE` when every call failed to connect,
 *   else `ERR_TIMEOUT`.
 * - Any other answer (OK, OBJECT_NOT_FOUND, header errors, ...) is final; the
 *   meta that gave it is remembered as the cluster's leader.
 *
 * Each call carries the budget left (`timeoutMs`). Time comes only from the scheduler.
 *
 * @param deps the meta caller, the leader book and the timing policy
 * @param cluster the cluster's name (leader book key) and its meta addresses
 * @param request what to ask; `timeoutMs` is replaced per call
 * @param deadlineMs budget from subscription to the failed outcome
 */
export function clusterCall(
  deps: ClusterCallDeps,
  cluster: { name: string; metas: string[] },
  request: MetaRequest,
  deadlineMs: number,
): Observable<ClusterOutcome> {
  return new Observable<ClusterOutcome>((subscriber) => {
    const scheduler = deps.scheduler ?? asyncScheduler;
    const deadline = scheduler.now() + deadlineMs;
    // Grows with forward targets the route did not list; local to this call.
    const metas = [...cluster.metas];
    const maxForwards = cluster.metas.length + 2;
    /** Metas with a call in flight or a retry pending, and how to cancel that. */
    const busy = new Map<string, Subscription>();
    /** Metas asked this round (including those still busy). */
    const tried = new Set<string>();
    const timers = new Subscription();
    /** This round's backup timer, or the timer that starts the next round. */
    let round = new Subscription();
    let forwards = 0;
    let unreachable = 0;
    let reached = 0;
    let lastProblem = 'no meta answered';
    let done = false;

    const stopAll = (): void => {
      done = true;
      round.unsubscribe();
      timers.unsubscribe();
      const calls = [...busy.values()];
      busy.clear();
      for (const c of calls) c.unsubscribe();
    };

    const finish = (outcome: ClusterOutcome): void => {
      if (done) return;
      stopAll();
      subscriber.next(outcome);
      subscriber.complete();
    };

    const roundMaybeOver = (): void => {
      if (done || busy.size > 0) return;
      round.unsubscribe();
      round = new Subscription();
      round.add(scheduler.schedule(startRound, deps.retryDelayMs));
    };

    const askNext = (): void => {
      const next = metas.find((m) => !tried.has(m));
      if (next === undefined) roundMaybeOver();
      else ask(next);
    };

    const onAnswer = (meta: string, answer: MetaAnswer): void => {
      reached++;
      const r = answer.reply;
      const err = r.headerError === 'ERR_OK' ? r.bodyError : undefined;
      if (err === 'ERR_FORWARD_TO_OTHERS') {
        const to = r.forward;
        lastProblem = to === undefined ? `${meta} is not the leader and named none` : `${meta} forwarded to ${to}`;
        if (to !== undefined && !tried.has(to) && forwards < maxForwards) {
          forwards++;
          if (!metas.includes(to)) metas.push(to);
          ask(to);
        } else if (to !== undefined && busy.has(to)) {
          // The named leader is being asked already; this path ends here.
          roundMaybeOver();
        } else {
          askNext();
        }
        return;
      }
      if (err !== undefined && NOT_READY.has(err)) {
        lastProblem = `${meta} answered ${err}`;
        busy.set(
          meta,
          scheduler.schedule(() => {
            busy.delete(meta);
            ask(meta);
          }, deps.retryDelayMs),
        );
        return;
      }
      deps.leaders.set(cluster, meta);
      finish({ kind: 'answer', answer });
    };

    const onFailure = (meta: string, error: unknown): void => {
      if (error instanceof UpstreamError && (error.kind === 'connect' || error.kind === 'timeout')) unreachable++;
      else reached++;
      lastProblem = `${meta}: ${error instanceof Error ? error.message : String(error)}`;
      askNext();
    };

    function ask(meta: string): void {
      if (done) return;
      tried.add(meta);
      const call = new Subscription();
      busy.set(meta, call);
      let settled = false;
      // False when the call already ended (or the whole thing did).
      const settle = (): boolean => {
        if (settled || done) return false;
        settled = true;
        busy.delete(meta);
        call.unsubscribe();
        return true;
      };
      let answer$: Observable<MetaAnswer>;
      try {
        answer$ = deps.caller(meta, { ...request, timeoutMs: Math.max(0, deadline - scheduler.now()) });
      } catch (error) {
        if (settle()) onFailure(meta, error);
        return;
      }
      // A synchronous answer settles before `subscribe` returns; adding to the
      // closed `call` then unsubscribes the inner at once.
      call.add(
        answer$.subscribe({
          next: (answer) => {
            if (settle()) onAnswer(meta, answer);
          },
          error: (error: unknown) => {
            if (settle()) onFailure(meta, error);
          },
          complete: () => {
            if (settle()) onFailure(meta, new Error(`the call to ${meta} ended without an answer`));
          },
        }),
      );
    }

    function startRound(): void {
      round.unsubscribe();
      round = new Subscription();
      tried.clear();
      forwards = 0;
      // Armed before the first ask, so a round that ends synchronously cancels it.
      round.add(
        scheduler.schedule(() => {
          for (const m of [...metas]) if (!tried.has(m)) ask(m);
        }, deps.backupDelayMs),
      );
      const known = deps.leaders.get(cluster);
      ask(known ?? (metas[0] as string));
    }

    if (metas.length === 0) {
      finish({ kind: 'failed', error: 'ERR_NETWORK_FAILURE', reason: `cluster ${cluster.name} has no meta address` });
      return;
    }
    if (deadlineMs <= 0) {
      finish({ kind: 'failed', error: 'ERR_TIMEOUT', reason: `no budget left to ask cluster ${cluster.name}` });
      return;
    }
    timers.add(
      scheduler.schedule(() => {
        const neverReached = reached === 0 && unreachable > 0 && busy.size === 0;
        finish({
          kind: 'failed',
          error: neverReached ? 'ERR_NETWORK_FAILURE' : 'ERR_TIMEOUT',
          reason: `cluster ${cluster.name} gave no answer within ${deadlineMs} ms (${lastProblem})`,
        });
      }, deadlineMs),
    );
    startRound();
    return stopAll;
  });
}
