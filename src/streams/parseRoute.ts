import type { RouteState } from '../model/route.js';
import { parseHostPort } from '../protocol/hostPort.js';

/**
 * Why a table name cannot name a route node, or undefined when it can.
 * The name becomes one path segment under the root, so it must not be able to
 * climb out of it or address a different node.
 */
export function tableNameProblem(table: string): string | undefined {
  if (typeof table !== 'string' || table.length === 0) return 'the table name is empty';
  if (table.includes('/')) return `the table name ${JSON.stringify(table)} contains '/'`;
  if (table === '.' || table === '..') return `the table name ${JSON.stringify(table)} is not a node name`;
  // ZooKeeper refuses these characters in paths.
  if (/[\u0000-\u001f\u007f-\u009f\ud800-\uf8ff\ufff0-\uffff]/.test(table)) {
    return `the table name ${JSON.stringify(table)} contains a control or reserved character`;
  }
  return undefined;
}

/** Why `entry` is not a usable `host:port` MetaServer address, or undefined. */
export function metaAddressProblem(entry: string): string | undefined {
  const parsed = parseHostPort(entry, { minPort: 1 });
  return 'error' in parsed ? `${JSON.stringify(entry)} is not a MetaServer address: ${parsed.error}` : undefined;
}

/**
 * A route from an already-decoded node value `{cluster_name, meta_addrs}`:
 * `meta_addrs` is a comma-separated string or an array of strings; entries are
 * trimmed, empty ones skipped, duplicates dropped (first kept), and at least one
 * is required. Anything else is an `invalid` state naming what is wrong.
 */
export function routeFromValue(table: string, value: unknown, version: number): RouteState {
  const invalid = (reason: string): RouteState => ({ kind: 'invalid', table, reason });
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return invalid('the route is not an object with cluster_name and meta_addrs');
  }
  const record = value as Record<string, unknown>;
  const cluster = record['cluster_name'];
  if (typeof cluster !== 'string' || cluster.trim() === '') {
    return invalid('cluster_name is missing or not a non-empty string');
  }
  const raw = record['meta_addrs'];
  let pieces: string[];
  if (typeof raw === 'string') {
    pieces = raw.split(',');
  } else if (Array.isArray(raw) && raw.every((x) => typeof x === 'string')) {
    pieces = (raw as string[]).flatMap((x) => x.split(','));
  } else {
    return invalid('meta_addrs is missing or neither a comma-separated string nor an array of strings');
  }
  const metas: string[] = [];
  for (const piece of pieces) {
    const entry = piece.trim();
    if (entry === '') continue;
    const problem = metaAddressProblem(entry);
    if (problem) return invalid(`meta_addrs: ${problem}`);
    if (!metas.includes(entry)) metas.push(entry);
  }
  if (metas.length === 0) return invalid('meta_addrs lists no address');
  return { kind: 'route', table, cluster: cluster.trim(), metas, version };
}

/** The route a ZooKeeper node's data describes (JSON `{cluster_name, meta_addrs}`). Never throws. */
export function parseRoute(table: string, data: Buffer | string, version: number): RouteState {
  const text = typeof data === 'string' ? data : data.toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { kind: 'invalid', table, reason: `the route is not JSON (${(err as Error).message})` };
  }
  return routeFromValue(table, value, version);
}
