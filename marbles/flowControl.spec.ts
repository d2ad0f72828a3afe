import { describe, expect, it } from 'vitest';
import { TestScheduler } from 'rxjs/testing';
import { Observable } from 'rxjs';
import { flowControl, type FlowEvent } from '../src/operators/flowControl.js';

const testScheduler = () => new TestScheduler((a, b) => expect(a).toEqual(b));
const EVENTS: Record<string, FlowEvent> = { 0: 0, 1: 1, 2: 2, 3: 3, 4: 4, b: 'blocked', d: 'drained', x: 'draining' };

/** The decisions `apply` returns as a connection makes its calls, at the frame of each call (nothing when unchanged). */
const decisions = (events: Observable<FlowEvent>, limit: number) =>
  new Observable<boolean>((subscriber) => {
    const flow = flowControl(limit);
    return events.subscribe((event) => {
      const pause = flow.apply(event);
      if (pause !== undefined) subscriber.next(pause);
    });
  });

describe('flowControl', () => {
  it('pauses at the limit, while blocked, and for good once draining; reports changes only', () => {
    const scheduler = testScheduler();
    scheduler.run(({ hot, expectObservable }) => {
      const events = hot<FlowEvent>('-1-2-3-2-b--d-1-x-', EVENTS);
      const expected = '             -----t-f-t--f---t-';
      expectObservable(decisions(events, 3)).toBe(expected, { t: true, f: false });
    });
  });

  it('stays paused while blocked even when the in-flight count falls, and while over the limit when drained', () => {
    const scheduler = testScheduler();
    scheduler.run(({ hot, expectObservable }) => {
      const events = hot<FlowEvent>('-b-0-4-d-2-', EVENTS);
      expectObservable(decisions(events, 3)).toBe('-t-------f-', { t: true, f: false });
    });
  });

  it('draining pauses for good: neither drained nor a falling count resumes', () => {
    const scheduler = testScheduler();
    scheduler.run(({ hot, expectObservable }) => {
      const events = hot<FlowEvent>('-x-0-d-b-d-0-', EVENTS);
      expectObservable(decisions(events, 3)).toBe('-t-----------', { t: true });
    });
  });

  it('starts from reading: counts below the limit and a drained without a block decide nothing', () => {
    const flow = flowControl(2);
    expect([flow.apply(0), flow.apply(1), flow.apply('drained'), flow.apply(1)]).toEqual([undefined, undefined, undefined, undefined]);
    expect([flow.apply(2), flow.apply(3), flow.apply(1)]).toEqual([true, undefined, false]);
  });
});
