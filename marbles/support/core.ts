import { NEVER, Observable, map, type SchedulerLike } from 'rxjs';
import type { TestScheduler } from 'rxjs/testing';
import { createLeaderBook } from '../../src/model/leaderBook.js';
import type { ProxyHooks, QueryFinished } from '../../src/model/proxyTypes.js';
import type { Query } from '../../src/model/query.js';
import type { RouteRegistry, RouteState } from '../../src/model/route.js';
import { createSweep } from '../../src/model/sweep.js';
import { createTableRouter, type TableRouter, type TableRouterDeps } from '../../src/streams/tableRouter.js';
import type { CancelReason, MetaAnswer } from '../../src/model/upstream.js';
import { readReply } from '../../test/support/pegasusClient.js';
import { dispatcherFrom } from './dispatcher.js';

/** Cluster `X` has one meta, `X-m1:1`. */
export const metaOf = (cluster: string) => `${cluster}-m1:1`;

/** A meta's answer whose frame is `<seqid:4><cluster letter>`, so replies read as `A#7`. */
export function answer(cluster: string, headerError = 'ERR_OK'): MetaAnswer {
  return {
    meta: metaOf(cluster),
    frame: Buffer.concat([Buffer.alloc(4), Buffer.from(cluster)]),
    reply: { headerError, name: 'RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX_ACK', seqid: 99, seqidOffset: 0 },
  };
}

/** Reads a reply frame back as `A#7` (relayed answer) or `ERR_X#7` (error reply). */
export function describeReply(frame: Buffer): string {
  if (frame.length === 5) return `${frame.toString('latin1', 4)}#${frame.readInt32BE(0)}`;
  const reply = readReply(frame);
  return `${reply.err}#${reply.seqid}`;
}

export function fakeRegistry(route: (table: string) => Observable<RouteState>): RouteRegistry {
  return { route, tables: () => [], evicted$: NEVER, ready$: NEVER, dispose: () => undefined };
}

export interface CoreSetup {
  router: TableRouter;
  finished: QueryFinished[];
  reroutes: string[];
  cancels: Array<{ meta: string; reason: CancelReason }>;
  recorded: string[];
}

/**
 * The routing core as the proxy wires it (table router, per-table pipelines,
 * cluster calls, one sweep), over a fake registry and a dispatcher whose calls
 * to cluster X's meta are `calls[X]`.
 */
export function core(
  scheduler: TestScheduler,
  routes: (table: string) => Observable<RouteState>,
  calls: Record<string, Observable<MetaAnswer>>,
  extra: Partial<TableRouterDeps> & { hooks?: ProxyHooks } = {},
): CoreSetup {
  const finished: QueryFinished[] = [];
  const reroutes: string[] = [];
  const recorded: string[] = [];
  const { dispatcher, cancels } = dispatcherFrom((meta) => {
    const call = calls[meta.slice(0, meta.indexOf('-m1'))];
    if (call === undefined) throw new Error(`test asked unexpected meta ${meta}`);
    return call;
  });
  const router = createTableRouter({
    registry: fakeRegistry(routes),
    dispatcher,
    leaders: createLeaderBook(),
    sweep: createSweep(scheduler),
    scheduler,
    backupDelayMs: 10_000,
    retryDelayMs: 10,
    dropHostPortFields: () => false,
    rerouted: (table, from, to) => reroutes.push(`${table} ${from}→${to}`),
    recordCall: (meta, result) => recorded.push(`${meta} ${result}`),
    hooks: { queryFinished: (event) => finished.push(event) },
    ...extra,
  });
  return { router, finished, reroutes, cancels, recorded };
}

/** A query read at `now`; `answered` is its origin's. */
export function queryOf(now: number, shape: QueryShape = {}, answered: (query: Query) => void = () => undefined): Query {
  const budget = shape.budgetMs ?? 1000;
  return {
    table: shape.table ?? 't',
    key: (shape.indices ?? []).join(','),
    seqid: shape.seqid ?? 7,
    name: 'RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX',
    args: Buffer.from([0]),
    startedAt: now,
    deadlineAt: now + budget - Math.min(100, Math.floor(budget / 20)),
    origin: { peer: 'test', answered },
    reply: undefined,
    code: '',
    cluster: undefined,
    call: undefined,
    holder: undefined,
  };
}

export interface QueryShape {
  table?: string;
  seqid?: number;
  indices?: number[];
  /** The client's budget; its deadline is the budget less the margin (1000 → 950). */
  budgetMs?: number;
}

/**
 * One query's reply, described: subscribing submits the query to the router
 * at that moment, unsubscribing before the reply withdraws it (client gone).
 */
export function reply$(router: TableRouter, scheduler: SchedulerLike, shape: QueryShape = {}): Observable<string> {
  return new Observable<Buffer>((subscriber) => {
    const query = queryOf(scheduler.now(), shape, (q) => {
      subscriber.next(q.reply!);
      subscriber.complete();
    });
    router.submit(query);
    return () => {
      if (query.reply === undefined) query.holder?.withdraw(query);
    };
  }).pipe(map(describeReply));
}
