/**
 * The ZooKeeper driver: one session (re-opened when it expires), node watches
 * as cold observables, and the few plain operations the tooling needs. It
 * wires four units together:
 *
 * - `zkSession.ts`: the native handle, its connect / reconnect / expiry, the session state;
 * - `zkWatchDispatch.ts`: the one watcher every watched read hands the native client, and
 *   one children watch per parent shared by the nodes waited for under it;
 * - `zkNodeWatch.ts`: one node's watch, a state machine with named states;
 * - `zkOperations.ts`: get / children / create / exists / set / remove as Promises.
 *
 * The native client delivers everything through callbacks; each one is
 * wrapped so that nothing can throw back into it.
 */
import { ZooKeeperError } from '../errors.js';
import { parseHostPort } from '../protocol/hostPort.js';
import type { ZkWatchSource } from '../model/zkTypes.js';
import { watchNode } from './zkNodeWatch.js';
import { createZkOperations, type ZkOperations } from './zkOperations.js';
import { openZkSession, type ZkLogger } from './zkSession.js';
import { createWatchDispatch } from './zkWatchDispatch.js';

export { ZooKeeperOperationError, zkCodeName } from './zkNative.js';
export type { ZkLogger } from './zkSession.js';
export type { ZkNodeData, ZkNodeStat } from './zkOperations.js';

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

export interface ZooKeeperDriver extends ZkWatchSource, ZkOperations {
  /** The current session's id and password (hex), for diagnostics and fault tests; undefined without one. */
  session(): { id: string; password: string } | undefined;
  /** End the session. Watch streams complete; operations reject. */
  close(): void;
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

const noop = (): void => undefined;
const silent: ZkLogger = { debug: noop, info: noop, warn: noop, error: noop };

/** Validate the options once and open the session; returns the driver. */
export function createZooKeeperDriver(options: ZooKeeperDriverOptions): ZooKeeperDriver {
  validate(options);
  const session = openZkSession({
    connect: options.address.map((a) => a.trim()).join(','),
    timeoutMs: options.timeoutMs,
    auth: options.auth,
    logger: options.logger ?? silent,
    nativeLogLevel: options.nativeLogLevel ?? 0,
  });
  const dispatch = createWatchDispatch(session);
  return {
    state$: session.state$,
    watchData: (path) => watchNode(path, session, dispatch),
    ...createZkOperations(session),
    session: () => session.ids(),
    close: () => session.close(),
  };
}
