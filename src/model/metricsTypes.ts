import type { OperatorFunction } from 'rxjs';
import type { ProxyHooks, QueryFinished } from './proxyTypes.js';
import type { RegistryHooks, RouteRegistry } from './route.js';
import type { ClientHostsReader } from './clientHostTypes.js';

/**
 * One metric as the registry reports it when asked for all its values
 * (prom-client's `getMetricsAsJSON()`, reduced to what readers use). A
 * histogram lists its `_bucket` (with an `le` label), `_sum` and `_count`
 * series, each named in `metricName`.
 */
export interface MetricFamily {
  name: string;
  values: ReadonlyArray<{ value: number; labels: Partial<Record<string, string | number>>; metricName?: string }>;
}

/** Label values of one series, by label name. */
export type MetricLabels = Record<string, string | number>;

/** A monotonically increasing count (Prometheus counter, Falcon COUNTER). */
export interface CounterHandle {
  inc(labels?: MetricLabels, amount?: number): void;
}

/** A value that goes up and down (Prometheus gauge, Falcon GAUGE). */
export interface GaugeHandle {
  set(value: number, labels?: MetricLabels): void;
  inc(labels?: MetricLabels, amount?: number): void;
  dec(labels?: MetricLabels, amount?: number): void;
}

/**
 * The small registry a custom metric module receives. It writes to whatever
 * backend is active (Prometheus and Falcon read the same values; with
 * `metric.type: none` every handle does nothing).
 */
export interface MetricRegistryFacade {
  counter(name: string, help: string, labelNames?: readonly string[]): CounterHandle;
  /** The original service's "meter": a counter whose rate the backend derives. */
  meter(name: string, help: string, labelNames?: readonly string[]): CounterHandle;
  gauge(name: string, help: string, labelNames?: readonly string[]): GaugeHandle;
}

/**
 * What a custom metric module exports (default export, or `createMetricOperator`):
 * given the registry, the operator it wants to run over finished queries. The
 * values the operator emits are ignored; it works through its side effects on
 * the registry's handles. The second argument is the proxy's own `rxjs`, so a
 * module kept outside the install folder needs no `node_modules` of its own.
 */
export type CustomMetricFactory = (
  registry: MetricRegistryFacade,
  rx: typeof import('rxjs'),
) => OperatorFunction<QueryFinished, unknown>;

/** The proxy's metrics, whatever the backend. */
export interface Metrics {
  readonly type: 'prometheus' | 'falcon' | 'none';
  /** Plug into the proxy (`run`'s hooks). Methods are absent when metrics are off, so callers pay nothing. */
  readonly proxyHooks: ProxyHooks;
  /** Plug into the route registry factory's `hooks` option. */
  readonly registryHooks: RegistryHooks;
  /** One upstream call ended: `result` is `ok` or why it failed (bounded set: timeout, connect, ...). */
  upstreamCall(meta: string, result: string): void;
  /** The pool closed a connection to `meta` of its own accord (`silent`: its calls kept going unanswered). */
  upstreamReconnect(meta: string, reason: string): void;
  /** The ZooKeeper session entered `state` (`connecting`, `connected`, `disconnected`, `expired`). */
  zkState(state: string): void;
  /**
   * Count the registry's stale routes, and export each cached route's `route_version{table}`, when metrics
   * are read (stale: served from cache while ZooKeeper is away).
   */
  observeRegistry(registry: Pick<RouteRegistry, 'tables'>): void;
  /**
   * Export `table_client_hosts{table}` and `table_client_hosts_followed{table}`, counted when metrics are
   * read, for the cached tables that have their own `table` label.
   */
  observeClients(clients: ClientHostsReader, registry: Pick<RouteRegistry, 'tables'>): void;
  /** Count the open upstream connections when metrics are read. */
  observeUpstream(pool: { openConnections(): number }): void;
  /** Export `proxy_ready`, read when metrics are read: 1 while `ready()` (what /readyz answers 200 for). */
  observeReadiness(ready: () => boolean): void;
  /** The registry custom metric modules write to. */
  readonly customRegistry: MetricRegistryFacade;
  /** Prometheus exposition text; empty when metrics are off. */
  prometheusText(): Promise<string>;
  /** Every metric's current values, read-only (the status page samples them); empty when metrics are off. */
  snapshot(): Promise<MetricFamily[]>;
  /** The content type of `prometheusText()`. */
  readonly contentType: string;
  /** Present with `metric.type: falcon`: push the current values now (true when the agent took them). */
  readonly falcon?: { pushNow(): Promise<boolean> };
  /** Stops the Falcon push timer; idempotent. */
  close(): void;
}

/** The loaded custom metric modules, fed by the proxy's `queryFinished` hook. */
export interface CustomMetrics {
  /** Merge into the proxy hooks; empty when no module is loaded. */
  readonly hooks: ProxyHooks;
  /** Paths of the modules still attached (a module that failed at run time is detached). */
  active(): string[];
  /** Unsubscribes every module; idempotent. */
  close(): void;
}
