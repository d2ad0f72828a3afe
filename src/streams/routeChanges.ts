import { clusterKey } from '../model/leaderBook.js';
import type { RouteInfo, RouteState } from '../model/route.js';
import type { StatusRouteEnd } from '../model/statusTypes.js';

/**
 * Route changes as the status page lists them, found by comparing the
 * registry's cached routes with what they were at the previous look. A
 * change is a different kind, cluster or meta list; a node rewritten with
 * the same content (a new version only) is not one. A table seen for the
 * first time (just cached) is not a change either, and a table that left
 * the cache is forgotten.
 */

/** What the previous look saw of one table. */
export interface KnownRoute {
  changedAt: number;
  signature: string;
  end: StatusRouteEnd;
  /** The look that last saw it, to forget tables that left the cache. */
  look: number;
}

export interface KnownRoutes {
  readonly routes: Map<string, KnownRoute>;
  looks: number;
}

export interface RouteChangeRecord {
  /** Epoch ms, from the registry's `changedAt`. */
  at: number;
  table: string;
  from: StatusRouteEnd;
  to: StatusRouteEnd;
  /** Reroutes counted for the table since the change; null when metrics are off. */
  reroutes: number | null;
}

export function createKnownRoutes(): KnownRoutes {
  return { routes: new Map(), looks: 0 };
}

/**
 * Compares `infos` with what `known` holds, brings `known` up to date and
 * returns the changes, oldest first. `reroutes` starts at 0, or null when
 * nothing will count them.
 */
export function detectRouteChanges(known: KnownRoutes, infos: readonly RouteInfo[], countsReroutes: boolean): RouteChangeRecord[] {
  const look = ++known.looks;
  const changes: RouteChangeRecord[] = [];
  for (const info of infos) {
    const before = known.routes.get(info.table);
    // changedAt moves with every new state: equal means nothing to compare.
    if (before !== undefined && before.changedAt === info.changedAt) {
      before.look = look;
      continue;
    }
    const signature = signatureOf(info.state);
    const end = endOf(info.state);
    if (before !== undefined && before.signature !== signature) {
      changes.push({ at: info.changedAt, table: info.table, from: before.end, to: end, reroutes: countsReroutes ? 0 : null });
    }
    known.routes.set(info.table, { changedAt: info.changedAt, signature, end, look });
  }
  for (const [table, route] of known.routes) if (route.look !== look) known.routes.delete(table);
  return changes.sort((a, b) => a.at - b.at);
}

/** The newest `keep` changes, newest first, after adding `changes` (oldest first) to `list` (newest first). */
export function recordChanges(list: readonly RouteChangeRecord[], changes: readonly RouteChangeRecord[], keep: number): RouteChangeRecord[] {
  if (changes.length === 0) return list as RouteChangeRecord[];
  return [...[...changes].reverse(), ...list].slice(0, keep);
}

/**
 * Adds each table's reroute growth to its newest recorded change: reroutes
 * happen only when a table's route changes under queries in flight, so they
 * belong to the last change of that table the page knows of. Growth of a
 * table without a recorded change (it changed before anyone looked) is dropped.
 */
export function attributeReroutes(list: readonly RouteChangeRecord[], growth: ReadonlyMap<string, number>): void {
  if (growth.size === 0) return;
  const pending = new Map(growth);
  for (const change of list) {
    const delta = pending.get(change.table);
    if (delta === undefined) continue;
    pending.delete(change.table);
    if (change.reroutes !== null) change.reroutes += delta;
    if (pending.size === 0) return;
  }
}

function signatureOf(state: RouteState): string {
  return state.kind === 'route' ? `route\u0000${clusterKey({ name: state.cluster, metas: state.metas })}` : state.kind;
}

function endOf(state: RouteState): StatusRouteEnd {
  return state.kind === 'route'
    ? { kind: 'route', cluster: state.cluster, metas: [...state.metas] }
    : { kind: state.kind, cluster: null, metas: [] };
}
