/** Reading every child of a ZooKeeper node with its data, and a read shared for a short while. */
import type { NamedNode } from '../model/fleetTypes.js';
import type { ZooKeeperDriver } from './zookeeper.js';

/** Reads at once: enough for a fleet of hundreds without flooding the server. */
const READ_CONCURRENCY = 32;

/**
 * The children of `path` with their data, by name; [] when `path` does not
 * exist. A child deleted between the listing and its read is left out.
 */
export async function readChildren(zk: Pick<ZooKeeperDriver, 'children' | 'get'>, path: string): Promise<NamedNode[]> {
  const names = ((await zk.children(path)) ?? []).sort();
  const out: NamedNode[] = [];
  const base = path === '/' ? '' : path;
  for (let i = 0; i < names.length; i += READ_CONCURRENCY) {
    const batch = await Promise.all(
      names.slice(i, i + READ_CONCURRENCY).map(async (name) => {
        const node = await zk.get(`${base}/${name}`);
        return node && { name, data: node.data };
      }),
    );
    for (const node of batch) if (node) out.push(node);
  }
  return out;
}

/**
 * `read`, answered from its last result while that is younger than `maxAgeMs`;
 * callers arriving while a read is under way share it. A failed read is not kept.
 */
export function sharedRead<T>(read: () => Promise<T>, maxAgeMs: number, now: () => number = Date.now): () => Promise<T> {
  let last: { at: number; value: T } | undefined;
  let pending: Promise<T> | undefined;
  return () => {
    if (last !== undefined && now() - last.at < maxAgeMs) return Promise.resolve(last.value);
    pending ??= read().then(
      (value) => {
        last = { at: now(), value };
        pending = undefined;
        return value;
      },
      (error: unknown) => {
        pending = undefined;
        throw error;
      },
    );
    return pending;
  };
}
