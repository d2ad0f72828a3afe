import { Observable, type OperatorFunction, type SchedulerLike, type Subscription } from 'rxjs';

/**
 * Watches the bytes of an incomplete frame a connection holds, reported after
 * each chunk it sends (0 when none): emits the byte count once the connection
 * has held a partial frame and sent nothing for `timeoutMs` (a slowloris).
 * Any chunk counts as progress; rather than re-arm a timer per chunk, one
 * timer checks on expiry whether progress was made and sleeps on if so.
 *
 * ```
 * pending:  -5--7--0--3--------      timeout 4
 * result:   --------------3----      idle from the 3 at frame 10 to 14
 * ```
 * (5 → 7 is progress; 0 means the frame completed, nothing held.)
 *
 * @param timeoutMs idle time allowed with a partial frame held; 0 = never
 * @param scheduler the clock and the timer
 */
export function idlePartialFrame(timeoutMs: number, scheduler: SchedulerLike): OperatorFunction<number, number> {
  return (source) =>
    new Observable<number>((subscriber) => {
      if (timeoutMs <= 0) return source.subscribe({ error: (e: unknown) => subscriber.error(e), complete: () => subscriber.complete() });
      let held = 0;
      let lastProgressAt = 0;
      let timer: Subscription | undefined;
      const arm = (delay: number): void => {
        timer = scheduler.schedule(function check() {
          const idleFor = scheduler.now() - lastProgressAt;
          if (held === 0) {
            timer = undefined;
          } else if (idleFor < timeoutMs) {
            this.schedule(undefined, timeoutMs - idleFor);
          } else {
            timer = undefined;
            subscriber.next(held);
          }
        }, delay);
      };
      const subscription = source.subscribe({
        next: (pending) => {
          held = pending;
          lastProgressAt = scheduler.now();
          if (pending > 0 && timer === undefined) arm(timeoutMs);
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      });
      return () => {
        subscription.unsubscribe();
        timer?.unsubscribe();
      };
    });
}
