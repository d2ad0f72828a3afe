// A custom metric module for meta-proxy: counts query-config requests slower than
// 100 ms per table, and keeps the latency of the last query as a gauge.
//
//   metric:
//     custom: [/etc/meta-proxy/slow-queries.mjs]   # relative paths are relative to the config file
//
// The proxy calls the default export once at start-up with its metric registry
// and its own rxjs (so this file needs no node_modules next to it), then
// subscribes the returned operator to the stream of finished queries
// ({ table, cluster?, code, latencyMs, peer }). What the operator emits is
// ignored: it records through the handles it created.

const SLOW_MS = 100;

/**
 * @param {import('../../src/model/metricsTypes.js').MetricRegistryFacade} registry
 * @param {typeof import('rxjs')} rx the proxy's rxjs
 */
export default function createMetricOperator(registry, rx) {
  const { filter, tap } = rx;
  const slow = registry.counter('slow_query_count', `Query-config requests slower than ${SLOW_MS} ms, by table.`, ['table']);
  const last = registry.gauge('last_query_latency_ms', 'Latency of the most recent query-config request, in ms.');
  return (finished$) =>
    finished$.pipe(
      tap((query) => last.set(query.latencyMs)),
      // Only tables that have a route: a client can send any name, and each
      // distinct label value is a series kept for the life of the process.
      filter((query) => query.latencyMs > SLOW_MS && query.cluster !== undefined),
      tap((query) => slow.inc({ table: query.table })),
    );
}
