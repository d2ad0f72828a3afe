import type { RouteInfo } from './routeTypes.js';

/**
 * Which client hosts asked for a table, and after its latest route change
 * which of them have followed it to the new cluster (what `/tables`, the
 * status page and `table_client_hosts*` show).
 */
export interface ClientCounts {
  /**
   * Without a change seen: hosts that asked in the last window (an hour).
   * After a change: hosts that asked in the window before it.
   */
  hosts: number;
  /** Of `hosts`, those that asked again since the change and were answered by the new cluster; null without a change. */
  followed: number | null;
  /** ISO time of the table's latest cluster change; null when none was seen. */
  since: string | null;
}

/** What readers (`/tables`, the status page, metrics) ask of the client host tracker. */
export interface ClientHostsReader {
  /**
   * The counts for one cached table, counted now. The route info tells of a
   * cluster change that no query has shown yet (a switch with no client
   * asking since).
   */
  counts(info: RouteInfo): ClientCounts;
}

export const NO_CLIENTS: ClientCounts = Object.freeze({ hosts: 0, followed: null, since: null }) as ClientCounts;
