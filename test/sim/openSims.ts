import { afterEach } from 'vitest';
import { startSimCluster, type SimCluster, type SimClusterOptions } from '../../sim/cluster.js';
import { rawConnect, type RawClient } from './rawClient.js';

/**
 * Simulated clusters and raw clients a test file opens, all closed after each
 * test. `defaults` are the cluster options every `cluster()` call starts from.
 */
export function openSims(defaults: SimClusterOptions, afterEachExtra?: () => void) {
  const open: { clusters: SimCluster[]; clients: RawClient[] } = { clusters: [], clients: [] };
  afterEach(async () => {
    afterEachExtra?.();
    for (const c of open.clients.splice(0)) c.close();
    await Promise.all(open.clusters.splice(0).map((c) => c.close()));
  });
  return {
    async cluster(o: Partial<SimClusterOptions> = {}): Promise<SimCluster> {
      const c = await startSimCluster({ ...defaults, ...o });
      open.clusters.push(c);
      return c;
    },
    async client(address: string): Promise<RawClient> {
      const c = await rawConnect(address);
      open.clients.push(c);
      return c;
    },
  };
}
