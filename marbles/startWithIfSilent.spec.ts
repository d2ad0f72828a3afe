import { describe, expect, it } from 'vitest';
import { TestScheduler } from 'rxjs/testing';
import { concat, of } from 'rxjs';
import { startWithIfSilent } from '../src/operators/startWithIfSilent.js';

const testScheduler = () => new TestScheduler((a, b) => expect(a).toEqual(b));

describe('startWithIfSilent', () => {
  it('emits nothing extra for a source that replays at once, and the value first for one that is silent', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      // A replay is synchronous (a ReplaySubject's latest value); a cold marble's frame 0 is not.
      const later = cold('-b-|');
      const replaying = concat(of('a'), later);
      const silent = cold('---a-b-|');
      expectObservable(replaying.pipe(startWithIfSilent('w'))).toBe('ab-|');
      expectObservable(silent.pipe(startWithIfSilent('w'))).toBe('w--a-b-|');
      expectSubscriptions(later.subscriptions).toBe('^--!');
      expectSubscriptions(silent.subscriptions).toBe('^------!');
    });
  });

  it('keeps the order of a synchronous replay followed by more', () => {
    const values: unknown[] = [];
    concat(of(1, 2), of(3)).pipe(startWithIfSilent(0)).subscribe((v) => values.push(v));
    expect(values).toEqual([1, 2, 3]);
  });

  it('passes errors on and tears the source down on unsubscribe', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      expectObservable(cold('--#').pipe(startWithIfSilent('w'))).toBe('w-#');
      const source = hot('----a--');
      expectObservable(source.pipe(startWithIfSilent('w')), '^--!').toBe('w---');
      expectSubscriptions(source.subscriptions).toBe('^--!');
    });
  });
});
