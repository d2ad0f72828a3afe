/**
 * Table routes read from ZooKeeper, one shared replayed stream per table.
 *
 * A table's stream is built on its first request: it reads `<root>/<table>`
 * once (a cache miss, counted by `hooks.zkRead`) and keeps a watch on it. The
 * route cache (`createRouteCache`, an LRU of `capacity` tables) keeps that watch
 * running while the table is cached, observed or not, so a cached table's
 * latest route is always at hand; eviction stops the watch once nothing
 * observes the stream either.
 */
import {
  connect,
  defer,
  distinctUntilChanged,
  filter,
  map,
  merge,
  scan,
  shareReplay,
  takeUntil,
  tap,
  timer,
  asyncScheduler,
  type Observable,
  type SchedulerLike,
} from 'rxjs';
import { ConfigError } from '../errors.js';
import { parseRoute } from './parseRoute.js';
import { createRouteCache, type CachedRoute, type RegistryLogger } from './routeCache.js';
import type { RegistryHooks, RouteInfo, RouteRegistry, RouteState } from '../model/route.js';
import type { ZkNodeEvent, ZkWatchSource } from '../model/zkTypes.js';

export type { RegistryLogger } from './routeCache.js';
export interface ZkRegistryDeps {
  driver: ZkWatchSource;
  /** Route nodes live at `<root>/<table>`. */
  root: string;
  /** Tables cached and watched at once. */
  capacity: number;
  /** How long an uncached table may wait for ZooKeeper before it is `unavailable`. */
  timeoutMs: number;
  scheduler?: SchedulerLike;
  /** Epoch ms for `RouteInfo.changedAt`; defaults to the scheduler's clock. */
  now?: () => number;
  hooks?: RegistryHooks;
  logger?: RegistryLogger;
}

type Step = ZkNodeEvent | { kind: 'timeout' };

/**
 * The state after one more event about a table. A failed read never replaces
 * a known route or `missing` (ZooKeeper being unreachable says nothing about
 * the table); it only turns "nothing known yet" into `unavailable`.
 */
export function nextRouteState(table: string, previous: RouteState | undefined, step: Step, timeoutMs: number): RouteState | undefined {
  switch (step.kind) {
    case 'data':
      return parseRoute(table, step.data, step.version);
    case 'missing':
      return { kind: 'missing', table };
    case 'error':
      return previous !== undefined && previous.kind !== 'unavailable' ? previous : { kind: 'unavailable', table, reason: step.reason };
    case 'timeout':
      return previous ?? { kind: 'unavailable', table, reason: `ZooKeeper gave no answer for table ${table} within ${timeoutMs} ms` };
  }
}

const noop = (): void => undefined;
const silent: RegistryLogger = { debug: noop, info: noop, warn: noop, error: noop };

export function createZkRegistry(deps: ZkRegistryDeps): RouteRegistry {
  const { driver, capacity, timeoutMs } = deps;
  if (typeof deps.root !== 'string' || !deps.root.startsWith('/')) {
    throw new ConfigError(`zookeeper.root must be an absolute ZooKeeper path, not ${JSON.stringify(deps.root)}.`);
  }
  if (!Number.isInteger(capacity) || capacity < 1) {
    throw new ConfigError(`zookeeper.table_watcher_cache_capacity must be a whole number of at least 1, not ${String(capacity)}.`);
  }
  if (!(timeoutMs > 0)) {
    throw new ConfigError(`zookeeper.timeout must be a positive number of milliseconds, not ${String(timeoutMs)}.`);
  }
  const prefix = deps.root.replace(/\/+$/, '');
  const scheduler = deps.scheduler ?? asyncScheduler;
  const now = deps.now ?? (() => scheduler.now());
  const hooks = deps.hooks ?? {};
  const logger = deps.logger ?? silent;

  /** Hooks come from the metrics layer: a throw there must not break a route stream. */
  const callHook = (name: keyof RegistryHooks, call: () => void): void => {
    try {
      call();
    } catch (err) {
      logger.error({ err, hook: name }, 'registry hook threw');
    }
  };

  let connected = false;
  let disposed = false;
  const session = driver.state$.subscribe((state) => {
    connected = state === 'connected';
  });

  const ready$ = driver.state$.pipe(
    map((state) => state === 'connected'),
    distinctUntilChanged(),
    shareReplay({ bufferSize: 1, refCount: true }),
  );

  const watchTable = (table: string, entry: CachedRoute): Observable<RouteState> => {
    const path = `${prefix}/${table}`;
    return defer(() => {
      callHook('zkRead', () => hooks.zkRead?.(table));
      // connect() wires both subscribers before the watch starts, so a first
      // answer delivered synchronously still cancels the deadline.
      return driver.watchData(path).pipe(
        connect((events$) =>
          merge(
            events$,
            timer(timeoutMs, scheduler).pipe(
              map((): Step => ({ kind: 'timeout' })),
              takeUntil(events$.pipe(filter((event) => event.kind !== 'error'))),
            ),
          ),
        ),
      );
    }).pipe(
      tap((step) => {
        if (step.kind === 'error') entry.failing = true;
        else if (step.kind !== 'timeout') entry.failing = false;
      }),
      scan<Step, RouteState | undefined>((previous, step) => nextRouteState(table, previous, step, timeoutMs), undefined),
      filter((state): state is RouteState => state !== undefined),
    );
  };

  /** Each change of a table's route, once: the cache de-duplicates (a failed read keeps the state it had). */
  const changed = ({ table }: CachedRoute, state: RouteState): void => {
    const path = `${prefix}/${table}`;
    if (state.kind === 'invalid') logger.warn({ table, path, reason: state.reason }, 'route node holds invalid data');
    else if (state.kind === 'route') logger.info({ table, cluster: state.cluster, metas: state.metas, version: state.version }, 'route');
    else if (state.kind === 'missing') logger.info({ table, path }, 'no route node for table');
    else logger.warn({ table, path, reason: state.reason }, 'route unavailable');
  };

  const cache = createRouteCache({ capacity, feed: watchTable, changed, now, hooks, logger });

  return {
    route: (table) => cache.route(table),
    tables: () => {
      const out: RouteInfo[] = [];
      for (const entry of cache.entries()) {
        const state = entry.state;
        if (state === undefined) continue;
        const stale = state.kind !== 'unavailable' && (!connected || entry.failing);
        out.push({ table: entry.table, state, stale, changedAt: entry.changedAt });
      }
      return out;
    },
    evicted$: cache.evicted$,
    ready$,
    dispose: () => {
      if (disposed) return;
      disposed = true;
      cache.dispose();
      session.unsubscribe();
    },
  };
}
