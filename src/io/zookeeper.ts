/**
 * The ZooKeeper driver: one session (re-opened when it expires), node watches
 * as cold observables, and the few plain operations the tooling needs.
 *
 * The native client delivers everything through callbacks; each one is
 * wrapped so that nothing can throw back into it, and each watch stream keeps
 * its own state inside its subscribe function.
 */
import ZooKeeper from 'zookeeper';
import { BehaviorSubject, Observable, filter, firstValueFrom, take, timeout } from 'rxjs';
import type { BaseLogger } from 'pino';
import { ZooKeeperError } from '../errors.js';
import { parseHostPort } from '../protocol/hostPort.js';
import type { ZkNodeEvent, ZkSessionState, ZkWatchSource } from '../model/zkTypes.js';

export type ZkLogger = Pick<BaseLogger, 'debug' | 'info' | 'warn' | 'error'>;

export interface ZooKeeperDriverOptions {
  /** `host:port` entries; host names allowed. */
  address: string[];
  /** Session timeout asked of the server, and the bound on waiting for a session. */
  timeoutMs: number;
  /** Sent with every new session before anything else (digest: `user:password`). */
  auth?: { scheme: string; credential: string };
  logger?: ZkLogger;
  /**
   * The native client's own logging to stderr (0 silent … 4 debug). It is
   * process-wide in the C library. Default 0: state changes go through `logger`.
   */
  nativeLogLevel?: 0 | 1 | 2 | 3 | 4;
}

export interface ZkNodeData {
  data: Buffer;
  version: number;
}

export interface ZkNodeStat {
  version: number;
  /** An ephemeral node created by the current session (not an earlier one, not another client's). */
  ownedBySession: boolean;
}

export interface ZooKeeperDriver extends ZkWatchSource {
  /** Read a node once; null when it does not exist. */
  get(path: string): Promise<ZkNodeData | null>;
  /** Child names of a node; null when it does not exist. */
  children(path: string): Promise<string[] | null>;
  /**
   * Create a node (and, with `parents`, its missing ancestors, empty and persistent). Rejects with ZNODEEXISTS if
   * it exists. With `ephemeral`, the node lives as long as this session: ZooKeeper deletes it when the session ends.
   */
  create(path: string, data: Buffer | string, options?: { parents?: boolean; ephemeral?: boolean }): Promise<void>;
  /** A node's version, and whether it is an ephemeral node of this very session; null when it does not exist. */
  exists(path: string): Promise<ZkNodeStat | null>;
  /** Overwrite a node's data; with `version`, only if the node is still at that version. Resolves the new version. */
  set(path: string, data: Buffer | string, version?: number): Promise<number>;
  /** Delete a node; with `version`, only if it is still at that version. */
  remove(path: string, version?: number): Promise<void>;
  /** The current session's id and password (hex), for diagnostics and fault tests; undefined without one. */
  session(): { id: string; password: string } | undefined;
  /** End the session. Watch streams complete; operations reject. */
  close(): void;
}

/** A ZooKeeper call returned an error code: `rcName` is the C client's name for it (ZNONODE, ZBADVERSION, ...). */
export class ZooKeeperOperationError extends ZooKeeperError {
  constructor(
    readonly rc: number,
    readonly rcName: string,
    message: string,
  ) {
    super(message);
  }
}

/** The part of the native client used here; its bundled typings are loose. */
interface RawZk {
  init(config: object): unknown;
  close(): unknown;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  readonly state: number;
  readonly client_id: string;
  readonly client_password: string;
  add_auth(scheme: string, credential: string, cb: (rc: number) => void): number;
  aw_get(path: string, watch: WatchCb, cb: (rc: number, err: string, stat: { version: number } | undefined, data: Buffer | null | undefined) => void): number;
  aw_exists(path: string, watch: WatchCb, cb: (rc: number, err: string, stat: unknown) => void): number;
  aw_get_children(path: string, watch: WatchCb, cb: (rc: number, err: string, children: string[] | undefined) => void): number;
  a_get(path: string, watch: boolean, cb: (rc: number, err: string, stat: { version: number } | undefined, data: Buffer | null | undefined) => void): number;
  a_exists(path: string, watch: boolean, cb: (rc: number, err: string, stat: { version: number; createdInThisSession?: boolean } | undefined) => void): number;
  a_get_children(path: string, watch: boolean, cb: (rc: number, err: string, children: string[] | undefined) => void): number;
  a_create(path: string, data: Buffer | string, flags: number, cb: (rc: number, err: string, path: string) => void): number;
  a_set(path: string, data: Buffer | string, version: number, cb: (rc: number, err: string, stat: { version: number } | undefined) => void): number;
  a_delete_(path: string, version: number, cb: (rc: number, err: string) => void): number;
}
type WatchCb = (type: number, state: number, path: string) => void;

