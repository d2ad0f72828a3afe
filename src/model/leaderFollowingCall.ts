import type { SchedulerLike } from 'rxjs';
import { UpstreamError } from '../errors.js';
import { nextMeta, type MetaSituation, type NextMeta } from './nextMeta.js';
import type { Sleeper, Sweep } from './sweep.js';
import type {
  CancelReason,
  ClusterRef,
  LeaderBook,
  MetaAnswer,
  MetaDispatcher,
  MetaHandler,
  MetaRequest,
} from './upstream.js';

export interface LeaderFollowingCallDeps {
  dispatcher: MetaDispatcher;
  leaders: LeaderBook;
  /** Wakes calls at their deadlines, backup times and retries. */
  sweep: Sweep;
  /** No answer from the meta asked first within this long → ask every other meta too. */
  backupDelayMs: number;
  /** Pause before asking a meta again that said it is not ready, and between rounds. */
  retryDelayMs: number;
  scheduler: SchedulerLike;
  /** One call to one meta ended: the error name it answered, the failure kind, or `cancelled`. */
  recordCall?: (meta: string, result: string) => void;
}

/** Whoever waits for a cluster call: it has a deadline of its own. */
export interface Waiter {
  /** Scheduler time by which this waiter must have its outcome. */
  readonly deadlineAt: number;
}

export type CallFailure = 'ERR_TIMEOUT' | 'ERR_NETWORK_FAILURE';

/** Where a call's outcomes go. */
export interface CallOwner<W extends Waiter> {
  /** The cluster answered; every waiter still in `call.waiters` gets the answer. The call has ended (`answered`). */
  answered(call: LeaderFollowingCall<W>, answer: MetaAnswer): void;
  /** `waiter` gets no answer: its deadline passed (or there is nobody to ask). It has left `call.waiters`. */
  failed(call: LeaderFollowingCall<W>, waiter: W, error: CallFailure, reason: string): void;
  /**
   * The call's own budget (its first waiter's) ran out while these waiters,
   * which joined later, still have time: they need a call of their own. Comes
   * after `ended`.
   */
  outlived(call: LeaderFollowingCall<W>, waiters: W[]): void;
  /** The call has ended, whatever the reason (after `answered`, the last `failed`, or the last `leave`). */
  ended(call: LeaderFollowingCall<W>): void;
}

/** Answers that mean "ask this meta again shortly" (docs/PROTOCOL.md §6, Java client §7). */
const NOT_READY: ReadonlySet<string> = new Set(['ERR_SERVICE_NOT_ACTIVE', 'ERR_UNDER_RECOVERY']);

/** Where a call is; the last three are final. */
export type CallState =
  /** No waiter has joined yet. */
  | 'idle'
  /** A round is under way: metas asked, retries waiting, the backup time ahead. */
  | 'asking'
  /** The round ended with no answer and nothing pending: the next one starts after `retryDelayMs`. */
  | 'waitingRetry'
  /** A final answer went to the waiters. */
  | 'answered'
  /** No answer: every waiter failed, or the call's budget ran out and its waiters were handed back. */
  | 'failed'
  /** The last waiter left, or the owner cancelled. */
  | 'cancelled';

/** One meta being asked. */
interface Attempt {
  meta: string;
  /** Undefined until `send` returns (a synchronous answer may come first). */
  ticket: number | undefined;
  askedAt: number;
}

/** A meta that said it is not ready, to be asked again at `at`. */
interface Retry {
  meta: string;
  at: number;
}

const NONE: readonly string[] = [];
/** Every call's retries until a meta says it is not ready (rare): one empty array, never written. */
const NO_RETRIES: Retry[] = [];

/**
 * Asks a cluster for its MetaServer leader's answer on behalf of every waiter
 * with the same question (docs/PROTOCOL.md §6–7), as a value-level state machine:
 * requests go out through the dispatcher, answers come back to `metaAnswered`
 * / `metaFailed`, and time comes from one shared sweep. It owns no Observable,
 * Subscription or timer.
 *
 * ```
 * idle ─join→ asking ─final answer→ answered
 *              │  ▲
 *   round over │  │ retryDelayMs later
 *              ▼  │
 *          waitingRetry            any state ─deadlines / budget→ failed
 *                                  any state ─last leave / cancel→ cancelled
 * ```
 *
 * Which meta to ask is `nextMeta`'s choice (src/model/nextMeta.ts):
 * - The first meta asked is the last known leader, else `metas[0]`.
 * - FORWARD naming a meta → ask that one (learning the address if new); FORWARD
 *   naming none, or a failed call (refused, dropped) → the next meta not yet
 *   asked this round, immediately. A forward is never an outcome.
 * - SERVICE_NOT_ACTIVE / UNDER_RECOVERY → the same meta again after `retryDelayMs`.
 * - No final answer `backupDelayMs` into a round → every meta not yet asked is
 *   asked in parallel; the first final answer wins and every other call is cancelled.
 * - A round ends when every meta has been asked and nothing is pending; the
 *   next one starts `retryDelayMs` later. Forwards followed per round are
 *   bounded, so two metas naming each other cannot loop.
 * - Each waiter fails at its own deadline: `ERR_NETWORK_FAILURE` when every
 *   call so far failed to connect and none is pending, else `ERR_TIMEOUT`. The
 *   call itself lives no longer than its first waiter's budget: waiters that
 *   joined later and have time left are handed back (`outlived`) for a fresh
 *   call, so a request lost by a meta cannot hold a stream of identical
 *   queries for ever.
 * - Any other answer (OK, OBJECT_NOT_FOUND, header errors, ...) is final; the
 *   meta that gave it is remembered as the cluster's leader.
 */
