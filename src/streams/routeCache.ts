import { NEVER, ReplaySubject, Subject, concat, of, share, tap, type Observable, type Subscription } from 'rxjs';
import { LRUCache } from 'lru-cache';
import type { BaseLogger } from 'pino';
import { distinctRouteStates } from '../operators/distinctRouteStates.js';
import { tableNameProblem } from './parseRoute.js';
import type { RegistryHooks, RouteState } from './routeTypes.js';

export type RegistryLogger = Pick<BaseLogger, 'debug' | 'info' | 'warn' | 'error'>;

/** One cached table, as the registry that feeds it sees it. */
export interface CachedRoute {
  readonly table: string;
  /** The latest state, once the feed gave one. */
  state: RouteState | undefined;
  /** Time (the cache's `now`) of the last change of `state`. */
  changedAt: number;
  /** The feed's last word was a failed read (the registry decides what that means). */
  failing: boolean;
}

export interface RouteCacheOptions {
  /** Tables cached at once; the least recently asked for is evicted first. */
  capacity: number;
  /**
   * The table's route states, cold: subscribing starts reading and watching
   * it (a ZooKeeper watch, the file loader's pushes), unsubscribing stops.
   * It may set `entry.failing`.
   */
  feed(table: string, entry: CachedRoute): Observable<RouteState>;
  /** Time for `changedAt`. */
  now(): number;
  hooks?: RegistryHooks;
  logger?: RegistryLogger;
}

/** The route cache both registries are built on. */
export interface RouteCache {
  /**
   * The table's route stream: one `ReplaySubject(1)`-style stream per cached
   * table, so every request for a table reads the same latest value. Emits
   * distinct states, never errors, never completes while the cache lives.
   */
  route(table: string): Observable<RouteState>;
  /** Every cached table, least recently used last. */
  entries(): IterableIterator<CachedRoute>;
  /** Each table that leaves the cache (evicted, or the cache disposed). */
  readonly evicted$: Observable<string>;
  readonly size: number;
  dispose(): void;
}

/** Never-ending stream of one value: route streams do not complete while the registry lives. */
export const constantRoute = (state: RouteState): Observable<RouteState> => concat(of(state), NEVER);

interface Entry extends CachedRoute {
  route$: Observable<RouteState>;
  keepAlive: Subscription | undefined;
}

/**
 * A table's stream is built on its first request: it subscribes the feed
 * once (through a shared `ReplaySubject(1)`), which stays subscribed while the
 * table is cached. Eviction drops the cache's own subscription; a table still
 * observed (a request in flight, a table pipeline draining) keeps its feed
 * until its last observer leaves. A name that cannot be a table is `invalid`
 * without touching the feed.
 */
export function createRouteCache(options: RouteCacheOptions): RouteCache {
  const { capacity, now } = options;
  const hooks = options.hooks ?? {};
  const logger = options.logger;
  const evicted$ = new Subject<string>();
  let disposed = false;

  /** Hooks come from the metrics layer: a throw there must not break a route stream. */
  const cacheSize = (size: number): void => {
    try {
      hooks.cacheSize?.(size);
    } catch (err) {
      logger?.error({ err, hook: 'cacheSize' }, 'registry hook threw');
    }
  };

  const cache = new LRUCache<string, Entry>({
    max: capacity,
    dispose: (entry, table) => {
      entry.keepAlive?.unsubscribe();
      entry.keepAlive = undefined;
      evicted$.next(table);
    },
  });

  const miss = (table: string): Observable<RouteState> => {
    const problem = tableNameProblem(table);
    if (problem !== undefined) return constantRoute({ kind: 'invalid', table, reason: problem });
    if (disposed) return constantRoute({ kind: 'unavailable', table, reason: 'the route registry is closed' });
    const entry: Entry = { table, state: undefined, changedAt: now(), failing: false, route$: NEVER, keepAlive: undefined };
    entry.route$ = options.feed(table, entry).pipe(
      distinctRouteStates(),
      tap((state) => {
        entry.state = state;
        entry.changedAt = now();
      }),
      share({ connector: () => new ReplaySubject<RouteState>(1), resetOnError: true, resetOnComplete: true, resetOnRefCountZero: true }),
    );
    // Evicts the least recently used table first, if full.
    cache.set(table, entry);
    entry.keepAlive = entry.route$.subscribe();
    cacheSize(cache.size);
    return entry.route$;
  };

  return {
    route: (table) => cache.get(table)?.route$ ?? miss(table),
    entries: () => cache.values(),
    evicted$: evicted$.asObservable(),
    get size() {
      return cache.size;
    },
    dispose: () => {
      if (disposed) return;
      disposed = true;
      cache.clear();
      cacheSize(0);
      evicted$.complete();
    },
  };
}
