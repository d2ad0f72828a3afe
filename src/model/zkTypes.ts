import type { Observable } from 'rxjs';

/**
 * The ZooKeeper session as the rest of the proxy sees it.
 * - `connecting`: no session yet (start-up);
 * - `connected`: requests and watches work;
 * - `disconnected`: the session exists but its connection dropped; watches
 *   come back by themselves if the client reconnects in time;
 * - `expired`: the session is gone with all its watches; a fresh one is being
 *   opened and the state goes back to `connected` when it is.
 */
export type ZkSessionState = 'connecting' | 'connected' | 'disconnected' | 'expired';

/** What a watched node holds now. Failures are values: a watch stream never errors. */
export type ZkNodeEvent =
  | { kind: 'data'; data: Buffer; version: number }
  | { kind: 'missing' }
  | { kind: 'error'; reason: string };

/** The part of the ZooKeeper driver the route registry depends on. */
export interface ZkWatchSource {
  /** Session state; replays the latest to a new subscriber. */
  readonly state$: Observable<ZkSessionState>;
  /**
   * Cold: subscribing reads the node and keeps watching it, emitting what it
   * holds now and after every change (a delete emits `missing`, a later create
   * `data`). Unsubscribing forgets the watch.
   */
  watchData(path: string): Observable<ZkNodeEvent>;
}
