import type { RouteState } from '../model/route.js';

/** The body error a client gets for a table without a usable route (docs/DESIGN.md, request semantics). */
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
