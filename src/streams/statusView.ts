import { clusterKey } from './leaderBook.js';
import { byTable, routeRow } from './routeRows.js';
import type { RouteChangeRecord } from './routeChanges.js';
import type { RouteInfo } from './routeTypes.js';
import type { TableStats, WindowStats } from './statusModel.js';
import type {
  StatusBoardView,
  StatusCluster,
  StatusMeta,
  StatusQuery,
  StatusRates,
  StatusTableRow,
} from './statusTypes.js';
import type { ClusterRef } from './upstreamTypes.js';

export interface StatusViewInput {
  infos: readonly RouteInfo[];
  query: StatusQuery;
  /** The last window's traffic; undefined while there is none. */
  stats: WindowStats | undefined;
  /** False with `metric.type: none`: there is nothing to sample. */
  metricsOn: boolean;
  leader(cluster: ClusterRef): string | undefined;
  /** Newest first. */
  changes: readonly RouteChangeRecord[];
}

const NO_TRAFFIC: TableStats = { rate: 0, errors: {}, p99Ms: null, p99Above: false };

/**
 * One look at the status board: the page of routes the query asks for (only
 * that page gets rows, so 10 000 cached routes cost a filter and a sort, not
 * 10 000 rows of JSON), every cluster the routes name, and the recent changes.
 */
export function buildStatusView(input: StatusViewInput): StatusBoardView {
  const { infos, query, stats } = input;

  const byKind: Record<string, number> = {};
  let stale = 0;
  for (const info of infos) {
    byKind[info.state.kind] = (byKind[info.state.kind] ?? 0) + 1;
    if (info.stale) stale += 1;
  }

  const needle = query.filter.trim().toLowerCase();
  const matched = needle === '' ? [...infos] : infos.filter((info) => matches(info, needle));
  const traffic = (table: string): TableStats | undefined => (stats === undefined ? undefined : (stats.tables.get(table) ?? NO_TRAFFIC));
  matched.sort(comparator(query.sort, traffic));
  const pages = Math.max(1, Math.ceil(matched.length / query.pageSize));
  const page = Math.min(Math.max(1, Math.floor(query.page)), pages);
  const rows = matched
    .slice((page - 1) * query.pageSize, page * query.pageSize)
    .map((info) => tableRow(info, traffic(info.table), input.leader));

  const { clusters, unroutedMetas } = clustersOf(infos, stats, input.leader);
  return {
    rates: ratesOf(input),
    routes: { total: infos.length, stale, byKind },
    tables: { filter: query.filter, sort: query.sort, page, pageSize: query.pageSize, pages, matched: matched.length, rows },
    clusters,
    unroutedMetas,
    changes: input.changes.map((change) => ({
      at: new Date(change.at).toISOString(),
      table: change.table,
      from: change.from,
      to: change.to,
      reroutes: change.reroutes,
    })),
  };
}

function ratesOf(input: StatusViewInput): StatusRates {
  const { stats } = input;
  if (stats === undefined) {
    return {
      available: false,
      reason: input.metricsOn
        ? 'collecting: rates appear after the second sample, a few seconds after the page is opened'
        : 'metrics are off (metric.type: none): rates, errors, latency and upstream outcomes are unavailable',
      windowSeconds: null,
      sampledAt: null,
      queryRate: null,
      errorRate: null,
    };
  }
  return {
    available: true,
    reason: null,
    windowSeconds: stats.seconds,
    sampledAt: new Date(stats.at).toISOString(),
    queryRate: stats.queryRate,
    errorRate: stats.errorRate,
  };
}

function matches(info: RouteInfo, needle: string): boolean {
  if (info.table.toLowerCase().includes(needle)) return true;
  const state = info.state;
  if (state.kind !== 'route') return state.kind.includes(needle);
  return state.cluster.toLowerCase().includes(needle) || state.metas.some((meta) => meta.toLowerCase().includes(needle));
}

function comparator(sort: StatusQuery['sort'], traffic: (table: string) => TableStats | undefined): (a: RouteInfo, b: RouteInfo) => number {
  const byName = byTable;
  // Busiest, most failing, slowest, newest first; unknown values last; ties by name.
  const descending = (value: (info: RouteInfo) => number) => (a: RouteInfo, b: RouteInfo) => value(b) - value(a) || byName(a, b);
  switch (sort) {
    case 'rate':
      return descending((info) => traffic(info.table)?.rate ?? -1);
    case 'errors': {
      // Summed once per table, not on every comparison of the sort.
      const totals = new Map<string, number>();
      return descending((info) => {
        let total = totals.get(info.table);
        if (total === undefined) totals.set(info.table, (total = errorTotal(traffic(info.table))));
        return total;
      });
    }
    case 'p99':
      return descending((info) => traffic(info.table)?.p99Ms ?? -1);
    case 'changed':
      return descending((info) => info.changedAt);
    default:
      return byName;
  }
}

function errorTotal(stats: TableStats | undefined): number {
  if (stats === undefined) return -1;
  let total = 0;
  for (const count of Object.values(stats.errors)) total += count;
  return total;
}

function tableRow(info: RouteInfo, stats: TableStats | undefined, leader: StatusViewInput['leader']): StatusTableRow {
  return {
    ...routeRow(info, leader),
    rate: stats?.rate ?? null,
    errors: stats === undefined ? null : { ...stats.errors },
    p99Ms: stats?.p99Ms ?? null,
    p99Above: stats?.p99Above ?? false,
  };
}

function clustersOf(
  infos: readonly RouteInfo[],
  stats: WindowStats | undefined,
  leader: StatusViewInput['leader'],
): { clusters: StatusCluster[]; unroutedMetas: StatusMeta[] } {
  const groups = new Map<string, { ref: ClusterRef; tables: number; stale: number }>();
  for (const info of infos) {
    const state = info.state;
    if (state.kind !== 'route') continue;
    const key = clusterKey({ name: state.cluster, metas: state.metas });
    let group = groups.get(key);
    if (group === undefined) groups.set(key, (group = { ref: { name: state.cluster, metas: state.metas }, tables: 0, stale: 0 }));
    group.tables += 1;
    if (info.stale) group.stale += 1;
  }
  const outcomes = (meta: string) => (stats === undefined ? null : { ...(stats.upstream.get(meta) ?? {}) });
  const routed = new Set<string>();
  const clusters = [...groups.values()]
    .map(({ ref, tables, stale }): StatusCluster => {
      const current = leader(ref);
      for (const meta of ref.metas) routed.add(meta);
      return {
        name: ref.name,
        metas: ref.metas.map((address) => ({ address, leader: address === current, outcomes: outcomes(address) })),
        tables,
        stale,
      };
    })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.metas.join() < b.metas.join() ? -1 : 1));
  const unroutedMetas =
    stats === undefined
      ? []
      : [...stats.upstream.keys()]
          .filter((meta) => !routed.has(meta))
          .sort()
          .map((address) => ({ address, leader: false, outcomes: outcomes(address) }));
  return { clusters, unroutedMetas };
}
