import type { RouteInfo } from './route.js';

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

/** One client host of a table, as `/clients` lists it. */
export interface ClientHostEntry {
  host: string;
  /** ISO time of its last query. */
  lastAt: string;
  /** The cluster that query was answered with. */
  cluster: string;
  /** It counts in `hosts`: it asked in the window (before the latest change, when there was one). */
  counted: boolean;
  /** It counts in `followed`: after the change, it asked again and got the new cluster. */
  followed: boolean;
}

/** Every client host remembered for a table, with the change they are counted against. */
export interface ClientHostList {
  table: string;
  /** The table's cluster as this instance last saw it. */
  cluster: string;
  /** ISO time of the table's latest cluster change; null when none was seen. */
  since: string | null;
  hosts: ClientHostEntry[];
}

/** What readers (`/tables`, the status page, metrics) ask of the client host tracker. */
export interface ClientHostsReader {
  /**
   * The counts for one cached table, counted now. The route info tells of a
   * cluster change that no query has shown yet (a switch with no client
   * asking since).
   */
  counts(info: RouteInfo): ClientCounts;
  /** Every host remembered for the table, counted as `counts` counts them; null when the table is not tracked. */
  list(info: RouteInfo): ClientHostList | null;
}

export const NO_CLIENTS: ClientCounts = Object.freeze({ hosts: 0, followed: null, since: null }) as ClientCounts;
