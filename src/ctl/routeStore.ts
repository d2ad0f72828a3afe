/**
 * The routes as the operator tool sees them, wherever they live (ZooKeeper
 * nodes or the embedded registry file): read them all or one, and write a set
 * of changes all together, each only if its route is still as it was read.
 */
import type { RouteState } from '../model/route.js';

/** Where a table should go: the value a route node holds. */
export interface RouteTarget {
  cluster: string;
  metas: string[];
}

/** A route as stored: a usable route or an invalid entry, with the version it was read at. */
export interface StoredRoute {
  table: string;
  /** `route` or `invalid` (never `missing` / `unavailable`). */
  state: RouteState;
  /** ZooKeeper: the node's data version. File: a fingerprint of the entry. */
  version: number;
}

/**
 * What a change requires of the route it replaces: still at the version read,
 * still absent, or (`--force`) anything.
 */
export type Expectation = { version: number } | 'absent' | 'any';

export type RouteChange =
  | { kind: 'put'; table: string; route: RouteTarget; expect: Expectation }
  | { kind: 'delete'; table: string; expect: Expectation };

export interface RouteStore {
  /** `ZooKeeper 10.0.0.1:2181 /pegasus-cluster`, `file /etc/meta-proxy/routes.yaml`: for messages. */
  readonly where: string;
  /** Every route, sorted by table name. */
  list(): Promise<StoredRoute[]>;
  get(table: string): Promise<StoredRoute | null>;
  /**
   * Applies every change or none. Rejects with a `ConflictError` naming the
   * first table whose route no longer meets its expectation.
   */
  commit(changes: readonly RouteChange[]): Promise<void>;
  close(): void;
}

/** The node value in the layout docs/DESIGN.md shows: `{"cluster_name":"c1","meta_addrs":"a:p,b:p"}`. */
export function routeValue(route: RouteTarget): { cluster_name: string; meta_addrs: string } {
  return { cluster_name: route.cluster, meta_addrs: route.metas.join(',') };
}

export function encodeRoute(route: RouteTarget): string {
  return JSON.stringify(routeValue(route));
}

/** True when `state` is a route to exactly this cluster and these metas (same order). */
export function sameRoute(state: RouteState, target: RouteTarget): boolean {
  return state.kind === 'route' && state.cluster === target.cluster && state.metas.length === target.metas.length && state.metas.every((m, i) => m === target.metas[i]);
}
