import type { RouteState } from './routeTypes.js';

/**
 * Two route states send a query to the same place: same kind and, for routes,
 * same cluster and meta list. A new node version with the same content, or a
 * route merely marked stale, must not cancel in-flight calls.
 */
export function sameTarget(a: RouteState, b: RouteState): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind !== 'route' || b.kind !== 'route') return a.kind !== 'invalid' || b.kind !== 'invalid' || a.reason === b.reason;
  if (a.cluster !== b.cluster || a.metas.length !== b.metas.length) return false;
  for (let i = 0; i < a.metas.length; i++) if (a.metas[i] !== b.metas[i]) return false;
  return true;
}

/** The body error a client gets for a table without a usable route (DESIGN.md, request semantics). */
export function routeError(state: Exclude<RouteState, { kind: 'route' }>) {
  switch (state.kind) {
    case 'missing':
      return 'ERR_OBJECT_NOT_FOUND' as const;
    case 'invalid':
      return 'ERR_INVALID_DATA' as const;
    case 'unavailable':
      return 'ERR_ZOOKEEPER_OPERATION' as const;
  }
}
