import { describe, expect, it } from 'vitest';
import { TestScheduler } from 'rxjs/testing';
import { flowControl, type FlowEvent } from '../src/operators/flowControl.js';

const testScheduler = () => new TestScheduler((a, b) => expect(a).toEqual(b));
const EVENTS: Record<string, FlowEvent> = { 0: 0, 1: 1, 2: 2, 3: 3, 4: 4, b: 'blocked', d: 'drained', x: 'draining' };

describe('flowControl', () => {
  it('pauses at the limit, while blocked, and for good once draining; emits changes only', () => {
    const scheduler = testScheduler();
    scheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const events = hot<FlowEvent>('-1-2-3-2-b--d-1-x-', EVENTS);
      const subs = '                 ^-----------------';
      const expected = '             -----t-f-t--f---t-';
      expectObservable(events.pipe(flowControl(3))).toBe(expected, { t: true, f: false });
      expectSubscriptions(events.subscriptions).toBe(subs);
    });
  });

  it('stays paused while blocked even when the in-flight count falls, and while over the limit when drained', () => {
    const scheduler = testScheduler();
    scheduler.run(({ hot, expectObservable }) => {
      const events = hot<FlowEvent>('-b-0-4-d-2-', EVENTS);
      expectObservable(events.pipe(flowControl(3))).toBe('-t-------f-', { t: true, f: false });
    });
  });

  it('passes errors and completion on; unsubscribing stops listening', () => {
    const scheduler = testScheduler();
    scheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      expectObservable(cold<FlowEvent>('-3-#', EVENTS).pipe(flowControl(3))).toBe('-t-#', { t: true });
      expectObservable(cold<FlowEvent>('-3-|', EVENTS).pipe(flowControl(3))).toBe('-t-|', { t: true });
      const events = hot<FlowEvent>('-3--0-', EVENTS);
      expectObservable(events.pipe(flowControl(3)), '^--!').toBe('-t--', { t: true });
      expectSubscriptions(events.subscriptions).toBe('^--!');
    });
  });
});
