import { describe, expect, it } from 'vitest';
import { TestScheduler } from 'rxjs/testing';
import { map } from 'rxjs';
import { answerWith } from '../src/operators/answerWith.js';
import type { Query } from '../src/model/query.js';
import { describeReply, queryOf } from './support/core.js';

const testScheduler = () => new TestScheduler((a, b) => expect(a).toEqual(b));
const described = map((q: Query) => `${describeReply(q.reply!)} ${q.code} ${q.cluster ?? '-'}`);

describe('answerWith', () => {
  it('answers each query at once with the body error, under its own seqid, with no cluster', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const a = { ...queryOf(0, { seqid: 1 }), cluster: 'A' };
      const queries = cold<Query>('-a--b-|', { a, b: queryOf(0, { seqid: 2 }) });
      expectObservable(queries.pipe(answerWith('ERR_OBJECT_NOT_FOUND'), described)).toBe('-A--B-|', {
        A: 'ERR_OBJECT_NOT_FOUND#1 ERR_OBJECT_NOT_FOUND -',
        B: 'ERR_OBJECT_NOT_FOUND#2 ERR_OBJECT_NOT_FOUND -',
      });
      expectSubscriptions(queries.subscriptions).toBe('^-----!');
    });
  });
});
