import { describe, expect, it } from 'vitest';
import { TestScheduler } from 'rxjs/testing';
import { map } from 'rxjs';
import { answerAtDeadline } from '../src/operators/answerAtDeadline.js';
import type { Query } from '../src/model/query.js';
import { createSweep } from '../src/model/sweep.js';
import { describeReply, queryOf } from './support/core.js';

const testScheduler = () => new TestScheduler((a, b) => expect(a).toEqual(b));
const described = map((q: Query) => describeReply(q.reply!));
/** A query with the given deadline (a budget of 1–19 ms has no margin). */
const due = (seqid: number, deadlineAt: number) => queryOf(0, { seqid, budgetMs: deadlineAt });

describe('answerAtDeadline', () => {
  it('answers each query with the error at its own deadline, in deadline order', () => {
    const scheduler = testScheduler();
    scheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const sweep = createSweep(scheduler);
      const queries = hot<Query>('a--b-------', { a: due(1, 5), b: due(2, 4) });
      const expected =            '----BA-----';
      expectObservable(queries.pipe(answerAtDeadline('ERR_ZOOKEEPER_OPERATION', sweep, scheduler), described)).toBe(expected, {
        A: 'ERR_ZOOKEEPER_OPERATION#1',
        B: 'ERR_ZOOKEEPER_OPERATION#2',
      });
      expectSubscriptions(queries.subscriptions).toBe('^----------');
    });
  });

  it('answers a query already past its deadline at once', () => {
    const scheduler = testScheduler();
    scheduler.run(({ hot, expectObservable }) => {
      const sweep = createSweep(scheduler);
      const queries = hot<Query>('---a--', { a: due(1, 2) });
      expectObservable(queries.pipe(answerAtDeadline('ERR_ZOOKEEPER_OPERATION', sweep, scheduler), described)).toBe('---A--', {
        A: 'ERR_ZOOKEEPER_OPERATION#1',
      });
    });
  });

  it('unsubscribing (the route came) answers nothing more and leaves the sweep', () => {
    const scheduler = testScheduler();
    scheduler.run(({ hot, expectObservable, flush }) => {
      const sweep = createSweep(scheduler);
      const queries = hot<Query>('a-b----', { a: due(1, 5), b: due(2, 6) });
      expectObservable(queries.pipe(answerAtDeadline('ERR_ZOOKEEPER_OPERATION', sweep, scheduler), described), '^---!').toBe('-----');
      flush();
      expect(sweep.size()).toBe(0);
    });
  });
});
