/**
 * Keeps one ephemeral node of this process in ZooKeeper: created (with its
 * parents) once a session is up, written again when its data changes, created
 * again when it vanishes (a new session after an expiry, or somebody deleted
 * it), deleted on dispose.
 *
 * A node of the same name held by another session (another worker on the
 * same port, or a killed process whose session has not yet expired) is left
 * alone; this process takes the name when that node goes.
 */
import type { Observable, Subscription } from 'rxjs';
import { ZooKeeperError } from '../errors.js';
import { ZooKeeperOperationError, type ZkLogger, type ZooKeeperDriver } from './zookeeper.js';

export interface RegistrationOptions {
  zk: Pick<ZooKeeperDriver, 'watchData' | 'exists' | 'create' | 'set' | 'remove'>;
  /** The node: `<parent>/<name>`. */
  path: string;
  /** The data to keep in the node; the latest value is written. Nothing is created before the first. */
  data$: Observable<string>;
  /** Wait before trying again after ZooKeeper could not be asked (ms). */
  retryMs: number;
  /** Wait before trying again after ZooKeeper refused the node (an ACL, ...) (ms). Default 60 s. */
  refusedRetryMs?: number;
  logger: ZkLogger;
}

export interface Registration {
  /** Stops keeping the node and deletes it if this session holds it; resolves when done (never rejects). */
  dispose(): Promise<void>;
}

/** Answers that mean "not now": the session or the node moved under the request; trying again is right. */
const TRANSIENT = new Set(['ZCONNECTIONLOSS', 'ZOPERATIONTIMEOUT', 'ZSESSIONEXPIRED', 'ZSESSIONMOVED', 'ZCLOSING', 'ZNODEEXISTS', 'ZNONODE', 'ZBADVERSION']);

export function createRegistration(options: RegistrationOptions): Registration {
  const { zk, path, retryMs, logger } = options;
  const refusedRetryMs = options.refusedRetryMs ?? 60_000;
  let wanted: string | undefined;
  /** What this process last wrote into a node it holds. */
  let written: string | undefined;
  let registeredOnce = false;
  let refusalReported = false;
  let heldElsewhereReported = false;
  let disposed = false;
  let retry: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let again = false;

  const step = async (): Promise<void> => {
    const data = wanted;
    if (data === undefined) return;
    const node = await zk.exists(path);
    if (disposed) return;
    if (node === null) {
      await zk.create(path, data, { parents: true, ephemeral: true });
      written = data;
      heldElsewhereReported = false;
      refusalReported = false;
      logger.info({ path }, registeredOnce ? 'registered in ZooKeeper again' : 'registered in ZooKeeper');
      registeredOnce = true;
      return;
    }
    if (!node.ownedBySession) {
      if (!heldElsewhereReported) logger.info({ path }, 'another ZooKeeper session holds this instance\'s node; registering when it goes');
      heldElsewhereReported = true;
      return;
    }
    if (written !== data) {
      await zk.set(path, data, node.version);
      written = data;
    }
  };

  const later = (ms: number): void => {
    clearTimeout(retry);
    retry = setTimeout(kick, ms);
    retry.unref?.();
  };

  const failed = (error: unknown): void => {
    const rcName = error instanceof ZooKeeperOperationError ? error.rcName : undefined;
    if (rcName !== undefined && !TRANSIENT.has(rcName)) {
      // An ACL or quota will refuse every attempt: say it once, serve on, try again now and then.
      if (!refusalReported) {
        logger.warn({ path, rc: rcName, err: error }, 'ZooKeeper refused this instance\'s registration node; serving on without it (meta-proxy-ctl fleet will not list this instance)');
      }
      refusalReported = true;
      later(refusedRetryMs);
      return;
    }
    if (rcName === 'ZNODEEXISTS' || rcName === 'ZNONODE' || rcName === 'ZBADVERSION') {
      // The node changed between the read and the write: look again at once.
      again = true;
      return;
    }
    if (!(error instanceof ZooKeeperError)) logger.error({ path, err: error }, 'registration failed unexpectedly');
    else logger.debug({ path, err: error }, 'cannot register in ZooKeeper now; trying again');
    later(retryMs);
  };

  function kick(): void {
    if (disposed) return;
    if (running !== undefined) {
      again = true;
      return;
    }
    running = (async () => {
      do {
        again = false;
        try {
          await step();
        } catch (error) {
          failed(error);
        }
      } while (again && !disposed);
      running = undefined;
    })();
  }

  const subscriptions: Subscription[] = [
    options.data$.subscribe({
      next: (data) => {
        wanted = data;
        kick();
      },
      error: (error: unknown) => logger.error({ path, err: error }, 'the registration data stream failed; the node keeps its last data'),
    }),
    // Any change of the node (created, written, deleted, or read afresh in a new session) is a reason to look.
    options.zk.watchData(path).subscribe(() => kick()),
  ];

  let disposing: Promise<void> | undefined;
  return {
    dispose: () =>
      (disposing ??= (async () => {
        disposed = true;
        clearTimeout(retry);
        for (const subscription of subscriptions) subscription.unsubscribe();
        await running;
        if (written === undefined) return;
        try {
          const node = await zk.exists(path);
          if (node?.ownedBySession) {
            await zk.remove(path, node.version);
            logger.info({ path }, 'removed from ZooKeeper');
          }
        } catch (error) {
          // The session's end deletes the node anyway.
          logger.debug({ path, err: error }, 'cannot delete the registration node; it goes with the session');
        }
      })()),
  };
}
