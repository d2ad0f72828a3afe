import { Observable, type OperatorFunction } from 'rxjs';

/**
 * What changes whether a connection should be read: the number of its
 * requests in flight, its client not draining replies (`blocked`) and
 * draining them again (`drained`), or the proxy shutting down (`draining`:
 * no more reading, for good).
 */
export type FlowEvent = number | 'blocked' | 'drained' | 'draining';

/**
 * Decides when to stop and resume reading a client: emits `true` (pause)
 * when the requests in flight reach `limit`, while its replies are not
 * drained, or once draining; `false` (resume) when none of that holds any
 * more. Emits only changes, starting from "reading".
 *
 * ```
 * events:  -1-2-3-2-b--d-1-x-      limit 3; b = blocked, d = drained, x = draining
 * result:  -----t-f-t--f---t-      t = pause, f = resume
 * ```
 *
 * @param limit requests in flight at which reading stops
 */
export function flowControl(limit: number): OperatorFunction<FlowEvent, boolean> {
  return (source) =>
    new Observable<boolean>((subscriber) => {
      let inFlight = 0;
      let blocked = false;
      let draining = false;
      let paused = false;
      return source.subscribe({
        next: (event) => {
          if (typeof event === 'number') inFlight = event;
          else if (event === 'blocked') blocked = true;
          else if (event === 'drained') blocked = false;
          else draining = true;
          const pause = draining || blocked || inFlight >= limit;
          if (pause === paused) return;
          paused = pause;
          subscriber.next(pause);
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      });
    });
}
