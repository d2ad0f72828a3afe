import { EMPTY, Subject, catchError, exhaustMap, filter, map, take, tap, type Observable, type SchedulerLike } from 'rxjs';
import type { Logger } from 'pino';
import type { MetricFamily } from '../model/metricsTypes.js';
import type { RouteInfo } from '../model/route.js';
import { historyPoint, keepSample, readSample, rerouteGrowth, windowStats, type HistoryPoint, type MetricsSample, type WindowStats } from './statusModel.js';
import type { ClientsOf } from './routeRows.js';
import { attributeReroutes, createKnownRoutes, detectRouteChanges, recordChanges, type RouteChangeRecord } from './routeChanges.js';
import { sampleWhileWatched } from '../operators/sampleWhileWatched.js';
import { buildStatusView } from './statusView.js';
import type { StatusBoard } from '../model/statusTypes.js';
import type { ClusterRef } from '../model/upstream.js';

export interface StatusBoardOptions {
  /** The registry's cached routes, read at each look and each sample. */
  routes(): RouteInfo[];
  /** Which meta last answered for a cluster. */
  leader(cluster: ClusterRef): string | undefined;
  /** Each table's client hosts (the client host tracker); absent, rows show none. */
  clients?: ClientsOf;
  /**
   * Cold: reads every metric once (the proxy's own registry). Absent with
   * `metric.type: none`: nothing is sampled and rates are unavailable.
   */
  readMetrics?: () => Observable<readonly MetricFamily[]>;
  scheduler: SchedulerLike;
  logger: Pick<Logger, 'warn'>;
  /** Time between samples while someone looks. Default 2 s. */
  periodMs?: number;
  /** Rates, errors and percentiles cover about this much. Default 60 s. */
  windowMs?: number;
  /** Sampling stops this long after the last look. Default 2 min. */
  idleMs?: number;
  /** Samples kept inside the window are at least this far apart. Default 10 s. */
  spacingMs?: number;
  /** Route changes listed. Default 50. */
  changesKept?: number;
  /** Time between the charts' points. Default 10 s. */
  historyStepMs?: number;
  /** How far back the charts reach. Default 10 min. */
  historyMs?: number;
  /** Tables with a point of their own in each step (the busiest). Default 2 000. */
  historyTables?: number;
  /**
   * Most of the time sampling may take: after a read that took d ms the next
   * waits at least d / share ms. Default 0.05. Reading 10 000 tables' latency
   * histograms takes a few hundred ms, so there the period grows to several
   * seconds instead of keeping the proxy busy a tenth of the time.
   */
  maxShare?: number;
}

/**
 * The status page's data. Nothing runs for it on the request path: while
 * somebody looks at the page (each `view()` is a look), the proxy's own
 * metrics registry is read every `periodMs` and the last minute of traffic is
 * the difference between the newest sample and one a window ago. Route
 * changes are found by comparing the cached routes at each look and sample.
 * `idleMs` after the last look the sampling stops; the changes seen so far
 * are kept, and a change made meanwhile is found at the next look.
 */
export function createStatusBoard(options: StatusBoardOptions): StatusBoard {
  const { routes, leader, readMetrics, scheduler, logger } = options;
  const periodMs = options.periodMs ?? 2_000;
  const windowMs = options.windowMs ?? 60_000;
  const idleMs = options.idleMs ?? 120_000;
  const spacingMs = options.spacingMs ?? 10_000;
  const changesKept = options.changesKept ?? 50;
  const historyStepMs = options.historyStepMs ?? 10_000;
  const historyMs = options.historyMs ?? 600_000;
  const historyTables = options.historyTables ?? 2_000;
  const maxShare = options.maxShare ?? 0.05;
  const metricsOn = readMetrics !== undefined;

  const looks = new Subject<void>();
  const known = createKnownRoutes();
  let changes: RouteChangeRecord[] = [];
  let kept: MetricsSample[] = [];
  let stats: WindowStats | undefined;
  let lastReroutes: ReadonlyMap<string, number> | undefined;
  let nextReadAt = Number.NEGATIVE_INFINITY;
  // The charts: a point per step between samples a step apart, the last `historyMs` of them.
  let history: HistoryPoint[] = [];
  let historyBase: MetricsSample | undefined;

  const observeRoutes = (infos: readonly RouteInfo[]) => {
    changes = recordChanges(changes, detectRouteChanges(known, infos, metricsOn), changesKept);
  };

  const addSample = (sample: MetricsSample) => {
    const newest = kept[kept.length - 1];
    // After an idle pause the kept samples say nothing about the last minute.
    if (newest !== undefined && sample.at - newest.at > windowMs) kept = [];
    kept = keepSample(kept, sample, windowMs, spacingMs);
    stats = kept.length >= 2 ? windowStats(kept[0]!, sample) : undefined;
    // Changes first, so reroutes that grew with a change are added to it.
    observeRoutes(routes());
    if (lastReroutes !== undefined) attributeReroutes(changes, rerouteGrowth(lastReroutes, sample.reroutes));
    lastReroutes = sample.reroutes;
    addHistory(sample);
  };

  const addHistory = (sample: MetricsSample) => {
    if (historyBase !== undefined && sample.at - historyBase.at < historyStepMs) return;
    // Across an idle pause there is no point to draw: the chart shows a gap.
    if (historyBase !== undefined && sample.at - historyBase.at <= 2 * historyStepMs) {
      history.push(historyPoint(historyBase, sample, historyTables));
    }
    historyBase = sample;
    const start = sample.at - historyMs;
    if (history.length > 0 && history[0]!.at <= start) history = history.filter((point) => point.at > start);
  };

  const samples$ = (read: () => Observable<readonly MetricFamily[]>) =>
    looks.pipe(
      sampleWhileWatched(periodMs, idleMs, scheduler),
      filter(() => scheduler.now() >= nextReadAt),
      // A read still running when the next tick comes makes that tick a no-op.
      exhaustMap(() => {
        const started = scheduler.now();
        return read().pipe(
          take(1),
          tap(() => (nextReadAt = started + (scheduler.now() - started) / maxShare)),
          map((families) => readSample(families, scheduler.now())),
          catchError((error: unknown) => {
            logger.warn({ err: error }, 'status page: reading the metrics failed; the next sample tries again');
            return EMPTY;
          }),
        );
      }),
    );
  const sampling = readMetrics === undefined ? undefined : samples$(readMetrics).subscribe(addSample);

  return {
    view(query) {
      looks.next();
      const infos = routes();
      observeRoutes(infos);
      const fresh = stats !== undefined && scheduler.now() - stats.at <= windowMs ? stats : undefined;
      const now = scheduler.now();
      const points = history.length > 0 && history[0]!.at <= now - historyMs ? history.filter((point) => point.at > now - historyMs) : history;
      return buildStatusView({
        infos,
        query,
        stats: fresh,
        metricsOn,
        leader,
        changes,
        ...(options.clients && { clients: options.clients }),
        history: { stepMs: historyStepMs, points },
      });
    },
    dispose() {
      sampling?.unsubscribe();
      looks.complete();
    },
  };
}
