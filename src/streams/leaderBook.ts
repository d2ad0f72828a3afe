import type { ClusterRef, LeaderBook } from './upstreamTypes.js';

const keyOf = (cluster: ClusterRef): string => `${cluster.name}\u0000${cluster.metas.join(',')}`;

/**
 * Remembers which meta last gave a final answer for each cluster, so the next
 * call starts there instead of walking the forward chain again. One per proxy,
 * created by whoever wires the proxy together.
 */
export function createLeaderBook(): LeaderBook & { entries(): Array<[ClusterRef, string]> } {
  const leaders = new Map<string, { cluster: ClusterRef; meta: string }>();
  return {
    get: (cluster) => leaders.get(keyOf(cluster))?.meta,
    set: (cluster, meta) => {
      leaders.set(keyOf(cluster), { cluster: { name: cluster.name, metas: [...cluster.metas] }, meta });
    },
    entries: () => [...leaders.values()].map(({ cluster, meta }): [ClusterRef, string] => [cluster, meta]),
  };
}
