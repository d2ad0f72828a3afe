/**
 * What changes whether a connection should be read: the number of its
 * requests in flight, its client not draining replies (`blocked`) and
 * draining them again (`drained`), or the proxy shutting down (`draining`:
 * no more reading, for good).
 */
export type FlowEvent = number | 'blocked' | 'drained' | 'draining';

/**
 * Decides when to stop and resume reading a client, as plain calls the
 * connection makes: `apply` returns `true` (pause) when the requests in
 * flight reach `limit`, while its replies are not drained, or once draining;
 * `false` (resume) when none of that holds any more; `undefined` when nothing
 * changed. Starts from "reading".
 *
 * ```
 * events:  -1-2-3-2-b--d-1-x-      limit 3; b = blocked, d = drained, x = draining
 * result:  -----t-f-t--f---t-      t = pause, f = resume
 * ```
 *
 * @param limit requests in flight at which reading stops
 */
export function flowControl(limit: number): FlowControl {
  return new FlowControl(limit);
}

/** One connection's reading state: four fields, no stream (an idle connection should cost little). */
export class FlowControl {
  private inFlight = 0;
  private blocked = false;
  private draining = false;
  private paused = false;

  constructor(private readonly limit: number) {}

  /** Takes one event; returns the new decision when it changed, else `undefined`. */
  apply(event: FlowEvent): boolean | undefined {
    if (typeof event === 'number') this.inFlight = event;
    else if (event === 'blocked') this.blocked = true;
    else if (event === 'drained') this.blocked = false;
    else this.draining = true;
    const pause = this.draining || this.blocked || this.inFlight >= this.limit;
    if (pause === this.paused) return undefined;
    this.paused = pause;
    return pause;
  }
}
