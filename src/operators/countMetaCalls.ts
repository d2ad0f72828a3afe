import { Observable, type MonoTypeOperatorFunction } from 'rxjs';
import { UpstreamError } from '../errors.js';
import type { MetaAnswer } from '../streams/upstreamTypes.js';

/**
 * Reports how one call to a MetaServer ended, exactly once: the error name of
 * its answer (body `err` when the body could be read, else the header error),
 * the `UpstreamError` kind it failed with, or `cancelled` when it was
 * unsubscribed first (a backup request that lost, a route that changed).
 * Values and notifications pass through unchanged.
 *
 * ```
 * source:   ----a|            ----#              ----a|
 * result:   ----a|            ----#              --!
 * record:       ERR_OK            timeout          cancelled
 * ```
 *
 * @param meta the meta address the call went to (the metric's label).
 * @param record receives `(meta, result)`; it must not throw.
 */
export function countMetaCalls(
  meta: string,
  record: (meta: string, result: string) => void,
): MonoTypeOperatorFunction<MetaAnswer> {
  return (source) =>
    new Observable<MetaAnswer>((subscriber) => {
      let settled = false;
      const settle = (result: string) => {
        if (settled) return;
        settled = true;
        record(meta, result);
      };
      const subscription = source.subscribe({
        next: (answer) => {
          settle(answer.reply.bodyError ?? answer.reply.headerError);
          subscriber.next(answer);
        },
        error: (error: unknown) => {
          settle(error instanceof UpstreamError ? error.kind : 'error');
          subscriber.error(error);
        },
        complete: () => {
          // A caller completes only after its one answer; without one there is nothing to count.
          settled = true;
          subscriber.complete();
        },
      });
      return () => {
        settle('cancelled');
        subscription.unsubscribe();
      };
    });
}
