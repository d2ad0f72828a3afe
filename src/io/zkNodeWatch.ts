/**
 * One node watched for as long as its stream is subscribed: its data, or
 * that it is missing, as `ZkNodeEvent`s, again after every change and every
 * new session.
 */
import { Observable, type Subscriber, type Subscription } from 'rxjs';
import type { ZkNodeEvent } from '../model/zkTypes.js';
import { ZNONODE, ZOK, assertPath, zkCodeName } from './zkNative.js';
import type { LiveSession, ZkSession } from './zkSession.js';
import type { ZkWatchDispatch } from './zkWatchDispatch.js';

/** Where a node watch is. */
export type NodeWatchState =
  /** No session: the node is read once one comes. */
  | 'waitingSession'
  /** An unwatched get finds out whether the node exists (most missing nodes are made-up table names). */
  | 'probing'
  /** The node exists: a watched get is in flight or its watch armed; a change reads it again. */
  | 'watchingData'
  /** The node is missing: its parent's shared children watch says when to read it again. */
  | 'waitingChild'
  /** The node and its parent's children watch are missing: the node's own exists-watch waits for it. */
  | 'watchingCreation'
  /** A read failed: it is tried again with the next session, or after `timeoutMs` if the session stays. */
  | 'failed'
  /** Unsubscribed. */
  | 'stopped';

const noop = (): void => undefined;

/**
 * `path`'s events as a cold stream: subscribing starts watching the node,
 * unsubscribing forgets it. Completes when the session is closed; never errors
 * (a failed read is an `error` event).
 */
export function watchNode(path: string, session: ZkSession, dispatch: ZkWatchDispatch): Observable<ZkNodeEvent> {
  assertPath(path);
  const parent = path.slice(0, path.lastIndexOf('/')) || '/';
  return new Observable<ZkNodeEvent>((subscriber) => {
    const watch = new NodeWatch(path, parent, session, dispatch, subscriber);
    return () => watch.stop();
  });
}

/**
 * A node watch's state machine. Every read starts from `read()`, picks one of
 * three ways in (`probe`, `watchedGet`, `waitForChild` falling back to
 * `watchOwnCreation`) and ends in an event or a named wait. Native callbacks
 * cannot be withdrawn, so each read is numbered and a callback of a read that
 * has been superseded is ignored.
 */
class NodeWatch {
  private state: NodeWatchState = 'waitingSession';
  private readNo = 0;
  /** The session epoch of the latest read. */
  private readEpoch = -1;
  private lastKind: ZkNodeEvent['kind'] | undefined;
  private retry: NodeJS.Timeout | undefined;
  private stopWaiting: (() => void) | undefined;
  /** Removes the handler of the latest watched read from the shared watcher's table. */
  private dropWatch: () => void = noop;
  private readonly sessions: Subscription;

  constructor(
    private readonly path: string,
    private readonly parent: string,
    private readonly session: ZkSession,
    private readonly dispatch: ZkWatchDispatch,
    private readonly subscriber: Subscriber<ZkNodeEvent>,
  ) {
    this.sessions = session.live$.subscribe({
      next: (live) =>
        session.guard('session', () => {
          // Same session reconnected: the client restores its watches, so only a failed read needs redoing.
          if (live && (this.needsRead() || live.epoch !== this.readEpoch)) this.read();
        }),
      complete: () => subscriber.complete(),
    });
  }

  stop(): void {
    this.state = 'stopped';
    clearTimeout(this.retry);
    this.stopWaiting?.();
    this.dropWatch();
    this.sessions.unsubscribe();
  }

  private needsRead(): boolean {
    return this.state === 'waitingSession' || this.state === 'failed';
  }

  /** Whether a callback of read `no` still counts. */
  private current(no: number): boolean {
    return this.state !== 'stopped' && no === this.readNo;
  }

  private emit(event: ZkNodeEvent): void {
    // A node still missing after a sibling changed is no news.
    if (this.state === 'stopped' || (event.kind === 'missing' && this.lastKind === 'missing')) return;
    this.lastKind = event.kind;
    this.subscriber.next(event);
  }

