import type { Observable, Subscription } from 'rxjs';
import { QueryQueue } from './queryQueue.js';
import type { Query, QueryHolder } from '../model/query.js';
import type { ProxyHooks } from '../model/proxyTypes.js';
import type { RouteRegistry, RouteState } from '../model/route.js';
import { tablePipeline, type TablePipelineDeps } from './tablePipeline.js';

export interface TableRouterDeps extends TablePipelineDeps {
  registry: Pick<RouteRegistry, 'route' | 'evicted$'>;
  hooks: Pick<ProxyHooks, 'queryFinished'>;
}

/** Hands each query to its table's pipeline. */
export interface TableRouter {
  /** The query enters its table's pipeline (built on the table's first query); its reply goes to `query.origin`. */
  submit(query: Query): void;
  /** Tables with a pipeline right now. */
  size(): number;
  /** Ends every pipeline; queries still pending get no reply. */
  dispose(): void;
}

/** How often a table in use is reported to the registry's LRU (ms). */
const TOUCH_INTERVAL_MS = 1000;

/** A table's pipeline while it runs: the queue it reads, and the subscription of `tablePipeline` over it. */
class RunningPipeline implements QueryHolder {
  readonly queue = new QueryQueue();
  subscription: Subscription | undefined;
  /** No longer the table's pipeline (evicted or replaced): it ends once its queue is empty. */
  retired = false;
  /** When a query last told the registry the table is in use (scheduler time). */
  touchedAt = -Infinity;

  constructor(
    readonly table: string,
    readonly route$: Observable<RouteState>,
  ) {}

  withdraw(query: Query): void {
    query.holder = undefined;
    query.call?.leave(query);
    query.call = undefined;
    this.queue.remove(query);
    this.endIfDone();
  }

  retire(): void {
    this.retired = true;
    this.endIfDone();
  }

  endIfDone(): void {
    if (this.retired && this.queue.size === 0) this.subscription?.unsubscribe();
  }
}

/**
 * The proxy's tables: one long-lived pipeline per table the registry caches
 * (`tablePipeline`), subscribed once, fed queries as values. The registry's
 * cache decides which tables are kept: asking it for the route on every query
 * keeps its LRU order true, and a table it evicts has its pipeline ended once
 * the queries in it are answered. Nothing here is per query but a queue link
 * and the reply's hand-over.
 */
export function createTableRouter(deps: TableRouterDeps): TableRouter {
  const { registry, scheduler } = deps;
  const queryFinished = deps.hooks.queryFinished;
  const pipelines = new Map<string, RunningPipeline>();

  const deliver = (pipeline: RunningPipeline, query: Query): void => {
    pipeline.queue.remove(query);
    query.holder = undefined;
    if (queryFinished !== undefined) {
      queryFinished({
        table: query.table,
        cluster: query.cluster,
        code: query.code,
        latencyMs: scheduler.now() - query.startedAt,
        peer: query.origin.peer,
      });
    }
    query.origin.answered(query);
    pipeline.endIfDone();
  };

  const open = (table: string, route$: Observable<RouteState>): RunningPipeline => {
    const pipeline = new RunningPipeline(table, route$);
    pipelines.set(table, pipeline);
    pipeline.subscription = tablePipeline(route$, pipeline.queue, deps).subscribe({ next: (query) => deliver(pipeline, query) });
    return pipeline;
  };

  const evictions = registry.evicted$.subscribe((table) => {
    const pipeline = pipelines.get(table);
    if (pipeline === undefined) return;
    pipelines.delete(table);
    pipeline.retire();
  });

  return {
    submit(query) {
      let pipeline = pipelines.get(query.table);
      // The registry is asked again at least once a second per table in use,
      // so its LRU sees what is really in use without an LRU update per query.
      if (pipeline === undefined || query.startedAt - pipeline.touchedAt >= TOUCH_INTERVAL_MS) {
        const route$ = registry.route(query.table);
        if (pipeline === undefined || pipeline.route$ !== route$) {
          pipeline?.retire();
          pipeline = open(query.table, route$);
        }
        pipeline.touchedAt = query.startedAt;
      }
      query.holder = pipeline;
      pipeline.queue.push(query);
    },
    size: () => pipelines.size,
    dispose() {
      evictions.unsubscribe();
      for (const pipeline of pipelines.values()) pipeline.subscription?.unsubscribe();
      pipelines.clear();
    },
  };
}
