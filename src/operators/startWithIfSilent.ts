import { Observable, type OperatorFunction } from 'rxjs';

/**
 * `startWith(value)` for a source that usually replays at once: emits `value`
 * first only when the source says nothing while being subscribed to. A table's
 * route stream replays its cached state synchronously; only a table whose
 * route is still being read needs the "no route yet" state, and building (and
 * at once tearing down) an inner for it on every table that comes into the
 * cache showed up when tables churn.
 *
 * ```
 * source:   ab-|           ---a-b-|      (a replayed at once on subscription)
 * result:   ab-|           w--a-b-|      w = value
 * ```
 *
 * @param value what to emit when the source is silent at subscription
 */
export function startWithIfSilent<T, V>(value: V): OperatorFunction<T, T | V> {
  return (source) =>
    new Observable<T | V>((subscriber) => {
      let spoke = false;
      const subscription = source.subscribe({
        next: (v) => {
          spoke = true;
          subscriber.next(v);
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      });
      if (!spoke && !subscriber.closed) subscriber.next(value);
      return subscription;
    });
}
