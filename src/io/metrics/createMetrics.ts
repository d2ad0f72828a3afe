import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Logger } from 'pino';
import type { Config } from '../../config/types.js';
import type { Metrics } from '../../model/metricsTypes.js';
import type { ClientHostsReader } from '../../model/clientHostTypes.js';
import type { ProxyHooks, QueryFinished } from '../../model/proxyTypes.js';
import type { RegistryHooks, RouteRegistry } from '../../model/route.js';
import { createFalconPusher } from '../falcon.js';
import { childCache, createBoundedLabels } from './boundedLabels.js';
import { createPromFacade, noopFacade } from './facade.js';
import { newHistogramSeries, observe, registerPlain, registerPlainHistogram, type HistogramSeries, type Labels } from './plainMetrics.js';

/** What a table's label counts besides latency. */
interface TableCounts {
  queries: number;
  zkReads: number;
  reroutes: number;
}

export interface MetricsOptions {
  config: Config['metric'];
  logger: Logger;
  /** Distinct `table` label values before the rest count as `other`. Default 10 000. */
  tableLabelLimit?: number;
  /** Distinct values of the other labels (cluster, code, meta, ...) before `other`. Default 1 000. */
  labelLimit?: number;
  /** Register Node.js process metrics (heap, event loop lag, GC, ...). Default true. */
  processMetrics?: boolean;
}

/** Seconds; query-config answers take a millisecond when cached metas answer, seconds when they fail over. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * The proxy's metrics in a prom-client registry of its own (never the global
 * one, so several proxies can live in one process). The three names of the
 * original service keep their exact names and labels, with the configured tags
 * as constant labels. With `metric.type: none` nothing is registered and every
 * hook is absent.
 */
