/**
 * Every simulated cluster gives its replica servers addresses derived from the
 * cluster's name (10.x.y.z, where x.y.z is a hash of the name), so a test can
 * tell from a relayed reply which cluster produced it. A cluster started with
 * `replicas: true` names its real 127.0.0.1 replica servers instead; tell those
 * apart by `SimCluster.replicas`.
 */
import { decodeQueryConfigReply } from './decode.js';

/** Port of replica server `i` (0-based) in every simulated cluster. */
export const REPLICA_BASE_PORT = 34801;
/** Replica servers per simulated cluster (also the max_replica_count). */
export const REPLICAS = 3;

/** 24-bit FNV-1a hash of the cluster name. */
export function clusterTag(name: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(name, 'utf8')) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return (h ^ (h >>> 24)) & 0xffffff;
}

/** The IPv4 address (as a u32) of a simulated cluster's replica servers. */
export function replicaIp(name: string): number {
  return ((10 << 24) | clusterTag(name)) >>> 0;
}

/** `ip:port` of replica server `i` of cluster `name`. */
export function replicaAddress(name: string, i: number): string {
  const ip = replicaIp(name);
  return `${ip >>> 24}.${(ip >>> 16) & 0xff}.${(ip >>> 8) & 0xff}.${ip & 0xff}:${REPLICA_BASE_PORT + i}`;
}

/** Host name of replica server `i` of cluster `name` (what hp_* fields carry). */
export function replicaHost(name: string, i: number): string {
  return `replica${i}.${name}.sim`;
}

/**
 * Which of `names` produced this query-config reply frame, judged by the primary
 * of its first partition. Undefined for replies without partitions (errors,
 * forwards) or from a cluster not among `names`.
 */
export function identifyCluster(frame: Buffer, names: readonly string[]): string | undefined {
  const first = decodeQueryConfigReply(frame).body?.partitions[0];
  if (!first) return undefined;
  const ip = first.primary.slice(0, first.primary.lastIndexOf(':'));
  return names.find((n) => replicaAddress(n, 0).startsWith(`${ip}:`));
}
