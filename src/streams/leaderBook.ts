import type { LeaderBook } from './upstreamTypes.js';

/**
 * Remembers which meta last gave a final answer for each cluster, so the next
 * call starts there instead of walking the forward chain again. One per proxy,
 * created by whoever wires the proxy together.
 */
export function createLeaderBook(): LeaderBook & { entries(): [string, string][] } {
  const leaders = new Map<string, string>();
  return {
    get: (cluster) => leaders.get(cluster),
    set: (cluster, meta) => {
      leaders.set(cluster, meta);
    },
    entries: () => [...leaders.entries()],
  };
}
