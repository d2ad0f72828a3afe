import type { SchedulerAction, SchedulerLike, Subscription } from 'rxjs';

/**
 * Watches the bytes of an incomplete frame a connection holds, reported after
 * each chunk it sends (0 when none): calls `onIdle` with the byte count once
 * the connection has held a partial frame and sent nothing for `timeoutMs` (a
 * slowloris). Any chunk counts as progress; rather than re-arm a timer per
 * chunk, one timer checks on expiry whether progress was made and sleeps on
 * if so. Plain calls: the connection reports, the watch keeps four fields.
 *
 * ```
 * pending:  -5--7--0--3--------      timeout 4
 * onIdle:   --------------3----      idle from the 3 at frame 10 to 14
 * ```
 * (5 → 7 is progress; 0 means the frame completed, nothing held.)
 *
 * @param timeoutMs idle time allowed with a partial frame held; 0 = never
 * @param scheduler the clock and the timer
 * @param onIdle called once per idle spell with the bytes held
 */
export function idlePartialFrame(timeoutMs: number, scheduler: SchedulerLike, onIdle: (pendingBytes: number) => void): PartialFrameWatch {
  return new PartialFrameWatch(timeoutMs, scheduler, onIdle);
}

export class PartialFrameWatch {
  held = 0;
  lastProgressAt = 0;
  timer: Subscription | undefined;

  constructor(
    readonly timeoutMs: number,
    readonly scheduler: SchedulerLike,
    readonly onIdle: (pendingBytes: number) => void,
  ) {}

  /** The bytes of a partial frame held after a chunk; 0 when none. */
  report(pendingBytes: number): void {
    this.held = pendingBytes;
    // Nothing held reads no clock: the check below looks at the time only while bytes are held.
    if (pendingBytes === 0 || this.timeoutMs <= 0) return;
    this.lastProgressAt = this.scheduler.now();
    if (this.timer === undefined) this.timer = this.scheduler.schedule(checkIdle, this.timeoutMs, this);
  }

  /** Drops the timer, for good. */
  stop(): void {
    this.timer?.unsubscribe();
    this.timer = undefined;
    this.held = 0;
  }
}

function checkIdle(this: SchedulerAction<PartialFrameWatch>, watch?: PartialFrameWatch): void {
  const w = watch!;
  const idleFor = w.scheduler.now() - w.lastProgressAt;
  if (w.held === 0) {
    w.timer = undefined;
  } else if (idleFor < w.timeoutMs) {
    this.schedule(w, w.timeoutMs - idleFor);
  } else {
    w.timer = undefined;
    w.onIdle(w.held);
  }
}
