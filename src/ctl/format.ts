import type { RouteTarget, StoredRoute } from './routeStore.js';

/** Rows as text columns padded to the widest cell; the last column is not padded. */
export function alignedTable(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ')).join('\n') + (rows.length > 0 ? '\n' : '');
}

/** `c1 (10.0.0.1:34601,10.0.0.2:34601)` */
export function describeTarget(target: RouteTarget): string {
  return `${target.cluster} (${target.metas.join(',')})`;
}

/** A stored route in words: its target, or why it is not usable. */
export function describeStored(route: StoredRoute): string {
  const s = route.state;
  return s.kind === 'route' ? describeTarget(s) : s.kind === 'invalid' ? `an unusable entry (${s.reason})` : s.kind;
}

/** A stored route as JSON: the node's own layout plus the table and version. */
export function routeJson(route: StoredRoute): Record<string, unknown> {
  const s = route.state;
  if (s.kind === 'route') return { table: route.table, cluster_name: s.cluster, meta_addrs: s.metas.join(','), version: route.version };
  return { table: route.table, invalid: s.kind === 'invalid' ? s.reason : s.kind, version: route.version };
}

/** `word` as one shell word: unchanged when it needs no quoting, else in single quotes. */
export function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