const constants = (ZooKeeper as unknown as { constants: Record<string, unknown> }).constants;
const num = (name: string, fallback: number): number => {
  const v = constants[name];
  return typeof v === 'number' ? v : fallback;
};
const ZOK = num('ZOK', 0);
const ZNONODE = num('ZNONODE', -101);
const ZNODEEXISTS = num('ZNODEEXISTS', -110);
const ZOO_SESSION_EVENT = num('ZOO_SESSION_EVENT', -1);
const ZOO_CHILD_EVENT = num('ZOO_CHILD_EVENT', 4);
const ZOO_DELETED_EVENT = num('ZOO_DELETED_EVENT', 2);
const ZOO_AUTH_FAILED_STATE = num('ZOO_AUTH_FAILED_STATE', -113);
const ZOO_PERSISTENT = num('ZOO_PERSISTENT', 0);
const ZOO_EPHEMERAL = num('ZOO_EPHEMERAL', 1);

const rcNames = new Map<number, string>();
for (const [name, value] of Object.entries(constants)) {
  if (typeof value === 'number' && /^Z[A-Z]+$/.test(name) && !rcNames.has(value)) rcNames.set(value, name);
}
rcNames.set(ZOK, 'ZOK');
/** `ZNONODE (-101)`: the C client's name for a return code. */
export function zkCodeName(rc: number): string {
  return `${rcNames.get(rc) ?? 'ZUNKNOWN'} (${rc})`;
}

function validate(options: ZooKeeperDriverOptions): void {
  const { address, timeoutMs, auth } = options;
  if (!Array.isArray(address) || address.length === 0) {
    throw new ZooKeeperError('The ZooKeeper address list is empty: give at least one host:port.');
  }
  for (const entry of address) {
    const parsed = typeof entry === 'string' ? parseHostPort(entry, { minPort: 1 }) : { error: 'not a string' };
    if ('error' in parsed) {
      throw new ZooKeeperError(`The ZooKeeper address ${JSON.stringify(entry)} is not host:port with a port from 1 to 65535: ${parsed.error}.`);
    }
  }
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) {
    throw new ZooKeeperError(`The ZooKeeper timeout must be a positive whole number of milliseconds, not ${String(timeoutMs)}.`);
  }
  if (auth !== undefined && (typeof auth.scheme !== 'string' || auth.scheme === '' || typeof auth.credential !== 'string')) {
    throw new ZooKeeperError('ZooKeeper auth needs a scheme (e.g. digest) and a credential string.');
  }
}

function assertPath(path: string): void {
  const ok = typeof path === 'string' && path.startsWith('/') && (path === '/' || (!path.endsWith('/') && !path.includes('//'))) && !path.includes('\u0000');
  if (!ok) throw new ZooKeeperError(`${JSON.stringify(path)} is not a ZooKeeper path (absolute, no empty segment).`);
}

const noop = (): void => undefined;
const silent: ZkLogger = { debug: noop, info: noop, warn: noop, error: noop };

/** One native handle while its session is connected. `epoch` counts handles, so a new session is a new epoch. */
interface LiveSession {
  zk: RawZk;
  epoch: number;
}

