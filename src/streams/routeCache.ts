import { NEVER, Observable, Subject, concat, of, retry, timer, type SchedulerLike, type Subscriber, type Subscription } from 'rxjs';
import { LRUCache } from 'lru-cache';
import type { BaseLogger } from 'pino';
import { sameRouteState } from '../model/route.js';
import { tableNameProblem } from './parseRoute.js';
import type { RegistryHooks, RouteState } from '../model/route.js';

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
  /**
   * Hears each table's new state once, after de-duplication and before the
   * table's observers do (the registry logs it there).
   */
  changed?(entry: CachedRoute, state: RouteState): void;
  /** Time for `changedAt`. */
  now(): number;
  /** Times the restart of a feed that failed. Default: RxJS's async scheduler. */
  scheduler?: SchedulerLike;
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
  /**
   * Hands every table being fed (cached, or evicted but still observed) its
   * state from `stateOf`, as if its feed had emitted it: only a change reaches
   * its observers. For a registry that learns every table at once (the routes
   * file), so caching a table costs no subscription of its own.
   */
  publish(stateOf: (table: string) => RouteState): void;
  /** Each table that leaves the cache (evicted, or the cache disposed). */
  readonly evicted$: Observable<string>;
  readonly size: number;
  dispose(): void;
}

/** What an entry tells its cache. */
interface EntryOwner {
  /** `entry` has a new state, not yet handed to its observers. */
  changed(entry: Entry, state: RouteState): void;
  /** `entry`'s feed stopped for good (evicted and unobserved). */
  stopped(entry: Entry): void;
}

/** Never-ending stream of one value: route streams do not complete while the registry lives. */
const constantRoute = (state: RouteState): Observable<RouteState> => concat(of(state), NEVER);

/**
 * One cached table: its latest state, replayed to each new observer, and the
 * feed that keeps it current. A ReplaySubject(1) with a reference count, kept
 * by hand in one object: with many more tables asked for than cached, every
 * request is a miss, and `share()` over a ReplaySubject plus a keep-alive
 * subscription per miss was most of a miss's cost. It is the one place route
 * states are de-duplicated: what leaves it is a change.
 */
class Entry implements CachedRoute {
  state: RouteState | undefined = undefined;
  failing = false;
  /** Observers beyond the first (most tables have one: their pipeline). */
  private more: Array<Subscriber<RouteState>> | undefined;
  private first: Subscriber<RouteState> | undefined;
  private feeding: Subscription | undefined;
  /** Still in the cache: its feed runs whether or not anyone observes it. */
  cached = true;
  readonly route$: Observable<RouteState>;

  constructor(
    readonly table: string,
    public changedAt: number,
    private readonly now: () => number,
    private readonly owner: EntryOwner,
  ) {
    this.route$ = new Observable<RouteState>((subscriber) => {
      if (this.first === undefined) this.first = subscriber;
      else (this.more ??= []).push(subscriber);
      if (this.state !== undefined) subscriber.next(this.state);
      return () => this.leave(subscriber);
    });
  }

  /**
   * Starts the feed; its states reach every observer, distinct ones only. A
   * feed that errors is restarted after `restartDelay(attempt)`, the latest
   * state kept meanwhile: a table's route stream never errors.
   */
  feed(source: Observable<RouteState>, restartDelay: (error: unknown, attempt: number) => Observable<unknown>): void {
    this.feeding = source.pipe(retry({ delay: restartDelay, resetOnSuccess: true })).subscribe((state) => this.next(state));
  }

  /** A state from the feed (or published): a change reaches every observer, a repeat nobody. */
  next(state: RouteState): void {
    // The same target again (another version of the same content) is not news.
    if (this.state !== undefined && sameRouteState(this.state, state)) return;
    this.state = state;
    this.changedAt = this.now();
    this.owner.changed(this, state);
    this.first?.next(state);
    if (this.more !== undefined) for (const observer of [...this.more]) observer.next(state);
  }

  private leave(subscriber: Subscriber<RouteState>): void {
    if (this.first === subscriber) this.first = this.more?.shift();
    else if (this.more !== undefined) {
      const i = this.more.indexOf(subscriber);
      if (i >= 0) this.more.splice(i, 1);
    }
    if (!this.cached && this.first === undefined) this.stop();
  }

  /** Left the cache: the feed stops now, or when its last observer leaves. */
  evict(): void {
    this.cached = false;
    if (this.first === undefined) this.stop();
  }

  private stop(): void {
    this.feeding?.unsubscribe();
    this.feeding = undefined;
    this.owner.stopped(this);
  }
}

/**
 * How a failed route feed is restarted: logged with `fields`, then after 100
 * ms, doubling to 10 s while it keeps failing without a value in between. The
 * route cache restarts every table's feed so; a registry's own shared feed
 * (the routes file's loads) uses the same.
 */
export function feedRestartDelay(
  fields: Record<string, unknown>,
  logger: RegistryLogger | undefined,
  scheduler: SchedulerLike | undefined,
): (error: unknown, attempt: number) => Observable<unknown> {
  return (error, attempt) => {
    const delayMs = Math.min(10_000, 100 * 2 ** (attempt - 1));
    logger?.error({ err: error, ...fields, attempt, restartInMs: delayMs }, 'route feed failed: the last route is kept and the feed restarted');
    return timer(delayMs, scheduler);
  };
}

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

  /** Entries whose feed runs: the cached ones and the evicted ones still observed. */
  const fed = new Set<Entry>();
  const owner: EntryOwner = {
    changed: (entry, state) => options.changed?.(entry, state),
    stopped: (entry) => fed.delete(entry),
  };

  const cache = new LRUCache<string, Entry>({
    max: capacity,
    dispose: (entry, table) => {
      entry.evict();
      evicted$.next(table);
    },
  });

  const restartDelay = (table: string) => feedRestartDelay({ table }, logger, options.scheduler);

  const miss = (table: string): Observable<RouteState> => {
    const problem = tableNameProblem(table);
    if (problem !== undefined) return constantRoute({ kind: 'invalid', table, reason: problem });
    if (disposed) return constantRoute({ kind: 'unavailable', table, reason: 'the route registry is closed' });
    const entry = new Entry(table, now(), now, owner);
    // Evicts the least recently used table first, if full.
    cache.set(table, entry);
    fed.add(entry);
    entry.feed(options.feed(table, entry), restartDelay(table));
    cacheSize(cache.size);
    return entry.route$;
  };

  return {
    route: (table) => cache.get(table)?.route$ ?? miss(table),
    entries: () => cache.values(),
    publish: (stateOf) => {
      // A Set visits entries added during the loop and skips those that leave.
      for (const entry of fed) entry.next(stateOf(entry.table));
    },
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
