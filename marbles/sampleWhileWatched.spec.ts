import { describe, expect, it } from 'vitest';
import { TestScheduler } from 'rxjs/testing';
import { sampleWhileWatched } from '../src/operators/sampleWhileWatched.js';

const newScheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

describe('sampleWhileWatched', () => {
  it('ticks at once on a look, every period while looks keep coming, and stops idle after the last look', () => {
    const scheduler = newScheduler();
    scheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const looks = hot('  -a-----b-----------------------c----------');
      const subs = '       ^-----------------------------------------';
      //                    period 3, idle 10: b at 7 → stop at 17; c at 31 → stop at 41
      const expected = '   -0--1--2--3--4--5--------------0--1--2--3-';
      expectObservable(looks.pipe(sampleWhileWatched(3, 10, scheduler))).toBe(expected, { 0: 0, 1: 1, 2: 2, 3: 3, 4: 4, 5: 5 });
      expectSubscriptions(looks.subscriptions).toBe(subs);
    });
  });

  it('does not restart the period for looks that come while ticking', () => {
    const scheduler = newScheduler();
    scheduler.run(({ hot, expectObservable }) => {
      const looks = hot('  -aaaaaaa--------------');
      const expected = '   -0---1---2---3--------';
      //                    period 4, idle 10: the last look at 7 stops the ticks at 17
      expectObservable(looks.pipe(sampleWhileWatched(4, 10, scheduler))).toBe(expected, { 0: 0, 1: 1, 2: 2, 3: 3 });
    });
  });

  it('completes when the looks complete and nothing ticks any more', () => {
    const scheduler = newScheduler();
    scheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const looks = hot('  -a--|');
      const expected = '   -0--1--2--3|';
      //                    period 3, idle 10: still ticking until idle, then complete
      expectObservable(looks.pipe(sampleWhileWatched(3, 10, scheduler))).toBe(expected, { 0: 0, 1: 1, 2: 2, 3: 3 });
      expectSubscriptions(looks.subscriptions).toBe('^---!');
    });
  });

  it('stops its timers when unsubscribed early', () => {
    const scheduler = newScheduler();
    scheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const looks = hot('  -a--------');
      const unsub = '      -----!    ';
      const expected = '   -0--1-    ';
      expectObservable(looks.pipe(sampleWhileWatched(3, 10, scheduler)), unsub).toBe(expected, { 0: 0, 1: 1 });
      expectSubscriptions(looks.subscriptions).toBe('^----!');
    });
  });
});
