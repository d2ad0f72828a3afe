import { distinctUntilChanged, type MonoTypeOperatorFunction } from 'rxjs';
import { sameRouteState, type RouteState } from '../model/route.js';

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
