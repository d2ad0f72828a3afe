/**
 * Table routes read from ZooKeeper, one shared replayed stream per table.
 *
 * A table's stream is built on its first request: it reads `<root>/<table>`
 * once (a cache miss, counted by `hooks.zkRead`) and keeps a watch on it. An
 * LRU of `capacity` tables holds one keep-alive subscription per table, so a
 * cached table's latest route is always at hand; eviction drops that
 * subscription and, once no request uses the stream either, the watch.
 */
import {
  NEVER,
  ReplaySubject,
  asyncScheduler,
  concat,
  connect,
  defer,
  distinctUntilChanged,
  filter,
  map,
  merge,
  of,
  scan,
  share,
  shareReplay,
  takeUntil,
  tap,
  timer,
  type Observable,
  type SchedulerLike,
  type Subscription,
} from 'rxjs';
import { LRUCache } from 'lru-cache';
import type { BaseLogger } from 'pino';
import { ConfigError } from '../errors.js';
import { distinctRouteStates } from '../operators/distinctRouteStates.js';
import { parseRoute, tableNameProblem } from './parseRoute.js';
import type { RegistryHooks, RouteInfo, RouteRegistry, RouteState } from './routeTypes.js';
import type { ZkNodeEvent, ZkWatchSource } from './zkTypes.js';

export type RegistryLogger = Pick<BaseLogger, 'debug' | 'info' | 'warn' | 'error'>;

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

/** One cached table. The stream's taps keep the other fields current for `tables()`. */
interface Entry {
  route$: Observable<RouteState>;
  keepAlive: Subscription | undefined;
  state: RouteState | undefined;
  changedAt: number;
  /** The last word from ZooKeeper about this table was a failed read. */
  failing: boolean;
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

/** Never-ending stream of one value: route streams do not complete while the registry lives. */
const constant = (state: RouteState): Observable<RouteState> => concat(of(state), NEVER);

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

  const cache = new LRUCache<string, Entry>({
    max: capacity,
    dispose: (entry) => entry.keepAlive?.unsubscribe(),
  });

  const watchTable = (table: string, entry: Entry): Observable<RouteState> => {
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
      distinctRouteStates(),
      tap((state) => {
        entry.state = state;
        entry.changedAt = now();
        if (state.kind === 'invalid') logger.warn({ table, path, reason: state.reason }, 'route node holds invalid data');
        else if (state.kind === 'route') logger.info({ table, cluster: state.cluster, metas: state.metas, version: state.version }, 'route');
        else if (state.kind === 'missing') logger.info({ table, path }, 'no route node for table');
        else logger.warn({ table, path, reason: state.reason }, 'route unavailable');
      }),
      share({ connector: () => new ReplaySubject<RouteState>(1), resetOnError: true, resetOnComplete: true, resetOnRefCountZero: true }),
    );
  };

  const miss = (table: string): Observable<RouteState> => {
    const problem = tableNameProblem(table);
    if (problem !== undefined) return constant({ kind: 'invalid', table, reason: problem });
    if (disposed) return constant({ kind: 'unavailable', table, reason: 'the route registry is closed' });
    const entry: Entry = { route$: NEVER, keepAlive: undefined, state: undefined, changedAt: now(), failing: false };
    entry.route$ = watchTable(table, entry);
    // Evicts the least recently used table first, if full; its dispose drops its keep-alive.
    cache.set(table, entry);
    entry.keepAlive = entry.route$.subscribe();
    callHook('cacheSize', () => hooks.cacheSize?.(cache.size));
    return entry.route$;
  };

  return {
    route: (table) => cache.get(table)?.route$ ?? miss(table),
    tables: () => {
      const out: RouteInfo[] = [];
      for (const [table, entry] of cache.entries()) {
        const state = entry.state;
        if (state === undefined) continue;
        const stale = state.kind !== 'unavailable' && (!connected || entry.failing);
        out.push({ table, state, stale, changedAt: entry.changedAt });
      }
      return out;
    },
    ready$,
    dispose: () => {
      if (disposed) return;
      disposed = true;
      cache.clear();
      session.unsubscribe();
      callHook('cacheSize', () => hooks.cacheSize?.(0));
    },
  };
}
