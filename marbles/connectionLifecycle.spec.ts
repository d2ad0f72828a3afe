import { describe, expect, it } from 'vitest';
import { TestScheduler } from 'rxjs/testing';
import { switchMap } from 'rxjs';
import { ConnectionLifecycle } from '../src/streams/connectionLifecycle.js';
import type { Query } from '../src/model/query.js';

const testScheduler = () => new TestScheduler((a, b) => expect(a).toEqual(b));
const query = (withdrawn: string[], name: string) => ({ holder: { withdraw: () => withdrawn.push(name) } }) as unknown as Query;

describe('ConnectionLifecycle', () => {
  it('drain() emits once nothing is in flight; finish() ends it once and done$ tells, also late subscribers', () => {
    const scheduler = testScheduler();
    scheduler.run(({ hot, expectObservable, flush }) => {
      const life = new ConnectionLifecycle();
      const q = query([], 'q');
      life.sent(q);
      const steps: string[] = [];
      const owner = { tearDown: () => steps.push(`tearDown@${scheduler.now()}`), closed: () => steps.push(`closed@${scheduler.now()}`) };
      expectObservable(hot('--d').pipe(switchMap(() => life.drain()))).toBe('----d', { d: undefined });
      scheduler.schedule(() => (life.answered(q), life.pendingChanged(0)), 4);
      expectObservable(life.done$).toBe('------(d|)', { d: undefined });
      scheduler.schedule(() => steps.push(String(life.finish(owner)), String(life.finish(owner))), 6);
      expectObservable(hot('--------x').pipe(switchMap(() => life.done$))).toBe('--------d', { d: undefined });
      flush();
      expect(steps).toEqual(['tearDown@6', 'closed@6', 'true', 'false']);
      expect(life.inFlight()).toBe(0);
    });
  });

  it('finish() withdraws the queries still in flight, between tearDown and closed, and ends a waiting drain', () => {
    const scheduler = testScheduler();
    scheduler.run(({ hot, expectObservable, flush }) => {
      const life = new ConnectionLifecycle();
      const steps: string[] = [];
      life.sent(query(steps, 'withdraw a'));
      life.sent(query(steps, 'withdraw b'));
      expectObservable(hot('-d').pipe(switchMap(() => life.drain()))).toBe('-----d', { d: undefined });
      // A count that is not 0 ends no drain.
      scheduler.schedule(() => life.pendingChanged(1), 3);
      scheduler.schedule(() => life.finish({ tearDown: () => steps.push('tearDown'), closed: () => steps.push('closed') }), 5);
      flush();
      expect(steps).toEqual(['tearDown', 'withdraw a', 'withdraw b', 'closed']);
    });
  });

  it('drain() when nothing is in flight, or once over, emits at once', () => {
    const scheduler = testScheduler();
    scheduler.run(({ hot, expectObservable }) => {
      const idle = new ConnectionLifecycle();
      expectObservable(hot('-d').pipe(switchMap(() => idle.drain()))).toBe('-d', { d: undefined });
      const over = new ConnectionLifecycle();
      over.sent(query([], 'q'));
      over.finish({ tearDown: () => undefined, closed: () => undefined });
      expectObservable(hot('-d').pipe(switchMap(() => over.drain()))).toBe('-d', { d: undefined });
    });
  });
});