export class LeaderFollowingCall<W extends Waiter> implements MetaHandler, Sleeper {
  readonly waiters: W[] = [];
  wakeAt = Infinity;
  private current: CallState = 'idle';
  /** Metas to ask; the route's own array until a forward names a new one. */
  private metas: readonly string[];
  private readonly maxForwards: number;
  /** Calls in flight. */
  private readonly attempts: Attempt[] = [];
  /** Metas that said they are not ready, waiting for their time. */
  private retries: Retry[] = NO_RETRIES;
  /** Metas asked this round (including those still pending). */
  private tried: string[] = [];
  /** A meta that answered anything during this call (for telling an outrun meta from a dropped call). */
  private heard: string | undefined;
  /** More than one meta answered something. */
  private heardMore = false;
  /** `asking`: this round's backup time; `waitingRetry`: when the next round starts. */
  private roundAt = Infinity;
  private forwards = 0;
  private unreachable = 0;
  private reached = 0;
  private lastProblem = 'no meta answered';
  private deadlineAt = -Infinity;
  private minWaiterDeadline = Infinity;
  private startedAt = 0;

  constructor(
    private readonly deps: LeaderFollowingCallDeps,
    readonly cluster: ClusterRef,
    private readonly request: Pick<MetaRequest, 'name' | 'args'>,
    private readonly owner: CallOwner<W>,
    /** What the owner files the call under (the partition indices of its queries). */
    readonly key = '',
  ) {
    this.metas = cluster.metas;
    this.maxForwards = cluster.metas.length + 2;
  }

  get state(): CallState {
    return this.current;
  }

  /** Answered, failed or cancelled: nothing more happens. */
  get ended(): boolean {
    return this.current === 'answered' || this.current === 'failed' || this.current === 'cancelled';
  }

  /**
   * Adds a waiter; the first one starts the call. False when the call has ended.
   * @param now the scheduler's time, when the caller has it at hand
   */
  join(waiter: W, now?: number): boolean {
    if (this.ended) return false;
    this.waiters.push(waiter);
    // The call's budget is its first waiter's.
    if (this.waiters.length === 1) this.deadlineAt = waiter.deadlineAt;
    if (waiter.deadlineAt < this.minWaiterDeadline) {
      this.minWaiterDeadline = waiter.deadlineAt;
      if (this.waiters.length > 1) this.rearm();
    }
    if (this.waiters.length === 1) this.start(now ?? this.deps.scheduler.now());
    return true;
  }

  /** Removes a waiter that no longer wants the answer; the last one leaving cancels the call. */
  leave(waiter: W): void {
    const i = this.waiters.indexOf(waiter);
    if (i < 0) return;
    this.waiters.splice(i, 1);
    if (this.waiters.length === 0) {
      this.end('cancelled');
      this.owner.ended(this);
      return;
    }
    if (waiter.deadlineAt === this.minWaiterDeadline) this.minWaiterDeadline = minDeadline(this.waiters);
  }

  /** Cancels the call: every meta call is dropped, no waiter hears anything more. */
  cancel(): void {
    if (this.ended) return;
    this.end('cancelled');
    this.owner.ended(this);
  }

  private start(now: number): void {
    this.startedAt = now;
    if (this.metas.length === 0) return this.failAll('ERR_NETWORK_FAILURE', `cluster ${this.cluster.name} has no meta address`);
    if (this.deadlineAt <= now) return this.failAll('ERR_TIMEOUT', `no budget left to ask cluster ${this.cluster.name}`);
    this.startRound(now);
  }

  private failAll(error: CallFailure, reason: string): void {
    this.end('failed');
    for (const waiter of this.waiters.splice(0)) this.owner.failed(this, waiter, error, reason);
    this.owner.ended(this);
  }

