import type { Observable } from 'rxjs';
import type { ClientCounts } from './clientHostTypes.js';

/** A table's route: which cluster serves it and where that cluster's MetaServers are. */
export interface Route {
  kind: 'route';
  table: string;
  cluster: string;
  /** `host:port` entries, in the order the node lists them. Host names allowed. */
  metas: string[];
  /** The ZooKeeper node's data version (the file registry uses a counter). */
  version: number;
}

/** The latest thing known about a table. A route stream never errors; failures are values. */
export type RouteState =
  | Route
  | { kind: 'missing'; table: string }
  | { kind: 'invalid'; table: string; reason: string }
  | { kind: 'unavailable'; table: string; reason: string };

/** One cached table, as `/tables` shows it. */
export interface RouteInfo {
  table: string;
  state: RouteState;
  stale: boolean;
  /** Epoch ms of the last change of `state`. */
  changedAt: number;
}

/** One cached table as `/tables` and the status page show it (JSON-ready). */
export interface RouteRow {
  table: string;
  kind: RouteState['kind'];
  cluster: string | null;
  metas: string[];
  /** The meta that last answered for the cluster, if any has yet. */
  leader: string | null;
  version: number | null;
  /** Why there is no usable route (invalid node, ZooKeeper unavailable). */
  reason: string | null;
  stale: boolean;
  /** ISO time of the route's last change. */
  changedAt: string;
  /** Client hosts that asked for the table, and how many followed its latest cluster change. */
  clients: ClientCounts;
}

export interface RouteRegistry {
  /**
   * The table's route stream: shared and replayed, so every request for a table
   * reads the same latest value. Emits on every change (distinct), never errors,
   * never completes while the registry lives.
   */
  route(table: string): Observable<RouteState>;
  /** Every cached route. */
  tables(): RouteInfo[];
  /**
   * Each table that leaves the cache: whoever holds per-table state built on
   * its route stream lets it go (once idle), so the table's watch can end.
   */
  readonly evicted$: Observable<string>;
  /** True while the registry can answer (ZooKeeper connected, or the file loaded). */
  readonly ready$: Observable<boolean>;
  dispose(): void;
}

/** Hooks the registry calls; the metrics layer plugs in here. */
export interface RegistryHooks {
  /** A route read went to ZooKeeper (a cache miss): what `zk_request_count{table}` counts. */
  zkRead?(table: string): void;
  cacheSize?(size: number): void;
}

/**
 * True when two states send a request to the same place with the same outcome.
 * A route's `version` is left out: rewriting a node with the same content bumps
 * it, and re-emitting would cancel and re-issue every in-flight call for nothing.
 */
export function sameRouteState(a: RouteState, b: RouteState): boolean {
  if (a.kind !== b.kind || a.table !== b.table) return false;
  switch (a.kind) {
    case 'route': {
      const r = b as typeof a;
      return a.cluster === r.cluster && a.metas.length === r.metas.length && a.metas.every((m, i) => m === r.metas[i]);
    }
    case 'missing':
      return true;
    case 'invalid':
    case 'unavailable':
      return a.reason === (b as typeof a).reason;
  }
}
