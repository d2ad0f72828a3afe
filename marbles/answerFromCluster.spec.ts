import { describe, expect, it } from 'vitest';
import { TestScheduler } from 'rxjs/testing';
import { map, type Observable } from 'rxjs';
import { answerFromCluster, type AnswerFromClusterDeps } from '../src/operators/answerFromCluster.js';
import { createLeaderBook } from '../src/model/leaderBook.js';
import type { Query } from '../src/model/query.js';
import type { Route } from '../src/model/route.js';
import { createSweep } from '../src/model/sweep.js';
import type { MetaAnswer } from '../src/model/upstream.js';
import { dispatcherFrom } from './support/dispatcher.js';
import { answer, describeReply, metaOf, queryOf } from './support/core.js';

const testScheduler = () => new TestScheduler((a, b) => expect(a).toEqual(b));
const A: Route = { kind: 'route', table: 't', cluster: 'A', metas: [metaOf('A')], version: 1 };
const described = map((q: Query) => describeReply(q.reply!));

function deps(scheduler: TestScheduler, calls: Observable<MetaAnswer>[], extra: Partial<AnswerFromClusterDeps> = {}): AnswerFromClusterDeps {
  return {
    dispatcher: dispatcherFrom(() => calls.shift()!).dispatcher,
    leaders: createLeaderBook(),
    sweep: createSweep(scheduler),
    scheduler,
    backupDelayMs: 1000,
    retryDelayMs: 10,
    dropHostPortFields: () => false,
    ...extra,
  };
}

describe('answerFromCluster', () => {
  it('shares one call between identical queries; each gets the answer under its own seqid', () => {
    const scheduler = testScheduler();
    scheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      // a and c ask partitions [1], b asks [2].
      const queries = hot<Query>('a--b--c------', {
        a: queryOf(0, { seqid: 1, indices: [1] }),
        b: queryOf(0, { seqid: 2, indices: [2] }),
        c: queryOf(0, { seqid: 3, indices: [1] }),
      });
      const one = cold('         ---------o|', { o: answer('A') });
      const two = cold('            ----p|', { p: answer('A') });
      const expected = '         -------b-(ac)';
      expectObservable(queries.pipe(answerFromCluster(A, deps(scheduler, [one, two])), described)).toBe(expected, {
        a: 'A#1',
        b: 'A#2',
        c: 'A#3',
      });
      expectSubscriptions(one.subscriptions).toBe('^--------!');
      expectSubscriptions(two.subscriptions).toBe('---^---!');
    });
  });

  it('counts a query that was last sent to another cluster as rerouted', () => {
    const scheduler = testScheduler();
    scheduler.run(({ hot, cold, expectObservable }) => {
      const moved = { ...queryOf(0, { seqid: 1 }), cluster: 'B' };
      const queries = hot<Query>('a-', { a: moved });
      const reroutes: string[] = [];
      const call = cold('-o|', { o: answer('A') });
      expectObservable(
        queries.pipe(answerFromCluster(A, deps(scheduler, [call], { rerouted: (t, from, to) => reroutes.push(`${t} ${from}→${to}`) })), described),
      ).toBe('-a', { a: 'A#1' });
      scheduler.flush();
      expect(reroutes).toEqual(['t B→A']);
    });
  });

  it('answers ERR_TIMEOUT at once to a query whose deadline has passed, without a call', () => {
    const scheduler = testScheduler();
    scheduler.run(({ hot, expectObservable }) => {
      const queries = hot<Query>('---a', { a: queryOf(0, { seqid: 1, budgetMs: 2 }) });
      expectObservable(queries.pipe(answerFromCluster(A, deps(scheduler, [])), described)).toBe('---a', { a: 'ERR_TIMEOUT#1' });
    });
  });

  it('unsubscribing (the route moved) cancels every call and answers nobody', () => {
    const scheduler = testScheduler();
    scheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const queries = hot<Query>('a-b-', { a: queryOf(0, { seqid: 1 }), b: queryOf(0, { seqid: 2, indices: [3] }) });
      const one = cold('-----o|', { o: answer('A') });
      const two = cold('  ---o|', { o: answer('A') });
      expectObservable(queries.pipe(answerFromCluster(A, deps(scheduler, [one, two])), described), '^--!').toBe('----');
      expectSubscriptions(one.subscriptions).toBe('^--!');
      expectSubscriptions(two.subscriptions).toBe('--^!');
    });
  });
});
