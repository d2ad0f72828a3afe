import type { ClusterRef, LeaderBook } from './upstream.js';

/**
 * Remembers which meta last gave a final answer for each cluster, so the next
 * call starts there instead of walking the forward chain again. One per proxy,
 * created by whoever wires the proxy together.
 */
export function createLeaderBook(): LeaderBook & { entries(): Array<[ClusterRef, string]> } {
  const leaders = new Map<string, { cluster: ClusterRef; meta: string }>();
  /**
   * A route's meta list is one array for the route's lifetime, so its key is
   * built once, not on each of the two look-ups every call makes.
   */
  const keys = new WeakMap<readonly string[], { name: string; key: string }>();
  const keyOf = (cluster: ClusterRef): string => {
    const cached = keys.get(cluster.metas);
    if (cached !== undefined && cached.name === cluster.name) return cached.key;
    const key = clusterKey(cluster);
    keys.set(cluster.metas, { name: cluster.name, key });
    return key;
  };
  return {
    get: (cluster) => leaders.get(keyOf(cluster))?.meta,
    set: (cluster, meta) => {
      const key = keyOf(cluster);
      // Called on every answer: the leader rarely changes, so most calls allocate nothing.
      if (leaders.get(key)?.meta === meta) return;
      leaders.set(key, { cluster: { name: cluster.name, metas: [...cluster.metas] }, meta });
    },
    entries: () => [...leaders.values()].map(({ cluster, meta }): [ClusterRef, string] => [cluster, meta]),
  };
}

/** One string per cluster as a route names it: its name and its meta list (two same-named clusters differ). */
export function clusterKey(cluster: ClusterRef): string {
  return `${cluster.name}\u0000${cluster.metas.join(',')}`;
}
