import { describe, expect, it } from 'vitest';
import { TestScheduler } from 'rxjs/testing';
import { idlePartialFrame } from '../src/operators/idlePartialFrame.js';

const testScheduler = () => new TestScheduler((a, b) => expect(a).toEqual(b));
const N = { 0: 0, 3: 3, 5: 5, 7: 7 };

describe('idlePartialFrame', () => {
  it('emits the bytes held once a partial frame sat idle for the timeout; progress and whole frames reset it', () => {
    const scheduler = testScheduler();
    scheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const pending = hot<number>('-5--7--0--3--------', N);
      const subs =                '^------------------';
      const expected =            '--------------3----';
      expectObservable(pending.pipe(idlePartialFrame(4, scheduler))).toBe(expected, N);
      expectSubscriptions(pending.subscriptions).toBe(subs);
    });
  });

  it('never fires while each chunk comes within the timeout, however long the frame takes', () => {
    const scheduler = testScheduler();
    scheduler.run(({ hot, expectObservable }) => {
      const pending = hot<number>('-3--5--7--3--0-------', N);
      expectObservable(pending.pipe(idlePartialFrame(4, scheduler))).toBe('---------------------');
    });
  });

  it('is off with a timeout of 0, passes errors and completion, and unsubscribing drops the timer', () => {
    const scheduler = testScheduler();
    scheduler.run(({ hot, cold, expectObservable }) => {
      expectObservable(hot<number>('-5------', N).pipe(idlePartialFrame(0, scheduler))).toBe('--------');
      expectObservable(cold<number>('-5-#', N).pipe(idlePartialFrame(4, scheduler))).toBe('---#');
      expectObservable(cold<number>('-5-|', N).pipe(idlePartialFrame(4, scheduler))).toBe('---|');
      expectObservable(hot<number>('-5------', N).pipe(idlePartialFrame(4, scheduler)), '^--!').toBe('--------');
    });
  });
});
