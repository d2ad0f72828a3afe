import { distinctUntilChanged, type MonoTypeOperatorFunction } from 'rxjs';
import type { RouteState } from '../streams/routeTypes.js';

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

/**
 * Drops a route state equal (by `sameRouteState`) to the one before it.
 *
 * ```
 * source: --a--x--b--m--m--a--|
 * result: --a-----b--m-----a--|
 * ```
 * (x is route a rewritten: another version, same cluster and metas; m is `missing`.)
 */
export function distinctRouteStates(): MonoTypeOperatorFunction<RouteState> {
  return distinctUntilChanged(sameRouteState);
}
