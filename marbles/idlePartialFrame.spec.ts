import { describe, expect, it } from 'vitest';
import { TestScheduler } from 'rxjs/testing';
import { Observable, type SchedulerLike } from 'rxjs';
import { idlePartialFrame } from '../src/operators/idlePartialFrame.js';

const testScheduler = () => new TestScheduler((a, b) => expect(a).toEqual(b));
const N = { 0: 0, 3: 3, 5: 5, 7: 7 };

/**
 * What the watch calls `onIdle` with, at the frame it calls, as a connection
 * reports each chunk's held bytes; unsubscribing stops the watch as a closed
 * connection does.
 */
const idle = (pending: Observable<number>, timeoutMs: number, scheduler: SchedulerLike) =>
  new Observable<number>((subscriber) => {
    const watch = idlePartialFrame(timeoutMs, scheduler, (bytes) => subscriber.next(bytes));
    const subscription = pending.subscribe((bytes) => watch.report(bytes));
    return () => {
      subscription.unsubscribe();
      watch.stop();
    };
  });

describe('idlePartialFrame', () => {
  it('calls onIdle with the bytes held once a partial frame sat idle for the timeout; progress and whole frames reset it', () => {
    const scheduler = testScheduler();
    scheduler.run(({ hot, expectObservable }) => {
      const pending = hot<number>('-5--7--0--3--------', N);
      const expected =            '--------------3----';
      expectObservable(idle(pending, 4, scheduler)).toBe(expected, N);
    });
  });

  it('never fires while each chunk comes within the timeout, however long the frame takes', () => {
    const scheduler = testScheduler();
    scheduler.run(({ hot, expectObservable }) => {
      const pending = hot<number>('-3--5--7--3--0-------', N);
      expectObservable(idle(pending, 4, scheduler)).toBe('---------------------');
    });
  });

  it('sleeps on past progress: the one timer fires at the first check, then at timeout after the last chunk', () => {
    const scheduler = testScheduler();
    scheduler.run(({ hot, expectObservable }) => {
      // Armed at 1 (check at 5: progress at 3, sleep to 7); idle from 3 → fires at 7.
      const pending = hot<number>('-5-7---------', N);
      expectObservable(idle(pending, 4, scheduler)).toBe('-------7-----', N);
    });
  });

  it('fires again for a later idle spell', () => {
    const scheduler = testScheduler();
    scheduler.run(({ hot, expectObservable }) => {
      const pending = hot<number>('-5-------3-------', N);
      expectObservable(idle(pending, 4, scheduler)).toBe('-----5-------3---', N);
    });
  });

  it('is off with a timeout of 0', () => {
    const scheduler = testScheduler();
    scheduler.run(({ hot, expectObservable }) => {
      expectObservable(idle(hot<number>('-5------', N), 0, scheduler)).toBe('--------');
    });
  });

  it('stop() drops the timer: a closed connection is not called idle', () => {
    const scheduler = testScheduler();
    scheduler.run(({ flush }) => {
      const fired: string[] = [];
      const stopped = idlePartialFrame(4, scheduler, (bytes) => fired.push(`stopped ${bytes}`));
      const kept = idlePartialFrame(4, scheduler, (bytes) => fired.push(`kept ${bytes} at ${scheduler.now()}`));
      scheduler.schedule(() => (stopped.report(5), kept.report(5)), 1);
      scheduler.schedule(() => stopped.stop(), 3);
      flush();
      expect(fired).toEqual(['kept 5 at 5']);
    });
  });
});