/** Validate the options once and open the session; returns the driver. */
export function createZooKeeperDriver(options: ZooKeeperDriverOptions): ZooKeeperDriver {
  validate(options);
  const connect = options.address.map((a) => a.trim()).join(',');
  const timeoutMs = options.timeoutMs;
  const logger = options.logger ?? silent;
  const nativeLogLevel = options.nativeLogLevel ?? 0;
  const Ctor = ZooKeeper as unknown as new (config: object) => RawZk;

  const state = new BehaviorSubject<ZkSessionState>('connecting');
  const live = new BehaviorSubject<LiveSession | null>(null);
  let current: RawZk | undefined;
  let epoch = 0;
  let closed = false;
  let reopenTimer: NodeJS.Timeout | undefined;

  /** Run a native callback's body; a throw is logged, never propagated into the native client. */
  const guard = (what: string, body: () => void): void => {
    try {
      body();
    } catch (err) {
      logger.error({ err, zookeeper: connect }, `ZooKeeper ${what} handler threw`);
    }
  };

  const setState = (next: ZkSessionState): void => {
    if (state.value === next) return;
    logger.info({ zookeeper: connect, state: next, from: state.value }, 'ZooKeeper session state');
    state.next(next);
  };

  /**
   * The one watcher function every watched read hands to the native client.
   * The client keeps each watcher it is given for the life of the process — it
   * never releases one, fired or not — so a watcher must hold nothing: this one
   * looks up, by path, the handlers that still want the event. Handlers are
   * one-shot like ZooKeeper's watches, and leave the table when their read is
   * superseded or their subscription ends, taking their closures with them.
   */
  const dataHandlers = new Map<string, Set<() => void>>();
  const childHandlers = new Map<string, Set<() => void>>();
  const fire = (table: Map<string, Set<() => void>>, path: string): void => {
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
  /** Registers `handler` for the next event on `path`; returns its removal. */
  const onNextEvent = (table: Map<string, Set<() => void>>, path: string, handler: () => void): (() => void) => {
    let handlers = table.get(path);
    if (handlers === undefined) table.set(path, (handlers = new Set()));
    handlers.add(handler);
    const registered = handlers;
    return () => {
      registered.delete(handler);
      if (registered.size === 0 && table.get(path) === registered) table.delete(path);
    };
  };

  const reopenLater = (ms: number): void => {
    clearTimeout(reopenTimer);
    reopenTimer = setTimeout(() => guard('reopen', open), ms);
  };

  const open = (): void => {
    if (closed) return;
    const myEpoch = ++epoch;
    let zk: RawZk;
    try {
      zk = new Ctor({ connect, timeout: timeoutMs, debug_level: nativeLogLevel, host_order_deterministic: false });
      current = zk;
    } catch (err) {
      logger.error({ err, zookeeper: connect }, 'cannot create a ZooKeeper client; retrying');
      reopenLater(timeoutMs);
      return;
    }
    let everConnected = false;
    zk.on('connect', () =>
      guard('connect', () => {
        if (zk !== current || closed) return;
        everConnected = true;
        setState('connected');
        live.next({ zk, epoch: myEpoch });
      }),
    );
    zk.on('connecting', () =>
      guard('connecting', () => {
        if (zk !== current || closed) return;
        if (live.value) live.next(null);
        // A handle that never connected is still 'connecting' (or 'expired', if it replaces an expired one).
        if (everConnected) setState('disconnected');
      }),
    );
    zk.on('close', (_self: unknown, code: unknown) =>
      guard('close', () => {
        if (zk !== current || closed) return;
        current = undefined;
        if (live.value) live.next(null);
        const authFailed = code === ZOO_AUTH_FAILED_STATE;
        logger.warn({ zookeeper: connect, code }, authFailed ? 'ZooKeeper authentication failed; opening a new session' : 'ZooKeeper session expired; opening a new one');
        setState('expired');
        // A refused credential will be refused again at once: do not spin.
        reopenLater(authFailed ? timeoutMs : 0);
      }),
    );
    try {
      zk.init({});
    } catch (err) {
      logger.error({ err, zookeeper: connect }, 'cannot start a ZooKeeper session; retrying');
      current = undefined;
      reopenLater(timeoutMs);
      return;
    }
    // The native init reports failure (no address resolves, ...) only by leaving no handle behind.
    if (zk.state === 0) {
      logger.warn({ zookeeper: connect }, 'cannot start a ZooKeeper session (no usable address?); retrying');
      current = undefined;
      reopenLater(timeoutMs);
      return;
    }
    if (options.auth) {
      // Queued now, sent by the client on every (re)connection of this handle before any request.
      const rc = zk.add_auth(options.auth.scheme, options.auth.credential, (code) =>
        guard('auth', () => {
          if (code !== ZOK && zk === current) logger.error({ zookeeper: connect, rc: zkCodeName(code) }, 'ZooKeeper rejected the credentials');
        }),
      );
      if (rc !== ZOK) logger.error({ zookeeper: connect, rc: zkCodeName(rc) }, 'cannot add ZooKeeper credentials');
    }
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
  interface ChildWaiter {
    /** The parent's children changed: read the node again. */
    changed(): void;
    /** No shared watch on the parent (it is missing or unreadable): watch the node itself. */
    unavailable(): void;
  }
  interface ChildWait {
    epoch: number;
    armed: boolean;
    waiters: Set<ChildWaiter>;
    /** Removes the armed watch's handler. */
    drop: () => void;
  }
  const childWaits = new Map<string, ChildWait>();

  const armChildren = (session: LiveSession, parent: string, wait: ChildWait): void => {
    wait.armed = true;
    const onChange = (): void =>
      guard('children watch', () => {
        if (childWaits.get(parent) !== wait) return;
        wait.armed = false;
        if (wait.waiters.size === 0) {
          childWaits.delete(parent);
          return;
        }
        if (live.value === session) armChildren(session, parent, wait);
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
    const rc = session.zk.aw_get_children(parent, watcher, (code) =>
      guard('children', () => {
        if (code !== ZOK) unavailable();
      }),
    );
    if (rc !== ZOK) unavailable();
  };

  /** Registers `waiter` on `parent`'s shared children watch; returns the cancel. */
  const waitForChild = (session: LiveSession, parent: string, waiter: ChildWaiter): (() => void) => {
    let wait = childWaits.get(parent);
    if (wait === undefined || wait.epoch !== session.epoch) {
      wait?.drop();
      wait = { epoch: session.epoch, armed: false, waiters: new Set(), drop: noop };
      childWaits.set(parent, wait);
    }
    const entry = wait;
    entry.waiters.add(waiter);
    if (!entry.armed) armChildren(session, parent, entry);
    return () => entry.waiters.delete(waiter);
  };

  const watchData = (path: string): Observable<ZkNodeEvent> => {
    assertPath(path);
    const parent = path.slice(0, path.lastIndexOf('/')) || '/';
    return new Observable<ZkNodeEvent>((subscriber) => {
      let active = true;
      // Each read gets a token; callbacks of a read that has been superseded are ignored.
      let token = 0;
      let needRead = true;
      let readEpoch = -1;
      let retry: NodeJS.Timeout | undefined;
      let stopWaiting: (() => void) | undefined;
      /** Removes the handler of the latest watched read from the shared watcher's table. */
      let dropWatch: () => void = noop;

      let lastKind: ZkNodeEvent['kind'] | undefined;
      const emit = (event: ZkNodeEvent): void => {
        // A node still missing after a sibling changed is no news.
        if (!active || (event.kind === 'missing' && lastKind === 'missing')) return;
        lastKind = event.kind;
        subscriber.next(event);
      };

      const fail = (session: LiveSession, rc: number, what: string): void => {
        needRead = true;
        const reason = `${what} ${path} failed: ${zkCodeName(rc)}`;
        logger.debug({ zookeeper: connect, path, rc: zkCodeName(rc) }, 'ZooKeeper read failed');
        emit({ kind: 'error', reason });
        // While the session stays up no reconnect will prompt a retry, so time one.
        if (live.value === session) {
          clearTimeout(retry);
          retry = setTimeout(() => guard('retry', read), timeoutMs);
        }
      };

      const read = (): void => {
        clearTimeout(retry);
        stopWaiting?.();
        stopWaiting = undefined;
        dropWatch();
        dropWatch = noop;
        const session = live.value;
        if (!active) return;
        if (!session) {
          needRead = true;
          return;
        }
        const my = ++token;
        needRead = false;
        readEpoch = session.epoch;
        const mine = (): boolean => active && my === token;
        const onWatch = (): void => {
          if (mine()) read();
        };
        const onCreation = (): void => {
          let fellBack = false;
          stopWaiting = waitForChild(session, parent, {
            changed: () => guard('child appeared', () => mine() && read()),
            unavailable: () =>
              guard('no children watch', () => {
                fellBack = true;
                if (mine()) watchOwnCreation();
              }),
          });
          if (fellBack) return;
          // The node may have been created between the get and the children
          // watch; this read leaves no watch of its own behind.
          const rc = session.zk.a_get(path, false, (code) =>
            guard('recheck', () => {
              if (!mine() || fellBack) return;
              if (code === ZOK) read();
              else if (code === ZNONODE) emit({ kind: 'missing' });
              else fail(session, code, 'reading');
            }),
          );
          if (rc !== ZOK) fail(session, rc, 'reading');
        };
        const watchOwnCreation = (): void => {
          dropWatch();
          dropWatch = onNextEvent(dataHandlers, path, onWatch);
          const rc = session.zk.aw_exists(path, watcher, (code) =>
            guard('exists', () => {
              if (!mine()) return;
              if (code === ZNONODE) emit({ kind: 'missing' });
              else if (code === ZOK) read(); // created between the two requests
              else fail(session, code, 'watching');
            }),
          );
          if (rc !== ZOK) fail(session, rc, 'watching');
        };
        const watchedGet = (): void => {
          dropWatch();
          dropWatch = onNextEvent(dataHandlers, path, onWatch);
          const rc = session.zk.aw_get(path, watcher, (code, _err, stat, data) =>
            guard('get', () => {
              if (!mine()) return;
              if (code === ZOK) emit({ kind: 'data', data: data ?? Buffer.alloc(0), version: stat?.version ?? 0 });
              // Deleted since the probe: a get leaves no watch on a missing node, so wait as for one.
              else if (code === ZNONODE) onCreation();
              else fail(session, code, 'reading');
            }),
          );
          if (rc !== ZOK) fail(session, rc, 'reading');
        };
        // A node known to exist (a watch fired on it, a session came back) is read at once.
        if (lastKind === 'data') return watchedGet();
        // Otherwise probe without a watch first: every watched request costs the native
        // client a record it never frees, and most reads that miss are of made-up table names.
        const rc = session.zk.a_get(path, false, (code) =>
          guard('probe', () => {
            if (!mine()) return;
            if (code === ZOK) watchedGet();
            else if (code === ZNONODE) onCreation();
            else fail(session, code, 'reading');
          }),
        );
        if (rc !== ZOK) fail(session, rc, 'reading');
      };

      const sessions = live.subscribe({
        next: (session) =>
          guard('session', () => {
            // Same session reconnected: the client restores its watches, so only a failed read needs redoing.
            if (session && (needRead || session.epoch !== readEpoch)) read();
          }),
        complete: () => subscriber.complete(),
      });

      return () => {
        active = false;
        clearTimeout(retry);
        stopWaiting?.();
        dropWatch();
        sessions.unsubscribe();
      };
    });
  };

  const waitSession = (what: string): Promise<LiveSession> => {
    if (closed) return Promise.reject(new ZooKeeperError(`Cannot ${what}: the ZooKeeper driver is closed.`));
    if (live.value) return Promise.resolve(live.value);
    return firstValueFrom(
      live.pipe(
        filter((s): s is LiveSession => s !== null),
        take(1),
        timeout({
          first: timeoutMs,
          with: () => {
            throw new ZooKeeperError(`Cannot ${what}: no ZooKeeper session with ${connect} within ${timeoutMs} ms.`);
          },
        }),
      ),
    ).catch((err: unknown) => {
      if (err instanceof ZooKeeperError) throw err;
      throw new ZooKeeperError(`Cannot ${what}: the ZooKeeper driver closed.`, { cause: err });
    });
  };

  /** Run one native call once a session is up; reject with the code unless it is ZOK or accepted. */
  const call = async <T>(
    what: string,
    start: (zk: RawZk, done: (rc: number, value: T) => void) => number,
    accept: readonly number[] = [],
  ): Promise<{ rc: number; value: T }> => {
    const session = await waitSession(what);
    return new Promise((resolve, reject) => {
      const failed = (rc: number): ZooKeeperOperationError => new ZooKeeperOperationError(rc, rcNames.get(rc) ?? 'ZUNKNOWN', `Cannot ${what}: ZooKeeper answered ${zkCodeName(rc)}.`);
      const rc = start(session.zk, (code, value) =>
        guard(what, () => {
          if (code === ZOK || accept.includes(code)) resolve({ rc: code, value });
          else reject(failed(code));
        }),
      );
      if (rc !== ZOK) reject(failed(rc));
    });
  };

  const get = async (path: string): Promise<ZkNodeData | null> => {
    assertPath(path);
    const r = await call<ZkNodeData | null>(
      `read ${path}`,
      (zk, done) => zk.a_get(path, false, (rc, _e, stat, data) => done(rc, rc === ZOK ? { data: data ?? Buffer.alloc(0), version: stat?.version ?? 0 } : null)),
      [ZNONODE],
    );
    return r.value;
  };

  const children = async (path: string): Promise<string[] | null> => {
    assertPath(path);
    const r = await call<string[] | null>(`list ${path}`, (zk, done) => zk.a_get_children(path, false, (rc, _e, names) => done(rc, rc === ZOK ? (names ?? []) : null)), [ZNONODE]);
    return r.value;
  };

  const create = async (path: string, data: Buffer | string, opts: { parents?: boolean; ephemeral?: boolean } = {}): Promise<void> => {
    assertPath(path);
    if (opts.parents) {
      const parts = path.split('/').filter(Boolean);
      for (let i = 1; i < parts.length; i++) {
        const parent = `/${parts.slice(0, i).join('/')}`;
        await call(`create ${parent}`, (zk, done) => zk.a_create(parent, '', ZOO_PERSISTENT, (rc) => done(rc, undefined)), [ZNODEEXISTS]);
      }
    }
    const flags = opts.ephemeral ? ZOO_EPHEMERAL : ZOO_PERSISTENT;
    await call(`create ${path}`, (zk, done) => zk.a_create(path, data, flags, (rc) => done(rc, undefined)));
  };

  const exists = async (path: string): Promise<ZkNodeStat | null> => {
    assertPath(path);
    const r = await call<ZkNodeStat | null>(
      `read ${path}`,
      (zk, done) =>
        zk.a_exists(path, false, (rc, _e, stat) => done(rc, rc === ZOK ? { version: stat?.version ?? 0, ownedBySession: stat?.createdInThisSession === true } : null)),
      [ZNONODE],
    );
    return r.value;
  };

  const set = async (path: string, data: Buffer | string, version = -1): Promise<number> => {
    assertPath(path);
    const r = await call<number>(`write ${path}`, (zk, done) => zk.a_set(path, data, version, (rc, _e, stat) => done(rc, stat?.version ?? -1)));
    return r.value;
  };

  const remove = async (path: string, version = -1): Promise<void> => {
    assertPath(path);
    await call(`delete ${path}`, (zk, done) => zk.a_delete_(path, version, (rc) => done(rc, undefined)));
  };

  const close = (): void => {
    if (closed) return;
    closed = true;
    clearTimeout(reopenTimer);
    const zk = current;
    current = undefined;
    try {
      zk?.close();
    } catch (err) {
      logger.warn({ err, zookeeper: connect }, 'closing the ZooKeeper client threw');
    }
    setState('disconnected');
    live.next(null);
    live.complete();
    state.complete();
  };

  open();

  return {
    state$: state.asObservable(),
    watchData,
    get,
    children,
    create,
    exists,
    set,
    remove,
    session: () => {
      const zk = live.value?.zk;
      return zk ? { id: zk.client_id, password: zk.client_password } : undefined;
    },
    close,
  };
}
