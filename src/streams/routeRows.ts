import type { ClusterRef } from '../model/upstream.js';
import type { RouteInfo, RouteRow } from '../model/route.js';
import { NO_CLIENTS, type ClientCounts } from '../model/clientHostTypes.js';

/** Which meta last answered for a cluster (the leader book's `get`). */
export type LeaderOf = (cluster: ClusterRef) => string | undefined;

/** A table's client host counts (the client host tracker's `counts`). */
export type ClientsOf = (info: RouteInfo) => ClientCounts;

/** One cached table as `/tables` and the status page show it. */
export function routeRow(info: RouteInfo, leader: LeaderOf, clients?: ClientsOf): RouteRow {
  const state = info.state;
  const route = state.kind === 'route' ? state : undefined;
  return {
    table: info.table,
    kind: state.kind,
    cluster: route?.cluster ?? null,
    metas: route?.metas ?? [],
    leader: route === undefined ? null : (leader({ name: route.cluster, metas: route.metas }) ?? null),
    version: route?.version ?? null,
    reason: state.kind === 'invalid' || state.kind === 'unavailable' ? state.reason : null,
    stale: info.stale,
    changedAt: new Date(info.changedAt).toISOString(),
    clients: clients?.(info) ?? NO_CLIENTS,
  };
}

/** Orders rows (or route infos) by table name. */
export const byTable = (a: { table: string }, b: { table: string }): number => (a.table < b.table ? -1 : a.table > b.table ? 1 : 0);

/** Every cached table's row, by table name: what `/tables` serves. */
export function routeRows(infos: readonly RouteInfo[], leader: LeaderOf, clients?: ClientsOf): RouteRow[] {
  return infos.map((info) => routeRow(info, leader, clients)).sort(byTable);
}
