import type { SchedulerLike, Subscription } from 'rxjs';

/** Something with a time to be woken at: a call's next deadline, backup or retry. */
export interface Sleeper {
  /** Scheduler time (ms) to be woken at; `Infinity` = nothing due. */
  wakeAt: number;
  /** Called once `wakeAt` has passed; the sleeper sets its next `wakeAt` (or leaves). */
  wake(now: number): void;
}

/**
 * One timer for every sleeper: the deadlines, backup requests and retries of
 * all calls in flight. A call costs a `Set` insert when it starts and a delete
 * when it ends, never a timer of its own; the one scheduler action is armed at
 * the earliest `wakeAt` (rounded up to `tickMs`, so wake-ups are coarse and
 * shared) and re-armed only when a sleeper asks for an earlier time than the
 * armed one, which with deadlines that grow with arrival time is rare.
 */
export interface Sweep {
  /** Starts watching `sleeper`, or notes that its `wakeAt` changed. */
  arm(sleeper: Sleeper): void;
  /** Stops watching `sleeper`. */
  disarm(sleeper: Sleeper): void;
  /** Sleepers watched right now. */
  size(): number;
  /** Stops the timer and forgets every sleeper. */
  close(): void;
}

/**
 * ```
 * sleepers:  a(wakeAt 3)  b(wakeAt 5)  c(wakeAt 2, armed at 1)
 * wakes:     --c-a-b
 * timer:     armed at 3 → re-armed at 2 when c comes → 3 → 5 → idle
 * ```
 *
 * @param scheduler time and the one timer (a `TestScheduler` drives it in marble tests)
 * @param tickMs wake-up granularity: due times are rounded up to a multiple of it
 */
export function createSweep(scheduler: SchedulerLike, tickMs = 1): Sweep {
  const sleepers = new Set<Sleeper>();
  let timer: Subscription | undefined;
  /** When the armed timer fires; Infinity while none is armed. */
  let armedAt = Infinity;
  let sweeping = false;
  /** The earliest `wakeAt` armed while sweeping: a sleeper already visited may have moved earlier. */
  let armedDuringSweep = Infinity;
  let closed = false;

  const round = (at: number): number => Math.ceil(at / tickMs) * tickMs;

  const armAt = (at: number): void => {
    timer?.unsubscribe();
    armedAt = at;
    timer = scheduler.schedule(fire, Math.max(0, at - scheduler.now()));
  };

  function fire(): void {
    timer = undefined;
    armedAt = Infinity;
    const now = scheduler.now();
    let next = Infinity;
    sweeping = true;
    armedDuringSweep = Infinity;
    try {
      for (const sleeper of sleepers) {
        if (sleeper.wakeAt <= now) {
          sleeper.wake(now);
          // A sleeper that is done disarms itself inside `wake`.
          if (!sleepers.has(sleeper)) continue;
        }
        if (sleeper.wakeAt < next) next = sleeper.wakeAt;
      }
    } finally {
      sweeping = false;
    }
    next = Math.min(next, armedDuringSweep);
    if (next !== Infinity && !closed) armAt(round(next));
  }

  return {
    arm(sleeper) {
      if (closed) return;
      sleepers.add(sleeper);
      if (sleeper.wakeAt === Infinity) return;
      // While sweeping, the sweep itself arms the timer for what is left.
      if (sweeping) {
        if (sleeper.wakeAt < armedDuringSweep) armedDuringSweep = sleeper.wakeAt;
        return;
      }
      const at = round(sleeper.wakeAt);
      if (at < armedAt) armAt(at);
    },
    disarm(sleeper) {
      sleepers.delete(sleeper);
    },
    size: () => sleepers.size,
    close() {
      closed = true;
      timer?.unsubscribe();
      timer = undefined;
      armedAt = Infinity;
      sleepers.clear();
    },
  };
}
