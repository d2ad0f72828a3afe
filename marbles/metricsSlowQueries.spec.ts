import { describe, expect, it } from 'vitest';
import { TestScheduler } from 'rxjs/testing';
import * as rx from 'rxjs';
import type { QueryFinished } from '../src/model/proxyTypes.js';
import type { MetricLabels, MetricRegistryFacade } from '../src/model/metricsTypes.js';
// @ts-expect-error the shipped example is plain JavaScript, without type declarations
import createSlowQueries from '../examples/metrics/slow-queries.mjs';

/** A registry that records every call, so the marble test can check side effects too. */
function recordingRegistry() {
  const calls: string[] = [];
  const registry: MetricRegistryFacade = {
    counter: (name) => ({ inc: (labels?: MetricLabels) => void calls.push(`${name}+${labels?.table ?? ''}`) }),
    meter: (name) => ({ inc: (labels?: MetricLabels) => void calls.push(`${name}+${labels?.table ?? ''}`) }),
    gauge: (name) => ({
      set: (value: number) => void calls.push(`${name}=${value}`),
      inc() {},
      dec() {},
    }),
  };
  return { registry, calls };
}

const q = (latencyMs: number, routed = true): QueryFinished => ({
  table: 't',
  ...(routed ? { cluster: 'c1' } : {}),
  code: 'ERR_OK',
  latencyMs,
  peer: 'p',
});

describe('examples/metrics/slow-queries.mjs', () => {
  it('passes on (and counts) only routed queries slower than 100 ms', () => {
    new TestScheduler((actual, expected) => expect(actual).toEqual(expected)).run(({ hot, expectObservable, expectSubscriptions }) => {
      const { registry } = recordingRegistry();
      const operator = (createSlowQueries as (r: MetricRegistryFacade, x: typeof rx) => rx.OperatorFunction<QueryFinished, QueryFinished>)(
        registry,
        rx,
      );
      const values = { a: q(50), b: q(150), c: q(101, false), d: q(100), e: q(300) };
      const source = hot('  -a-b-c-d-e-|', values);
      const sourceSubs = '  ^----------!';
      const expected = '    ---b-----e-|';
      expectObservable(source.pipe(operator)).toBe(expected, values);
      expectSubscriptions(source.subscriptions).toBe(sourceSubs);
    });
  });

  it('records the last latency for every query and a slow count per slow routed query', () => {
    const { registry, calls } = recordingRegistry();
    const operator = (createSlowQueries as (r: MetricRegistryFacade, x: typeof rx) => rx.OperatorFunction<QueryFinished, unknown>)(registry, rx);
    rx.from([q(50), q(150), q(101, false), q(300)]).pipe(operator).subscribe();
    expect(calls).toEqual([
      'last_query_latency_ms=50',
      'last_query_latency_ms=150',
      'slow_query_count+t',
      'last_query_latency_ms=101',
      'last_query_latency_ms=300',
      'slow_query_count+t',
    ]);
  });

  it('tears the source down on early unsubscribe', () => {
    new TestScheduler((actual, expected) => expect(actual).toEqual(expected)).run(({ hot, expectObservable, expectSubscriptions }) => {
      const { registry } = recordingRegistry();
      const operator = (createSlowQueries as (r: MetricRegistryFacade, x: typeof rx) => rx.OperatorFunction<QueryFinished, QueryFinished>)(
        registry,
        rx,
      );
      const values = { a: q(150), b: q(200) };
      const source = hot('  -a---b-|', values);
      const unsub = '       ---!';
      const sourceSubs = '  ^--!';
      expectObservable(source.pipe(operator), unsub).toBe('-a-', values);
      expectSubscriptions(source.subscriptions).toBe(sourceSubs);
    });
  });
});
