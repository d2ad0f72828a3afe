/**
 * Where the native client's watch events go: one watcher function for every
 * watched read, handing each event to the handlers that still want it, and
 * one shared children watch per parent for the nodes waited for under it.
 */
import { ZOK, ZOO_CHILD_EVENT, ZOO_DELETED_EVENT, ZOO_SESSION_EVENT, type WatchCb } from './zkNative.js';
import type { LiveSession, ZkSession } from './zkSession.js';

/** Someone waiting, through its parent's children watch, for a node to appear. */
export interface ChildWaiter {
  /** The parent's children changed: read the node again. */
  changed(): void;
  /** No shared watch on the parent (it is missing or unreadable): watch the node itself. */
  unavailable(): void;
}

export interface ZkWatchDispatch {
  /** The watcher to hand to every watched native read. */
  readonly watcher: WatchCb;
  /** Registers `handler` for the next event on the data (or existence) of `path`; returns its removal. */
  onNextDataEvent(path: string, handler: () => void): () => void;
  /** Registers `waiter` on `parent`'s shared children watch in `session`; returns the cancel. */
  waitForChild(session: LiveSession, parent: string, waiter: ChildWaiter): () => void;
}

type Handlers = Map<string, Set<() => void>>;

const noop = (): void => undefined;

/** A parent's shared children watch and who waits on it. */
interface ChildWait {
  epoch: number;
  armed: boolean;
  waiters: Set<ChildWaiter>;
  /** Removes the armed watch's handler. */
  drop: () => void;
}

export function createWatchDispatch(session: ZkSession): ZkWatchDispatch {
  const { guard } = session;

  /**
   * The client keeps each watcher it is given for the life of the process — it
   * never releases one, fired or not — so the watcher must hold nothing: this
   * one looks up, by path, the handlers that still want the event. Handlers are
   * one-shot like ZooKeeper's watches, and leave the table when their read is
   * superseded or their subscription ends, taking their closures with them.
   */
  const dataHandlers: Handlers = new Map();
  const childHandlers: Handlers = new Map();
  const fire = (table: Handlers, path: string): void => {
    const handlers = table.get(path);
    if (handlers === undefined) return;
    table.delete(path);
    // One at a time: a handler that throws must not cost the others their event.
    for (const handler of handlers) guard('watch', handler);
  };
  const watcher: WatchCb = (type, _state, path) => {
    // Session events reach every watcher; the session subscription handles them.
    if (type === ZOO_SESSION_EVENT) return;
    // A deleted node fires both the watches on its data and those on its children.
    if (type !== ZOO_CHILD_EVENT) fire(dataHandlers, path);
    if (type === ZOO_CHILD_EVENT || type === ZOO_DELETED_EVENT) fire(childHandlers, path);
  };
  const onNextEvent = (table: Handlers, path: string, handler: () => void): (() => void) => {
    let handlers = table.get(path);
    if (handlers === undefined) table.set(path, (handlers = new Set()));
    handlers.add(handler);
    const registered = handlers;
    return () => {
      registered.delete(handler);
      if (registered.size === 0 && table.get(path) === registered) table.delete(path);
    };
  };

  /**
   * Waiting for a missing node to appear. An exists-watch per missing path
   * would stay registered (client and server) until the node is created —
   * forever for the made-up table names any client can send — and the native
   * client cannot remove watches. So every missing child of one parent shares
   * a single children watch on that parent: bounded by the number of parents,
   * re-armed on each change, and each waiter re-reads when the child list
   * changes. Only when the parent itself is missing does a path fall back to
   * its own exists-watch.
   */
  const childWaits = new Map<string, ChildWait>();

  const armChildren = (live: LiveSession, parent: string, wait: ChildWait): void => {
    wait.armed = true;
    const onChange = (): void =>
      guard('children watch', () => {
        if (childWaits.get(parent) !== wait) return;
        wait.armed = false;
        if (wait.waiters.size === 0) {
          childWaits.delete(parent);
          return;
        }
        if (session.current() === live) armChildren(live, parent, wait);
        const waiters = [...wait.waiters];
        wait.waiters.clear();
        for (const waiter of waiters) waiter.changed();
      });
    const unavailable = (): void => {
      wait.armed = false;
      wait.drop();
      if (childWaits.get(parent) === wait) childWaits.delete(parent);
      const waiters = [...wait.waiters];
      wait.waiters.clear();
      for (const waiter of waiters) waiter.unavailable();
    };
    wait.drop = onNextEvent(childHandlers, parent, onChange);
    const rc = live.zk.aw_get_children(parent, watcher, (code) =>
      guard('children', () => {
        if (code !== ZOK) unavailable();
      }),
    );
    if (rc !== ZOK) unavailable();
  };

  const waitForChild = (live: LiveSession, parent: string, waiter: ChildWaiter): (() => void) => {
    let wait = childWaits.get(parent);
    if (wait === undefined || wait.epoch !== live.epoch) {
      wait?.drop();
      wait = { epoch: live.epoch, armed: false, waiters: new Set(), drop: noop };
      childWaits.set(parent, wait);
    }
    const entry = wait;
    entry.waiters.add(waiter);
    if (!entry.armed) armChildren(live, parent, entry);
    return () => entry.waiters.delete(waiter);
  };

  return {
    watcher,
    onNextDataEvent: (path, handler) => onNextEvent(dataHandlers, path, handler),
    waitForChild,
  };
}
