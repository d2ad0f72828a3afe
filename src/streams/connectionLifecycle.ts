import { AsyncSubject, Observable, Subject, of, race, take } from 'rxjs';
import type { Query } from '../model/query.js';

/**
 * A connection's queries in flight, its drain and its end, as one small
 * object: `drain()` waits for the queries in flight, `finish()` ends the
 * connection once (whoever asks first: the client, a bad frame, the proxy)
 * and withdraws what is still in flight, `done$` tells of the end. The
 * Subjects behind `drain()` and `done$` and the set of queries are built only
 * when needed: an idle connection holds two booleans.
 *
 * ```
 * drain():      --d-----         one query in flight until frame 4
 * pending:      ----0---
 * drain() →     ----(d|)
 * finish():     ------f-
 * done$:        ------(d|)
 * ```
 */
export class ConnectionLifecycle {
  /** No more requests are read, for good. */
  draining = false;
  /** The connection is over. */
  finished = false;
  /** Queries sent and not yet answered (created with the first, dropped when empty). */
  private queries: Set<Query> | undefined;
  private done: AsyncSubject<void> | undefined;
  private drained: Subject<void> | undefined;

  inFlight(): number {
    return this.queries?.size ?? 0;
  }

  /** A query was handed to its table's pipeline. */
  sent(query: Query): void {
    (this.queries ??= new Set()).add(query);
  }

  /** A query has its reply. */
  answered(query: Query): void {
    const queries = this.queries;
    if (queries === undefined) return;
    queries.delete(query);
    // Dropped when empty: an idle connection keeps no set.
    if (queries.size === 0) this.queries = undefined;
  }

  /** Emits once when the connection is over, also to those who ask after. */
  get done$(): Observable<void> {
    if (this.done === undefined) {
      this.done = new AsyncSubject<void>();
      if (this.finished) announce(this.done);
    }
    return this.done.asObservable();
  }

  /**
   * Starts draining (for good) and returns what emits once nothing is in
   * flight: at once when nothing is or the connection is over, else at the
   * `pendingChanged(0)` or `finish()` to come.
   */
  drain(): Observable<void> {
    this.draining = true;
    if (this.finished || this.inFlight() === 0) return of(undefined);
    this.drained ??= new Subject<void>();
    return race(this.done$, this.drained).pipe(take(1));
  }

  /** The replies outstanding changed: a drain waiting for none hears of 0. */
  pendingChanged(pending: number): void {
    if (this.draining && pending === 0) this.drained?.next();
  }

  /**
   * Ends the connection the first time it is called: `owner.tearDown()` runs,
   * the queries still in flight are withdrawn (their cluster calls dropped
   * unless shared), then `owner.closed()`, `done$` and any drain hear of it.
   * Returns false when it was over already.
   */
  finish(owner: { tearDown(): void; closed(): void }): boolean {
    if (this.finished) return false;
    this.finished = true;
    owner.tearDown();
    const queries = this.queries;
    if (queries !== undefined) {
      for (const query of queries) query.holder?.withdraw(query);
      queries.clear();
    }
    owner.closed();
    if (this.done !== undefined) announce(this.done);
    this.drained?.next();
    return true;
  }
}

function announce(done: AsyncSubject<void>): void {
  done.next();
  done.complete();
}
