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
 */
export class QueryQueue {
  private readonly pending = new Set<Query>();
  private reader: Subscriber<Query> | undefined;

  readonly pending$ = new Observable<Query>((subscriber) => {
    this.reader = subscriber;
    // A copy: a query answered synchronously leaves the set while it is read.
    for (const query of [...this.pending]) {
      if (subscriber.closed) break;
      if (this.pending.has(query)) subscriber.next(query);
    }
    return () => {
      if (this.reader === subscriber) this.reader = undefined;
    };
  });

  push(query: Query): void {
    this.pending.add(query);
    this.reader?.next(query);
  }

  /** The query is answered or withdrawn. */
  remove(query: Query): void {
    this.pending.delete(query);
  }

  get size(): number {
    return this.pending.size;
  }
}
