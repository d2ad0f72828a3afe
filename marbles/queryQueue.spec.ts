import { describe, expect, it } from 'vitest';
import { TestScheduler } from 'rxjs/testing';
import { map } from 'rxjs';
import { QueryQueue } from '../src/streams/queryQueue.js';
import type { Query } from '../src/model/query.js';

const testScheduler = () => new TestScheduler((a, b) => expect(a).toEqual(b));
const query = (seqid: number) => ({ seqid }) as unknown as Query;
const names = map((q: Query) => String.fromCharCode(96 + q.seqid));

describe('QueryQueue', () => {
  it('replays what is pending to each new reader, in arrival order, then follows new arrivals', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, expectObservable }) => {
      const queue = new QueryQueue();
      const [a, b, c, d] = [query(1), query(2), query(3), query(4)];
      cold('a--b-r-c---d').subscribe((step) => (step === 'r' ? queue.remove(b) : queue.push({ a, b, c, d }[step]!)));
      //    b is answered at frame 5
      expectObservable(queue.pending$.pipe(names), '^--------!').toBe('a--b---c--');
      const second: string[] = [];
      cold('---------x').subscribe(() => queue.pending$.subscribe((q) => second.push(`${String.fromCharCode(96 + q.seqid)}@${scheduler.now()}`)));
      scheduler.flush();
      // a and c were pending when the second reader came at 9; d arrived later.
      expect(second).toEqual(['a@9', 'c@9', 'd@11']);
      expect(queue.size).toBe(3);
    });
  });

  it('a new reader replaces the old one; a query answered while being replayed is skipped', () => {
    const queue = new QueryQueue();
    const [a, b] = [query(1), query(2)];
    queue.push(a);
    queue.push(b);
    const first: number[] = [];
    const sub = queue.pending$.subscribe((q) => first.push(q.seqid));
    const second: number[] = [];
    queue.pending$.subscribe((q) => {
      second.push(q.seqid);
      if (q === a) queue.remove(b);
    });
    queue.push(query(3));
    sub.unsubscribe();
    expect(first).toEqual([1, 2]);
    expect(second).toEqual([1, 3]);
  });
});
