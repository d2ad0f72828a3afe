import { Observable, type Subscriber } from 'rxjs';
import type { Query } from '../model/query.js';

/**
 * The queries of one table that have no reply yet, as the table's pipeline
 * reads them. `pending$` replays every pending query to a new reader, in
 * arrival order, then emits each new one: when a route change switches the
 * pipeline to a new inner, the new inner re-issues everything still pending.
 * One reader at a time (the current inner).
 *
 * ```
 * push:      a--b-----c----      (b answered at frame 5)
 * reader 1:  ^--------!          a--b
 * reader 2:           ^-----     (ac)--     a and c were pending when it came
 * ```
 *
 * A list linked through the queries' own `queued*` fields, not a `Set`: every
 * query enters and leaves a queue, and with many tables each queue holds one
 * or two at a time, so a Set paid a hash, a cold table and, every few
 * queries, a rehash of its deleted slots per query.
 */
export class QueryQueue {
  private first: Query | undefined;
  private last: Query | undefined;
  private count = 0;
  private reader: Subscriber<Query> | undefined;

  readonly pending$ = new Observable<Query>((subscriber) => {
    this.reader = subscriber;
    // A copy: a query answered synchronously leaves the list while it is read.
    const pending: Query[] = [];
    for (let query = this.first; query !== undefined; query = query.queuedAfter) pending.push(query);
    for (const query of pending) {
      if (subscriber.closed) break;
      if (query.queuedIn === this) subscriber.next(query);
    }
    return () => {
      if (this.reader === subscriber) this.reader = undefined;
    };
  });

  push(query: Query): void {
    if (query.queuedIn !== this) {
      query.queuedIn = this;
      query.queuedBefore = this.last;
      query.queuedAfter = undefined;
      if (this.last === undefined) this.first = query;
      else this.last.queuedAfter = query;
      this.last = query;
      this.count++;
    }
    this.reader?.next(query);
  }

  /** The query is answered or withdrawn. */
  remove(query: Query): void {
    if (query.queuedIn !== this) return;
    const before = query.queuedBefore;
    const after = query.queuedAfter;
    if (before === undefined) this.first = after;
    else before.queuedAfter = after;
    if (after === undefined) this.last = before;
    else after.queuedBefore = before;
    query.queuedIn = undefined;
    query.queuedBefore = undefined;
    query.queuedAfter = undefined;
    this.count--;
  }

  get size(): number {
    return this.count;
  }
}