  private startRound(now: number): void {
    this.current = 'asking';
    // The first round asks into the array the call was made with.
    if (this.tried.length !== 0) this.tried = [];
    this.forwards = 0;
    this.roundAt = now + this.deps.backupDelayMs;
    // nextMeta's roundStart, without its event, situation and choice objects: every call passes here.
    const first = this.deps.leaders.get(this.cluster) ?? this.metas[0];
    if (first === undefined) this.endRound(now);
    else this.ask(first, now);
    this.rearm();
  }

  /** Nothing left to ask this round and nothing pending: the next round starts after the retry delay. */
  private endRound(now: number): void {
    this.current = 'waitingRetry';
    this.roundAt = now + this.deps.retryDelayMs;
    this.rearm();
  }

  private situation(): MetaSituation {
    return { metas: this.metas, tried: this.tried, forwards: this.forwards, maxForwards: this.maxForwards, busy: this.busy() };
  }

  /** Metas with a call in flight or a retry waiting. */
  private busy(): readonly string[] {
    if (this.attempts.length === 0 && this.retries.length === 0) return NONE;
    return [...this.attempts.map((a) => a.meta), ...this.retries.map((r) => r.meta)];
  }

  /** Does what `nextMeta` chose. */
  private follow(next: NextMeta, now: number): void {
    switch (next.kind) {
      case 'ask':
        if (next.forwarded) {
          this.forwards++;
          if (!this.metas.includes(next.meta)) this.metas = [...this.metas, next.meta];
        }
        this.ask(next.meta, now);
        return;
      case 'askEach':
        for (const meta of next.metas) {
          // A synchronous outcome of an earlier one may have asked this meta, or ended the call.
          if (this.ended) return;
          if (!this.tried.includes(meta)) this.ask(meta, now);
        }
        return;
      case 'wait':
        return;
      case 'roundOver':
        this.endRound(now);
        return;
    }
  }

  private ask(meta: string, now: number): void {
    if (!this.tried.includes(meta)) this.tried.push(meta);
    const attempt: Attempt = { meta, ticket: undefined, askedAt: now };
    this.attempts.push(attempt);
    const sent = this.deps.dispatcher.send(meta, { name: this.request.name, args: this.request.args, timeoutMs: Math.max(0, this.deadlineAt - now) }, this);
    if (typeof sent !== 'number') {
      if (this.settle(attempt)) {
        this.deps.recordCall?.(meta, sent instanceof UpstreamError ? sent.kind : 'error');
        this.onFailure(meta, sent, now);
      }
      return;
    }
    // A synchronous outcome has settled the attempt already.
    if (attempt.ticket === undefined && this.attempts.includes(attempt)) attempt.ticket = sent;
  }

  metaAnswered(meta: string, ticket: number, answer: MetaAnswer): void {
    const attempt = this.find(meta, ticket);
    if (attempt === undefined || !this.settle(attempt)) return;
    const r = answer.reply;
    this.deps.recordCall?.(meta, r.bodyError ?? r.headerError);
    this.onAnswer(meta, answer);
  }

  metaFailed(meta: string, ticket: number, error: Error): void {
    const attempt = this.find(meta, ticket);
    if (attempt === undefined || !this.settle(attempt)) return;
    this.deps.recordCall?.(meta, error instanceof UpstreamError ? error.kind : 'error');
    this.onFailure(meta, error, this.deps.scheduler.now());
  }

  private find(meta: string, ticket: number): Attempt | undefined {
    for (const attempt of this.attempts) {
      if (attempt.meta === meta && (attempt.ticket === ticket || attempt.ticket === undefined)) return attempt;
    }
    return undefined;
  }

  /** Removes an attempt in flight; false when it is gone already (settled, or the call ended). */
  private settle(attempt: Attempt): boolean {
    const i = this.attempts.indexOf(attempt);
    if (i < 0) return false;
    this.attempts.splice(i, 1);
    return true;
  }

  private onAnswer(meta: string, answer: MetaAnswer): void {
    this.reached++;
    if (this.heard === undefined) this.heard = meta;
    else if (this.heard !== meta) this.heardMore = true;
    const r = answer.reply;
    const err = r.headerError === 'ERR_OK' ? r.bodyError : undefined;
    if (err === 'ERR_FORWARD_TO_OTHERS') {
      const to = r.forward;
      this.lastProblem = to === undefined ? `${meta} is not the leader and named none` : `${meta} forwarded to ${to}`;
      this.follow(nextMeta({ kind: 'forward', to }, this.situation()), this.deps.scheduler.now());
      return;
    }
    if (err !== undefined && NOT_READY.has(err)) {
      this.lastProblem = `${meta} answered ${err}`;
      if (this.retries === NO_RETRIES) this.retries = [];
      this.retries.push({ meta, at: this.deps.scheduler.now() + this.deps.retryDelayMs });
      this.rearm();
      return;
    }
    this.deps.leaders.set(this.cluster, meta);
    this.end('answered');
    this.owner.answered(this, answer);
    this.owner.ended(this);
  }

