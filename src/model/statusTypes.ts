import type { RouteRow, RouteState } from './route.js';

/** How the status page orders the tables. */
export type StatusSort = 'table' | 'rate' | 'errors' | 'p99' | 'changed';

export const STATUS_SORTS: readonly StatusSort[] = ['table', 'rate', 'errors', 'p99', 'changed'];

/** What one look at the status page asks for: a filtered, sorted page of the cached routes. */
export interface StatusQuery {
  /** Case-insensitive substring of the table name, its cluster or one of its metas; '' for all. */
  filter: string;
  /** 1-based; past the last page means the last page. */
  page: number;
  pageSize: number;
  sort: StatusSort;
}

/** One cached route with the last minute of its traffic. */
export interface StatusTableRow extends RouteRow {
  /** Query-config requests per second over the window; null while rates are unavailable. */
  rate: number | null;
  /** Answers that carried an error in the window, by error name (ERR_OK left out); null while unavailable. */
  errors: Record<string, number> | null;
  /** 99th percentile of the answer latency in the window, from the histogram buckets; null without answers. */
  p99Ms: number | null;
  /** True when the 99th percentile lies beyond the largest bucket: `p99Ms` is then that bucket's bound. */
  p99Above: boolean;
  /** The table's share of the charts, one value per point of the view's `history.points`. */
  history: StatusRowHistory;
}

/** One point of the charts: the whole proxy's traffic over one history step. */
export interface StatusHistoryPoint {
  /** ISO time of the step's end. */
  at: string;
  /** Per second over the step. */
  queryRate: number;
  errorRate: number;
  /** Of every answer in the step; null without answers. */
  p99Ms: number | null;
}

/** The last minutes of traffic, sampled while the page is watched. */
export interface StatusHistory {
  /** Seconds between points (a gap means nobody was looking). */
  step: number;
  /** Oldest first. */
  points: StatusHistoryPoint[];
  /** Route changes within the span of the points, oldest first: the charts mark them. */
  changes: Array<{ at: string; table: string }>;
}

/** One table's values at each of `StatusHistory.points` (0 and null where it had no traffic). */
export interface StatusRowHistory {
  queryRate: number[];
  errorRate: number[];
  p99Ms: Array<number | null>;
  /** ISO times of the table's route changes within the span, oldest first. */
  changes: string[];
}

/** One meta-proxy instance of the fleet, as its registration in ZooKeeper says. */
export interface StatusFleetInstance {
  name: string;
  /** Client address, `host:port`. */
  listen: string;
  /** Admin address (`host:port`) or URL; its status page is there. */
  admin: string | null;
  version: string;
  pid: number;
  startedAt: string;
  ready: boolean;
  /** True for the instance that answered this page. */
  self: boolean;
}

/** The instances registered next to this one; null when routes come from a file (no fleet). */
export type StatusFleet = { path: string; self: string | null; instances: StatusFleetInstance[] } | null;

/** One MetaServer of a cluster and how the calls to it ended over the window. */
export interface StatusMeta {
  address: string;
  leader: boolean;
  /** Calls by result (`ERR_OK`, an error name, `timeout`, `connect`, `cancelled`, ...); null while unavailable. */
  outcomes: Record<string, number> | null;
}

/** A cluster as the cached routes name it (name and meta list). */
export interface StatusCluster {
  name: string;
  metas: StatusMeta[];
  /** Cached routes that point at it, and how many of them are stale. */
  tables: number;
  stale: number;
}

/** Where a table pointed before or after a change. */
export interface StatusRouteEnd {
  kind: RouteState['kind'];
  cluster: string | null;
  metas: string[];
}

/** A route change the proxy saw. */
export interface StatusChange {
  /** ISO time the proxy's registry saw the change. */
  at: string;
  table: string;
  from: StatusRouteEnd;
  to: StatusRouteEnd;
  /**
   * Queries re-issued for the table (`reroute_count{table}`) from the sample
   * before the change was seen until the table's next change; null without metrics.
   */
  reroutes: number | null;
}

export interface StatusRates {
  available: boolean;
  /** Why not, when not available (metrics off, still collecting). */
  reason: string | null;
  /** Length of the window the rates cover (about a minute once the page has been watched that long). */
  windowSeconds: number | null;
  /** ISO time of the newest sample. */
  sampledAt: string | null;
  /** Query-config requests per second over all tables (the `other` label included). */
  queryRate: number | null;
  /** Answers with an error per second over all tables. */
  errorRate: number | null;
}

/** What the status board computes for one look (the header comes from the admin server). */
export interface StatusBoardView {
  rates: StatusRates;
  routes: { total: number; stale: number; byKind: Record<string, number> };
  tables: {
    filter: string;
    sort: StatusSort;
    page: number;
    pageSize: number;
    pages: number;
    /** Routes that match the filter. */
    matched: number;
    rows: StatusTableRow[];
  };
  clusters: StatusCluster[];
  /** Metas called in the window that no cached route names any more (a cluster the tables left). */
  unroutedMetas: StatusMeta[];
  /** Newest first. */
  changes: StatusChange[];
  /** The charts' points: the last minutes of traffic, while the page has been watched. */
  history: StatusHistory;
}

/** The status page's data, computed on demand: metrics are sampled only while someone looks. */
export interface StatusBoard {
  /** One look: counts as activity (starts or keeps the sampling going) and answers the current view. */
  view(query: StatusQuery): StatusBoardView;
  /** Stops sampling; idempotent. */
  dispose(): void;
}

/** `/status.json`: the admin server's header fields followed by the board's view. */
export interface StatusDocument extends StatusBoardView {
  instance: { host: string; pid: number };
  version: string;
  /** ISO times. */
  startedAt: string;
  now: string;
  uptimeSeconds: number;
  ready: { ready: boolean; reasons: string[] };
  /** Null when routes come from the file registry. */
  zookeeper: { state: string } | null;
  /** Open client connections. */
  connections: number;
  /** The fleet this instance registered in; absent when this proxy does not report one. */
  fleet?: StatusFleet;
}
