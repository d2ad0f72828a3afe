/**
 * The ZooKeeper session: one native handle at a time, re-opened when its
 * session expires (or cannot start), the session state for callers, and the
 * connected handle for the watches and operations to use.
 */
import { BehaviorSubject, filter, firstValueFrom, take, timeout, type Observable } from 'rxjs';
import type { BaseLogger } from 'pino';
import { ZooKeeperError } from '../errors.js';
import type { ZkSessionState } from '../model/zkTypes.js';
import { RawZkClient, ZOK, ZOO_AUTH_FAILED_STATE, zkCodeName, type RawZk } from './zkNative.js';

export type ZkLogger = Pick<BaseLogger, 'debug' | 'info' | 'warn' | 'error'>;

/** One native handle while its session is connected. `epoch` counts handles, so a new session is a new epoch. */
export interface LiveSession {
  zk: RawZk;
  epoch: number;
}

export interface ZkSessionOptions {
  /** The native client's connect string (`host:port,host:port`). */
  connect: string;
  timeoutMs: number;
  auth: { scheme: string; credential: string } | undefined;
  logger: ZkLogger;
  nativeLogLevel: number;
}

export interface ZkSession {
  readonly connect: string;
  readonly timeoutMs: number;
  readonly logger: ZkLogger;
  readonly state$: Observable<ZkSessionState>;
  /** The connected handle, or null while there is none; completes when the session is closed. */
  readonly live$: Observable<LiveSession | null>;
  /** The connected handle now, if any. */
  current(): LiveSession | null;
  /** The connected handle, waiting up to `timeoutMs` for one; `what` names the operation in the error. */
  whenLive(what: string): Promise<LiveSession>;
  /** Runs a native callback's body; a throw is logged, never propagated into the native client. */
  guard(what: string, body: () => void): void;
  /** The session's id and password (hex); undefined without one. */
  ids(): { id: string; password: string } | undefined;
  close(): void;
}

/** Opens the session (and keeps one open until `close`). */
export function openZkSession(options: ZkSessionOptions): ZkSession {
  const { connect, timeoutMs, logger, nativeLogLevel } = options;
  const state = new BehaviorSubject<ZkSessionState>('connecting');
  const live = new BehaviorSubject<LiveSession | null>(null);
  let current: RawZk | undefined;
  let epoch = 0;
  let closed = false;
  let reopenTimer: NodeJS.Timeout | undefined;

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

  const reopenLater = (ms: number): void => {
    clearTimeout(reopenTimer);
    reopenTimer = setTimeout(() => guard('reopen', open), ms);
  };

  const open = (): void => {
    if (closed) return;
    const myEpoch = ++epoch;
    let zk: RawZk;
    try {
      zk = new RawZkClient({ connect, timeout: timeoutMs, debug_level: nativeLogLevel, host_order_deterministic: false });
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

  const whenLive = (what: string): Promise<LiveSession> => {
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
    connect,
    timeoutMs,
    logger,
    state$: state.asObservable(),
    live$: live.asObservable(),
    current: () => live.value,
    whenLive,
    guard,
    ids: () => {
      const zk = live.value?.zk;
      return zk ? { id: zk.client_id, password: zk.client_password } : undefined;
    },
    close,
  };
}