  private fail(live: LiveSession, rc: number, what: string): void {
    this.state = 'failed';
    const reason = `${what} ${this.path} failed: ${zkCodeName(rc)}`;
    this.session.logger.debug({ zookeeper: this.session.connect, path: this.path, rc: zkCodeName(rc) }, 'ZooKeeper read failed');
    this.emit({ kind: 'error', reason });
    // While the session stays up no reconnect will prompt a retry, so time one.
    if (this.session.current() === live) {
      clearTimeout(this.retry);
      this.retry = setTimeout(() => this.session.guard('retry', () => this.read()), this.session.timeoutMs);
    }
  }

  private read(): void {
    clearTimeout(this.retry);
    this.stopWaiting?.();
    this.stopWaiting = undefined;
    this.dropWatch();
    this.dropWatch = noop;
    if (this.state === 'stopped') return;
    const live = this.session.current();
    if (!live) {
      this.state = 'waitingSession';
      return;
    }
    const no = ++this.readNo;
    this.readEpoch = live.epoch;
    // A node known to exist (a watch fired on it, a session came back) is read at once.
    if (this.lastKind === 'data') this.watchedGet(live, no);
    else this.probe(live, no);
  }

  /**
   * Probes without a watch first: every watched request costs the native client
   * a record it never frees, and most reads that miss are of made-up table names.
   */
  private probe(live: LiveSession, no: number): void {
    this.state = 'probing';
    const rc = live.zk.a_get(this.path, false, (code) =>
      this.session.guard('probe', () => {
        if (!this.current(no)) return;
        if (code === ZOK) this.watchedGet(live, no);
        else if (code === ZNONODE) this.waitForChild(live, no);
        else this.fail(live, code, 'reading');
      }),
    );
    if (rc !== ZOK) this.fail(live, rc, 'reading');
  }

  private watchedGet(live: LiveSession, no: number): void {
    this.state = 'watchingData';
    this.watchOwnEvents(no);
    const rc = live.zk.aw_get(this.path, this.dispatch.watcher, (code, _err, stat, data) =>
      this.session.guard('get', () => {
        if (!this.current(no)) return;
        if (code === ZOK) this.emit({ kind: 'data', data: data ?? Buffer.alloc(0), version: stat?.version ?? 0 });
        // Deleted since the probe: a get leaves no watch on a missing node, so wait as for one.
        else if (code === ZNONODE) this.waitForChild(live, no);
        else this.fail(live, code, 'reading');
      }),
    );
    if (rc !== ZOK) this.fail(live, rc, 'reading');
  }

  private waitForChild(live: LiveSession, no: number): void {
    this.state = 'waitingChild';
    let fellBack = false;
    this.stopWaiting = this.dispatch.waitForChild(live, this.parent, {
      changed: () =>
        this.session.guard('child appeared', () => {
          if (this.current(no)) this.read();
        }),
      unavailable: () =>
        this.session.guard('no children watch', () => {
          fellBack = true;
          if (this.current(no)) this.watchOwnCreation(live, no);
        }),
    });
    if (fellBack) return;
    // The node may have been created between the get and the children
    // watch; this read leaves no watch of its own behind.
    const rc = live.zk.a_get(this.path, false, (code) =>
      this.session.guard('recheck', () => {
        if (!this.current(no) || fellBack) return;
        if (code === ZOK) this.read();
        else if (code === ZNONODE) this.emit({ kind: 'missing' });
        else this.fail(live, code, 'reading');
      }),
    );
    if (rc !== ZOK) this.fail(live, rc, 'reading');
  }

  private watchOwnCreation(live: LiveSession, no: number): void {
    this.state = 'watchingCreation';
    this.watchOwnEvents(no);
    const rc = live.zk.aw_exists(this.path, this.dispatch.watcher, (code) =>
      this.session.guard('exists', () => {
        if (!this.current(no)) return;
        if (code === ZNONODE) this.emit({ kind: 'missing' });
        else if (code === ZOK) this.read(); // created between the two requests
        else this.fail(live, code, 'watching');
      }),
    );
    if (rc !== ZOK) this.fail(live, rc, 'watching');
  }

  /** The next event on this node reads it again (if read `no` is still the latest). */
  private watchOwnEvents(no: number): void {
    this.dropWatch();
    this.dropWatch = this.dispatch.onNextDataEvent(this.path, () => {
      if (this.current(no)) this.read();
    });
  }
}
