import { clusterKey } from '../model/leaderBook.js';
import { byTable, routeRow, type ClientsOf } from './routeRows.js';
import type { RouteChangeRecord } from './routeChanges.js';
import type { RouteInfo } from '../model/route.js';
import type { HistoryPoint, TableStats, WindowStats } from './statusModel.js';
import type {
  StatusBoardView,
  StatusCluster,
  StatusHistory,
  StatusMeta,
  StatusQuery,
  StatusRates,
  StatusRowHistory,
  StatusTableRow,
} from '../model/statusTypes.js';
import type { ClusterRef } from '../model/upstream.js';

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
  /** Each table's client hosts; absent, rows show none. */
  clients?: ClientsOf;
  /** The charts' points, oldest first; absent, there are none. */
  history?: { stepMs: number; points: readonly HistoryPoint[] };
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
  const points = input.history?.points ?? [];
  // Changes within the charts' span, oldest first; marked on the charts.
  const spanStart = points.length === 0 ? Number.POSITIVE_INFINITY : points[0]!.at - (input.history?.stepMs ?? 0);
  const charted = input.changes.filter((change) => change.at >= spanStart).reverse();
  const rows = matched
    .slice((page - 1) * query.pageSize, page * query.pageSize)
    .map((info) => tableRow(info, traffic(info.table), input.leader, input.clients, rowHistory(info.table, points, charted)));

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
    history: historyOf(input.history, charted),
  };
}

/** Rates and latencies are rounded for the page: three decimals are more than a chart can show. */
const round = (value: number) => Math.round(value * 1000) / 1000;

function historyOf(history: StatusViewInput['history'], charted: readonly RouteChangeRecord[]): StatusHistory {
  return {
    step: (history?.stepMs ?? 0) / 1000,
    points: (history?.points ?? []).map((point) => ({
      at: new Date(point.at).toISOString(),
      queryRate: round(point.queryRate),
      errorRate: round(point.errorRate),
      p99Ms: point.p99Ms === null ? null : round(point.p99Ms),
    })),
    changes: charted.map((change) => ({ at: new Date(change.at).toISOString(), table: change.table })),
  };
}

/** One row's values at each point: only the rows of the page asked get them. */
function rowHistory(table: string, points: readonly HistoryPoint[], charted: readonly RouteChangeRecord[]): StatusRowHistory {
  const queryRate: number[] = [];
  const errorRate: number[] = [];
  const p99Ms: Array<number | null> = [];
  for (const point of points) {
    const traffic = point.tables.get(table);
    queryRate.push(traffic === undefined ? 0 : round(traffic.queryRate));
    errorRate.push(traffic === undefined ? 0 : round(traffic.errorRate));
    p99Ms.push(traffic?.p99Ms == null ? null : round(traffic.p99Ms));
  }
  const changes: string[] = [];
  for (const change of charted) if (change.table === table) changes.push(new Date(change.at).toISOString());
  return { queryRate, errorRate, p99Ms, changes };
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

function tableRow(
  info: RouteInfo,
  stats: TableStats | undefined,
  leader: StatusViewInput['leader'],
  clients: ClientsOf | undefined,
  history: StatusRowHistory,
): StatusTableRow {
  return {
    ...routeRow(info, leader, clients),
    rate: stats?.rate ?? null,
    errors: stats === undefined ? null : { ...stats.errors },
    p99Ms: stats?.p99Ms ?? null,
    p99Above: stats?.p99Above ?? false,
    history,
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
