/**
 * Table routes from a YAML/JSON file, for deployments without ZooKeeper:
 *
 *   temp:   { cluster_name: c1, meta_addrs: "10.0.0.1:34601,10.0.0.2:34601" }
 *   orders: { cluster_name: c2, meta_addrs: [meta-1:34601, meta-2:34601] }
 *
 * Same interface and semantics as the ZooKeeper registry: one shared replayed
 * stream per table, an LRU of cached tables, `missing` for a table the file
 * does not list, `invalid` for an entry that is not a route. An edit that does
 * not parse keeps the last good routes (marked stale) and is logged.
 */
import {
  EMPTY,
  asyncScheduler,
  defer,
  distinctUntilChanged,
  map,
  of,
  retry,
  scan,
  shareReplay,
  startWith,
  tap,
  type Observable,
  type SchedulerLike,
} from 'rxjs';
import { load } from 'js-yaml';
import type { FileSnapshot, FileWatcher } from '../model/fileWatchTypes.js';
import { routeFromValue, tableNameProblem } from './parseRoute.js';
import { createRouteCache, feedRestartDelay, type RegistryLogger } from './routeCache.js';
import type { RegistryHooks, RouteInfo, RouteRegistry, RouteState } from '../model/route.js';

export interface FileRegistryDeps {
  /** The routes file (absolute, or relative to the working directory). */
  file: string;
  /** The file-watching driver (`createFileWatcher()` from src/io/fileWatch.ts). */
  watch: FileWatcher;
  /** Tables cached at once. Default 1024. */
  capacity?: number;
  scheduler?: SchedulerLike;
  /** Epoch ms for `RouteInfo.changedAt`; defaults to the scheduler's clock. */
  now?: () => number;
  hooks?: RegistryHooks;
  logger?: RegistryLogger;
}

/** Every table the file lists, or why the file is not a routes file. */
export type RouteFile = { ok: true; routes: Map<string, RouteState> } | { ok: false; reason: string };

/** Parse a routes file's text. `version` becomes each route's version. Never throws. */
export function parseRouteFile(text: string, version: number): RouteFile {
  // An editor that truncates before writing shows an empty file for a moment:
  // reading that as "no routes" would drop every table.
  if (text.trim() === '') return { ok: false, reason: 'the file is empty (write {} for no routes)' };
  let doc: unknown;
  try {
    doc = load(text);
  } catch (err) {
    return { ok: false, reason: `not YAML/JSON: ${(err as Error).message.split('\n')[0]}` };
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    return { ok: false, reason: 'the file must map table names to { cluster_name, meta_addrs }' };
  }
  const routes = new Map<string, RouteState>();
  for (const [table, value] of Object.entries(doc as Record<string, unknown>)) {
    const problem = tableNameProblem(table);
    routes.set(table, problem !== undefined ? { kind: 'invalid', table, reason: problem } : routeFromValue(table, value, version));
  }
  return { ok: true, routes };
}

/** The routes in force: the last good load, if any, and whether the latest edit failed. */
interface Loaded {
  routes: Map<string, RouteState> | undefined;
  /** Counts good loads; the version of every route of that load. */
  generation: number;
  /** Why the latest snapshot could not be used, if it could not. */
  problem: string | undefined;
}

export function nextLoaded(previous: Loaded, snapshot: FileSnapshot, file: string): Loaded {
  if (snapshot.kind === 'missing') return { ...previous, problem: `${file} does not exist` };
  if (snapshot.kind === 'error') return { ...previous, problem: snapshot.reason };
  const parsed = parseRouteFile(snapshot.text, previous.generation + 1);
  if (!parsed.ok) return { ...previous, problem: `${file}: ${parsed.reason}` };
  return { routes: parsed.routes, generation: previous.generation + 1, problem: undefined };
}

const noop = (): void => undefined;
const silent: RegistryLogger = { debug: noop, info: noop, warn: noop, error: noop };

export function createFileRegistry(deps: FileRegistryDeps): RouteRegistry {
  const { file, watch } = deps;
  const capacity = deps.capacity ?? 1024;
  const scheduler = deps.scheduler ?? asyncScheduler;
  const now = deps.now ?? (() => scheduler.now());
  const hooks = deps.hooks ?? {};
  const logger = deps.logger ?? silent;

  let current: Loaded = { routes: undefined, generation: 0, problem: undefined };
  /** Whether `current` is a load (before it, route streams wait). */
  let loadedOnce = false;

  const stateOf = (table: string, loaded: Loaded): RouteState => {
    if (loaded.routes === undefined) {
      return { kind: 'unavailable', table, reason: loaded.problem ?? `${file} is not loaded yet` };
    }
    return loaded.routes.get(table) ?? { kind: 'missing', table };
  };

  /**
   * A table's feed is its state in the latest load; each later load reaches it
   * through the cache's `publish`, so caching a table costs no subscription to
   * the file stream: with many more tables queried than cached, every request
   * is a miss, and a subscription per miss dominated the profile
   * (BENCHMARKS.md).
   */
  const feed = (table: string): Observable<RouteState> => (loadedOnce ? of(stateOf(table, current)) : EMPTY);

  const cache = createRouteCache({ capacity, feed, now, scheduler: deps.scheduler, hooks, logger });

  // Deferred so that a restarted watch goes on from the routes in force, not from nothing.
  const loads$ = defer(() => watch(file).pipe(scan((previous: Loaded, snapshot: FileSnapshot) => nextLoaded(previous, snapshot, file), current))).pipe(
    tap((loaded) => {
      current = loaded;
      loadedOnce = true;
      cache.publish((table) => stateOf(table, loaded));
      if (loaded.problem !== undefined) {
        logger.warn({ file, reason: loaded.problem }, loaded.routes ? 'routes file edit rejected; keeping the last good routes' : 'routes file not loaded');
      } else {
        logger.info({ file, tables: loaded.routes?.size ?? 0, generation: loaded.generation }, 'routes file loaded');
      }
    }),
    // A watch that fails (it should not: failures are snapshots) is logged and restarted; the routes stay.
    retry({ delay: feedRestartDelay({ file }, logger, deps.scheduler), resetOnSuccess: true }),
    shareReplay({ bufferSize: 1, refCount: true }),
  );

  const ready$ = loads$.pipe(
    map((loaded) => loaded.routes !== undefined),
    startWith(false),
    distinctUntilChanged(),
    shareReplay({ bufferSize: 1, refCount: true }),
  );
  // Reads the file now and keeps it watched for the registry's lifetime.
  const loading = loads$.subscribe();
  let disposed = false;

  return {
    route: (table) => cache.route(table),
    tables: () => {
      const out: RouteInfo[] = [];
      for (const entry of cache.entries()) {
        if (entry.state === undefined) continue;
        // Served from the last good load while the file on disk says something unusable.
        const stale = entry.state.kind !== 'unavailable' && current.problem !== undefined;
        out.push({ table: entry.table, state: entry.state, stale, changedAt: entry.changedAt });
      }
      return out;
    },
    evicted$: cache.evicted$,
    ready$,
    dispose: () => {
      if (disposed) return;
      disposed = true;
      cache.dispose();
      loading.unsubscribe();
    },
  };
}
