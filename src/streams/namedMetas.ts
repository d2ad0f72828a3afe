import type { RouteInfo } from '../model/route.js';
import type { LeaderBook } from '../model/upstream.js';

/**
 * The metas the proxy may still call: every meta of every cached route, and
 * the leader each route's cluster last answered from (a forward can name a
 * meta the route does not list). Upstream connections to anything else are
 * left over from clusters that were replaced or switched away from.
 */
export function namedMetas(tables: readonly RouteInfo[], leaders: Pick<LeaderBook, 'get'>): Set<string> {
  const named = new Set<string>();
  for (const { state } of tables) {
    if (state.kind !== 'route') continue;
    for (const meta of state.metas) named.add(meta);
    const leader = leaders.get({ name: state.cluster, metas: state.metas });
    if (leader !== undefined) named.add(leader);
  }
  return named;
}