export function createMetrics(options: MetricsOptions): Metrics {
  const { config, logger } = options;
  if (config.type === 'none') return disabledMetrics();

  const registry = new Registry();
  registry.setDefaultLabels({ ...config.tags });
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  const registers = [registry];

  // Clients send any table name they like. A table gets its own label value
  // only once a query for it found a route; everything else is `other`.
  const tables = createBoundedLabels(options.tableLabelLimit ?? 10_000);
  const labelLimit = options.labelLimit ?? 1_000;
  const clusters = createBoundedLabels(labelLimit);
  const codes = createBoundedLabels(labelLimit);
  const metas = createBoundedLabels(labelLimit);
  const results = createBoundedLabels(labelLimit);
  const reasons = createBoundedLabels(labelLimit);
  const states = createBoundedLabels(labelLimit);

  const connections = new Gauge({ name: 'client_connection_count', help: 'Open client connections.', registers });
  const zkSession = new Gauge({
    name: 'zookeeper_session_state',
    help: 'ZooKeeper session state: 1 for the current state, 0 for the others seen.',
    labelNames: ['state'],
    registers,
  });
  const rejectedFrames = new Counter({
    name: 'rejected_frame_count',
    help: 'Client connections closed for sending an invalid frame, by reason.',
    labelNames: ['reason'],
    registers,
  });
  const reconnects = new Counter({
    name: 'upstream_reconnect_count',
    help: 'Upstream connections the proxy closed on purpose, to open afresh when next needed, by meta and reason (silent: its calls kept going unanswered while other metas answered; unused: no cached route names the meta).',
    labelNames: ['meta', 'reason'],
    registers,
  });

  // What changes on every request is kept in plain numbers and handed to
  // prom-client only when scraped: a label hash built per `inc`/`observe`
  // was a sixth of the proxy's CPU under load (BENCHMARKS.md).
  const counts = new Map<string, TableCounts>();
  const countsOf = (label: string): TableCounts => {
    let entry = counts.get(label);
    if (entry === undefined) counts.set(label, (entry = { queries: 0, zkReads: 0, reroutes: 0 }));
    return entry;
  };
  /** Latency series by table label, then cluster, then code. */
  const latency = new Map<string, Map<string, Map<string, HistogramSeries>>>();
  const latencyOf = (table: string, cluster: string, code: string): HistogramSeries => {
    let byCluster = latency.get(table);
    if (byCluster === undefined) latency.set(table, (byCluster = new Map()));
    let byCode = byCluster.get(cluster);
    if (byCode === undefined) byCluster.set(cluster, (byCode = new Map()));
    let series = byCode.get(code);
    if (series === undefined) byCode.set(code, (series = newHistogramSeries(LATENCY_BUCKETS)));
    return series;
  };
  /** Calls by meta label, then result label. */
  const upstream = new Map<string, Map<string, { calls: number }>>();
  let cachedRoutes = 0;

  // The hot path's look-ups, memoised per admitted name. A table, meta or
  // cluster label once admitted stays admitted, and a label set that is full
  // stays full, so a name seen before maps to what it mapped to then: one Map
  // look-up per hook instead of one per label and per level. Bounded by the
  // labels: only names that are their own label get an entry.
  /** An admitted table's counts and the latency series its queries went to last. */
  interface AdmittedTable {
    readonly counts: TableCounts;
    cluster: string | undefined;
    code: string;
    series: HistogramSeries | undefined;
  }
  const admittedTables = new Map<string, AdmittedTable>();
  const admittedTable = (table: string): AdmittedTable => {
    let entry = admittedTables.get(table);
    if (entry === undefined) admittedTables.set(table, (entry = { counts: countsOf(table), cluster: undefined, code: '', series: undefined }));
    return entry;
  };
  /** An admitted meta's calls by result, and the result it answered last. */
  interface AdmittedMeta {
    readonly byResult: Map<string, { calls: number }>;
    result: string | undefined;
    cell: { calls: number } | undefined;
  }
  const admittedMetas = new Map<string, AdmittedMeta>();

  const tableSamples = (field: keyof TableCounts) =>
    function* (): Iterable<readonly [Labels, number]> {
      for (const [table, entry] of counts) if (entry[field] > 0) yield [{ table }, entry[field]];
    };
  registerPlain(registry, {
    name: 'zk_request_count',
    help: 'Route reads that went to ZooKeeper (route cache misses), by table.',
    type: 'counter',
    read: tableSamples('zkReads'),
  });
  registerPlain(registry, {
    name: 'client_query_config_count',
    help: 'Query-config requests received, by table.',
    type: 'counter',
    read: tableSamples('queries'),
  });
  registerPlainHistogram(registry, {
    name: 'query_config_latency_seconds',
    help: 'Time from a query-config request to its answer, by table, cluster and the error code the client got.',
    bounds: LATENCY_BUCKETS,
    *read() {
      for (const [table, byCluster] of latency) {
        for (const [cluster, byCode] of byCluster) for (const [code, series] of byCode) yield [{ table, cluster, code }, series];
      }
    },
  });
  registerPlain(registry, {
    name: 'upstream_call_count',
    help: 'Calls to MetaServers, by meta address and result.',
    type: 'counter',
    *read() {
      for (const [meta, byResult] of upstream) for (const [result, cell] of byResult) yield [{ meta, result }, cell.calls];
    },
  });
  registerPlain(registry, { name: 'route_cache_size', help: 'Routes cached and watched.', type: 'gauge', read: () => [[{}, cachedRoutes]] });
  registerPlain(registry, {
    name: 'reroute_count',
    help: 'Queries re-issued to another cluster because their route changed in flight, by table.',
    type: 'counter',
    read: tableSamples('reroutes'),
  });

  const rejectedChild = childCache((reason) => rejectedFrames.labels({ reason }));
  const stateChild = childCache((state) => zkSession.labels({ state }));
  let currentState: string | undefined;

  // Counts for a table whose name is not admitted yet wait here until its
  // first query finishes: then they go to the table's own label when it had a
  // route, to `other` when not. So the first request of a real table (which is
  // also its ZooKeeper read, and maybe a reroute) is counted under the table's
  // name, and a flood of made-up names still adds no series. Bounded like the
  // labels themselves.
  const pending = new Map<string, TableCounts>();
  const pendingLimit = options.tableLabelLimit ?? 10_000;
  const countByTable = (table: string, field: keyof TableCounts) => {
    const admitted = admittedTables.get(table);
    if (admitted !== undefined) {
      admitted.counts[field] += 1;
      return;
    }
    const label = tables.known(table);
    if (label === table) {
      admittedTable(label).counts[field] += 1;
      return;
    }
    let entry = pending.get(table);
    if (entry === undefined) {
      if (pending.size >= pendingLimit) {
        countsOf(label)[field] += 1;
        return;
      }
      entry = { queries: 0, zkReads: 0, reroutes: 0 };
      pending.set(table, entry);
    }
    entry[field] += 1;
  };
  const settle = (table: string, label: string) => {
    const entry = pending.get(table);
    if (entry === undefined) return;
    pending.delete(table);
    const target = countsOf(label);
    target.queries += entry.queries;
    target.zkReads += entry.zkReads;
    target.reroutes += entry.reroutes;
  };

  const proxyHooks: ProxyHooks = {
    connectionOpened: () => connections.inc(),
    connectionClosed: () => connections.dec(),
    queryReceived: (table) => countByTable(table, 'queries'),
    queryFinished: (event: QueryFinished) => {
      let admitted = admittedTables.get(event.table);
      let table: string;
      if (admitted !== undefined) table = event.table;
      else {
        table = event.cluster === undefined ? tables.known(event.table) : tables.admit(event.table);
        if (table === event.table) admitted = admittedTable(table);
      }
      if (pending.size > 0) settle(event.table, table);
      const { cluster, code } = event;
      let series: HistogramSeries;
      if (admitted !== undefined && admitted.series !== undefined && admitted.cluster === cluster && admitted.code === code) {
        series = admitted.series;
      } else {
        series = latencyOf(table, clusters.admit(cluster ?? 'none'), codes.admit(code));
        if (admitted !== undefined) {
          admitted.cluster = cluster;
          admitted.code = code;
          admitted.series = series;
        }
      }
      const seconds = event.latencyMs / 1000;
      observe(series, LATENCY_BUCKETS, Number.isFinite(seconds) && seconds >= 0 ? seconds : 0);
    },
    rerouted: (table) => countByTable(table, 'reroutes'),
    frameRejected: (_peer, reason) => rejectedChild(reasons.admit(reason)).inc(),
  };

  const registryHooks: RegistryHooks = {
    zkRead: (table) => countByTable(table, 'zkReads'),
    cacheSize: (size) => {
      cachedRoutes = size;
    },
  };

  const falcon =
    config.type === 'falcon'
      ? createFalconPusher({
          agentUrl: config.falcon.agentUrl,
          stepSeconds: config.falcon.stepSeconds,
          endpoint: config.falcon.endpoint,
          read: () => registry.getMetricsAsJSON(),
          logger,
        })
      : undefined;

  let observed = false;
  let clientsObserved = false;
  let readinessRegistered = false;
  let readiness: () => boolean = () => false;
  return {
    type: config.type,
    proxyHooks,
    registryHooks,
    upstreamCall: (meta, result) => {
      const admitted = admittedMetas.get(meta);
      if (admitted !== undefined && admitted.result === result) {
        admitted.cell!.calls += 1;
        return;
      }
      const metaLabel = metas.admit(meta);
      let byResult = admitted?.byResult ?? upstream.get(metaLabel);
      if (byResult === undefined) upstream.set(metaLabel, (byResult = new Map()));
      const resultLabel = results.admit(result);
      let cell = byResult.get(resultLabel);
      if (cell === undefined) byResult.set(resultLabel, (cell = { calls: 0 }));
      cell.calls += 1;
      if (admitted !== undefined) {
        admitted.result = result;
        admitted.cell = cell;
      } else if (metaLabel === meta) {
        admittedMetas.set(meta, { byResult, result, cell });
      }
    },
    upstreamReconnect: (meta, reason) => reconnects.inc({ meta: metas.admit(meta), reason: reasons.admit(reason) }),
    zkState(state) {
      const label = states.admit(state);
      if (label === currentState) return;
      if (currentState !== undefined) stateChild(currentState).set(0);
      stateChild(label).set(1);
      currentState = label;
    },
    observeRegistry(routes: Pick<RouteRegistry, 'tables'>) {
      if (observed) return;
      observed = true;
      // Read when scraped (or pushed), not kept up to date: staleness changes
      // with the ZooKeeper session, and only readers care about it.
      new Gauge({
        name: 'route_stale_count',
        help: 'Cached routes served stale because ZooKeeper cannot confirm them.',
        registers,
        collect() {
          let stale = 0;
          for (const info of routes.tables()) if (info.stale) stale += 1;
          this.set(stale);
        },
      });
      // The node's data version each instance serves: instances of one fleet that disagree for long
      // have not all seen a switch (deploy/prometheus/alerts.yml, MetaProxyRouteDisagreement).
      registerPlain(registry, {
        name: 'route_version',
        help: 'Data version of the route node each cached table is served from (the file registry counts its loads), by table.',
        type: 'gauge',
        *read() {
          for (const info of routes.tables()) {
            if (info.state.kind === 'route' && tables.known(info.table) === info.table) yield [{ table: info.table }, info.state.version];
          }
        },
      });
    },
    observeClients(clients: ClientHostsReader, routes: Pick<RouteRegistry, 'tables'>) {
      if (clientsObserved) return;
      clientsObserved = true;
      // Counted when read: the proxy writes a host's time per query, never a metric.
      const read = (field: 'hosts' | 'followed') =>
        function* (): Iterable<readonly [Labels, number]> {
          for (const info of routes.tables()) {
            if (tables.known(info.table) !== info.table) continue;
            const value = clients.counts(info)[field];
            if (value !== null) yield [{ table: info.table }, value];
          }
        };
      registerPlain(registry, {
        name: 'table_client_hosts',
        help: 'Client hosts that asked for the table: in the hour before its latest route change, or in the last hour when none was seen.',
        type: 'gauge',
        read: read('hosts'),
      });
      registerPlain(registry, {
        name: 'table_client_hosts_followed',
        help: 'Of table_client_hosts, those that asked again since the latest route change and were answered by the new cluster (absent before a change).',
        type: 'gauge',
        read: read('followed'),
      });
    },
    observeReadiness(ready) {
      readiness = ready;
      if (readinessRegistered) return;
      readinessRegistered = true;
      registerPlain(registry, {
        name: 'proxy_ready',
        help: '1 while the proxy is ready to serve (what /readyz answers 200 for), else 0.',
        type: 'gauge',
        read: () => [[{}, readiness() ? 1 : 0]],
      });
    },
    observeUpstream(pool) {
      // Read when scraped, like route_stale_count: the pool knows its sockets.
      new Gauge({
        name: 'upstream_connection_count',
        help: 'Open connections to MetaServers.',
        registers,
        collect() {
          this.set(pool.openConnections());
        },
      });
    },
    customRegistry: createPromFacade(registry),
    prometheusText: () => registry.metrics(),
    snapshot: () => registry.getMetricsAsJSON(),
    contentType: registry.contentType,
    ...(falcon === undefined ? {} : { falcon: { pushNow: falcon.pushNow } }),
    close: () => falcon?.close(),
  };
}

function disabledMetrics(): Metrics {
  return {
    type: 'none',
    proxyHooks: {},
    registryHooks: {},
    upstreamCall() {},
    zkState() {},
    observeRegistry() {},
    observeClients() {},
    upstreamReconnect() {},
    observeUpstream() {},
    observeReadiness() {},
    customRegistry: noopFacade,
    prometheusText: () => Promise.resolve(''),
    snapshot: () => Promise.resolve([]),
    contentType: 'text/plain; charset=utf-8',
    close() {},
  };
}
