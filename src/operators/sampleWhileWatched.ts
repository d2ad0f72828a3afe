import { defer, exhaustMap, share, startWith, switchMap, takeUntil, timer, type OperatorFunction, type SchedulerLike } from 'rxjs';

/**
 * Sampling ticks while someone is watching: the first look starts a tick at
 * once and then one every `periodMs`; each look keeps them going; `idleMs`
 * after the last look they stop, until the next look starts them again.
 * Looks while ticking do not restart the period.
 *
 * ```
 * looks:  -a-----b-----------------------c----------
 *          period 3, idle 10: b at 7 → stop at 17; c at 31 → stop at 41
 * ticks:  -0--1--2--3--4--5--------------0--1--2--3-
 * ```
 *
 * @param periodMs time between ticks.
 * @param idleMs how long after the last look the ticks stop.
 * @param scheduler where time comes from (a `TestScheduler` in marble tests).
 */
export function sampleWhileWatched(periodMs: number, idleMs: number, scheduler: SchedulerLike): OperatorFunction<unknown, number> {
  return (looks$) =>
    defer(() => {
      const looks = looks$.pipe(share());
      return looks.pipe(
        exhaustMap(() =>
          timer(0, periodMs, scheduler).pipe(
            // The look that started the ticks arrived before this subscription: startWith stands in for it.
            takeUntil(looks.pipe(startWith(undefined), switchMap(() => timer(idleMs, scheduler)))),
          ),
        ),
      );
    });
}
