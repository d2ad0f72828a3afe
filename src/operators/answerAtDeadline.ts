import { Observable, type OperatorFunction, type SchedulerLike } from 'rxjs';
import type { PegasusError } from '../protocol/errorCodes.js';
import { encodeQueryConfigError } from '../protocol/response.js';
import type { Query } from '../model/query.js';
import type { Sleeper, Sweep } from '../model/sweep.js';

/**
 * Holds each query until its deadline, then answers it with a body error:
 * what a table whose route has not been read yet gives a query that waited
 * for it as long as its client could. Unsubscribing (the route came) lets
 * every held query go unanswered, for the next inner to serve.
 *
 * ```
 * queries:  a--b-------      deadlines: a at 5, b at 4
 * result:   ----BA-----      answered `code` at their own deadlines
 * ```
 *
 * @param code the body error each query gets
 * @param sweep wakes the operator at the earliest deadline held
 * @param scheduler the clock
 */
export function answerAtDeadline(code: PegasusError, sweep: Sweep, scheduler: SchedulerLike): OperatorFunction<Query, Query> {
  return (source) =>
    new Observable<Query>((subscriber) => {
      const held = new Set<Query>();
      const answer = (query: Query): void => {
        held.delete(query);
        query.cluster = undefined;
        query.reply = encodeQueryConfigError(code, query.seqid);
        query.code = code;
        subscriber.next(query);
      };
      const sleeper: Sleeper = {
        wakeAt: Infinity,
        wake(now) {
          let next = Infinity;
          for (const query of [...held]) {
            if (query.deadlineAt <= now) answer(query);
            else if (query.deadlineAt < next) next = query.deadlineAt;
          }
          sleeper.wakeAt = next;
          if (next === Infinity) sweep.disarm(sleeper);
          else sweep.arm(sleeper);
        },
      };
      const subscription = source.subscribe({
        next(query) {
          if (query.deadlineAt <= scheduler.now()) return answer(query);
          held.add(query);
          if (query.deadlineAt < sleeper.wakeAt) {
            sleeper.wakeAt = query.deadlineAt;
            sweep.arm(sleeper);
          }
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      });
      return () => {
        subscription.unsubscribe();
        sweep.disarm(sleeper);
        held.clear();
      };
    });
}
