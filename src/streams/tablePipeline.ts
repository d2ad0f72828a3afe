import { switchMap, type Observable, type SchedulerLike } from 'rxjs';
import { answerAtDeadline } from '../operators/answerAtDeadline.js';
import { answerWith } from '../operators/answerWith.js';
import { answerFromCluster, type AnswerFromClusterDeps } from '../operators/answerFromCluster.js';
import { startWithIfSilent } from '../operators/startWithIfSilent.js';
import type { QueryQueue } from './queryQueue.js';
import type { Query } from '../model/query.js';
import { routeError } from './routeError.js';
import type { RouteState } from '../model/route.js';
import type { Sweep } from '../model/sweep.js';

export interface TablePipelineDeps extends AnswerFromClusterDeps {
  sweep: Sweep;
  scheduler: SchedulerLike;
}

/**
 * One table's pipeline, built once when the table is first asked for and
 * alive while it is cached: its route stream, switched to an inner that
 * serves every query of the table bound for that route. The queries are
 * values read from the table's queue; a route change is the switch, so the
 * old inner's cluster calls are cancelled and the queries still pending are
 * re-issued by the new one; a route that disappears answers them
 * `ERR_OBJECT_NOT_FOUND`. Each query leaves once, with its reply.
 *
 * ```
 * route$:   a--------b------      a, b: routes to clusters A and B
 * queries:  -q----r---------      (the queue: pending ones replayed to each inner)
 * inner A:  ^--Q-----!            q answered by A; r still in flight at the switch
 * inner B:           ^--R---      r re-issued to B
 * result:   ---Q--------R---
 * ```
 *
 * `route$` is the route cache's stream, which emits changes only (the one
 * place route states are de-duplicated): a route rewritten with the same
 * target never reaches the switch.
 *
 * Until the route stream says anything (a ZooKeeper read in progress), a query
 * waits at most until its deadline, then gets `ERR_ZOOKEEPER_OPERATION`.
 */
export function tablePipeline(route$: Observable<RouteState>, queue: QueryQueue, deps: TablePipelineDeps): Observable<Query> {
  return route$.pipe(
    startWithIfSilent(undefined),
    switchMap((state) => {
      if (state === undefined) return queue.pending$.pipe(answerAtDeadline('ERR_ZOOKEEPER_OPERATION', deps.sweep, deps.scheduler));
      if (state.kind === 'route') return queue.pending$.pipe(answerFromCluster(state, deps));
      return queue.pending$.pipe(answerWith(routeError(state)));
    }),
  );
}