  private onFailure(meta: string, error: unknown, now: number): void {
    if (error instanceof UpstreamError && (error.kind === 'connect' || error.kind === 'timeout')) this.unreachable++;
    else this.reached++;
    this.lastProblem = `${meta}: ${error instanceof Error ? error.message : String(error)}`;
    this.follow(nextMeta({ kind: 'failed' }, this.situation()), now);
  }

  /** Time has come for something: waiter deadlines first, then the call's budget, the round timer, retries. */
  wake(now: number): void {
    if (this.ended) return;
    if (this.minWaiterDeadline <= now) {
      this.failExpiredWaiters(now);
      // Every waiter failed, or the owner cancelled while hearing of one.
      if (this.ended) return;
    }
    if (this.deadlineAt <= now) return this.outlive();
    if (this.roundAt <= now) this.roundTimeCame(now);
    this.askDueRetries(now);
    this.rearm();
  }

  /** Each waiter whose deadline passed fails; the call ends with the last one. */
  private failExpiredWaiters(now: number): void {
    const neverReached = this.reached === 0 && this.unreachable > 0 && this.attempts.length === 0 && this.retries.length === 0;
    const error: CallFailure = neverReached ? 'ERR_NETWORK_FAILURE' : 'ERR_TIMEOUT';
    const expired = this.waiters.filter((w) => w.deadlineAt <= now);
    const remaining = this.waiters.filter((w) => w.deadlineAt > now);
    if (remaining.length === 0) this.end('failed');
    this.waiters.splice(0, this.waiters.length, ...remaining);
    this.minWaiterDeadline = minDeadline(remaining);
    for (const waiter of expired) {
      const reason = `cluster ${this.cluster.name} gave no answer within ${waiter.deadlineAt - this.startedAt} ms (${this.lastProblem})`;
      this.owner.failed(this, waiter, error, reason);
    }
    if (remaining.length === 0) this.owner.ended(this);
  }

  /** Out of budget with waiters that still have time: they start afresh. */
  private outlive(): void {
    this.end('failed');
    const outliving = this.waiters.splice(0);
    this.owner.ended(this);
    this.owner.outlived(this, outliving);
  }

  /** The backup time of a round under way, or the start of the next one. */
  private roundTimeCame(now: number): void {
    this.roundAt = Infinity;
    if (this.current === 'asking') this.follow(nextMeta({ kind: 'backup' }, this.situation()), now);
    else this.startRound(now);
  }

  private askDueRetries(now: number): void {
    if (this.retries.length === 0) return;
    for (const retry of [...this.retries]) {
      if (retry.at > now) continue;
      const i = this.retries.indexOf(retry);
      // Gone: the call ended (a synchronous final answer to an earlier retry).
      if (i < 0) continue;
      this.retries.splice(i, 1);
      this.ask(retry.meta, now);
    }
  }

  private rearm(): void {
    if (this.ended) return;
    let at = Math.min(this.minWaiterDeadline, this.deadlineAt, this.roundAt);
    for (const retry of this.retries) if (retry.at < at) at = retry.at;
    this.wakeAt = at;
    this.deps.sweep.arm(this);
  }

  /**
   * Ends the call in `state`: every meta still being asked is cancelled. After
   * an answer or a deadline, a meta that stayed silent past the backup delay
   * while another meta of the cluster answered is reported as outrun; a call
   * cancelled reports every meta as dropped.
   */
  private end(state: 'answered' | 'failed' | 'cancelled'): void {
    if (this.ended) return;
    this.current = state;
    this.deps.sweep.disarm(this);
    if (this.retries.length !== 0) this.retries.length = 0;
    if (this.attempts.length === 0) return;
    const now = this.deps.scheduler.now();
    for (const attempt of this.attempts.splice(0)) {
      let reason: CancelReason = 'dropped';
      if (
        state !== 'cancelled' &&
        now - attempt.askedAt >= this.deps.backupDelayMs &&
        this.heard !== undefined &&
        (this.heard !== attempt.meta || this.heardMore)
      ) {
        reason = 'outrun';
      }
      this.deps.recordCall?.(attempt.meta, 'cancelled');
      if (attempt.ticket !== undefined) this.deps.dispatcher.cancel(attempt.meta, attempt.ticket, reason);
    }
  }
}

function minDeadline(waiters: readonly Waiter[]): number {
  let min = Infinity;
  for (const w of waiters) if (w.deadlineAt < min) min = w.deadlineAt;
  return min;
}
