import { describe, expect, it } from 'vitest';
import { TestScheduler } from 'rxjs/testing';
import { map, type Observable } from 'rxjs';
import { answerQuery, budgetFor, type QueryConfigCall } from '../src/streams/answerQuery.js';
import { createCoalescer } from '../src/streams/coalescer.js';
import type { Route, RouteRegistry, RouteState } from '../src/streams/routeTypes.js';
import type { ClusterOutcome, MetaAnswer } from '../src/streams/upstreamTypes.js';
import type { QueryFinished } from '../src/streams/proxyTypes.js';
import { readReply } from '../test/support/pegasusClient.js';

const route = (cluster: string, metas = [`${cluster}-m1:1`]): Route => ({ kind: 'route', table: 't', cluster, metas, version: 1 });
const A = route('A');
const B = route('B');
const missing: RouteState = { kind: 'missing', table: 't' };
const invalid: RouteState = { kind: 'invalid', table: 't', reason: 'bad json' };
const unavailable: RouteState = { kind: 'unavailable', table: 't', reason: 'zk down' };

/** A fake meta answer whose frame is `<seqid:4><cluster letter>`, so outputs read as `A#7`. */
function answer(cluster: string): ClusterOutcome {
  const frame = Buffer.concat([Buffer.alloc(4), Buffer.from(cluster)]);
  const meta: MetaAnswer = {
    meta: `${cluster}-m1:1`,
    frame,
    reply: { headerError: 'ERR_OK', name: 'RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX_ACK', seqid: 99, seqidOffset: 0 },
  };
  return { kind: 'answer', answer: meta };
}

/** Reads a reply frame back as `A#7` (relayed answer) or `ERR_X#7` (error reply). */
function describeReply(frame: Buffer): string {
  if (frame.length === 5) return `${frame.toString('latin1', 4)}#${frame.readInt32BE(0)}`;
  const reply = readReply(frame);
  return `${reply.err}#${reply.seqid}`;
}

const query: QueryConfigCall = {
  table: 't',
  partitionIndices: [],
  seqid: 7,
  name: 'RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX',
  args: Buffer.from([0]),
  clientTimeoutMs: 0,
  peer: 'test',
};

function setup(
  scheduler: TestScheduler,
  route$: Observable<RouteState>,
  calls: Record<string, Observable<ClusterOutcome>>,
  finished: QueryFinished[] = [],
) {
  const registry: RouteRegistry = {
    route: () => route$,
    tables: () => [],
    ready$: route$.pipe(map(() => true)),
    dispose: () => undefined,
  };
  const coalescer = createCoalescer({
    callCluster: (cluster) => calls[cluster.name]!,
    dropHostPortFields: () => false,
    scheduler,
  });
  return {
    registry,
    coalescer,
    scheduler,
    defaultTimeoutMs: 1000,
    maxTimeoutMs: 60_000,
    hooks: { queryFinished: (event: QueryFinished) => finished.push(event) },
  };
}

describe('answerQuery', () => {
  it('relays the routed cluster\'s answer under the client\'s seqid', () => {
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b));
    scheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const route$ = hot('  a------', { a: A });
      const callA = cold('  --x|', { x: answer('A') });
      //                    --x|
      const finished: QueryFinished[] = [];
      const deps = setup(scheduler, route$, { A: callA }, finished);
      expectObservable(answerQuery(deps, query).pipe(map(describeReply))).toBe('--(r|)', { r: 'A#7' });
      expectSubscriptions(callA.subscriptions).toBe('^-!');
      scheduler.flush();
      expect(finished).toEqual([{ table: 't', cluster: 'A', code: 'ERR_OK', latencyMs: 2, peer: 'test' }]);
    });
  });

  it('reroutes an in-flight call when the route changes: the old call is cancelled, the new cluster answers', () => {
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b));
    scheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const route$ = hot('  a--b------', { a: A, b: B });
      const callA = cold('  -----x|', { x: answer('A') });
      //                       ----y|
      const callB = cold('     ----y|', { y: answer('B') });
      const deps = setup(scheduler, route$, { A: callA, B: callB });
      expectObservable(answerQuery(deps, query).pipe(map(describeReply))).toBe('-------(r|)', { r: 'B#7' });
      expectSubscriptions(callA.subscriptions).toBe('^--!');
      expectSubscriptions(callB.subscriptions).toBe('---^---!');
    });
  });

  it('answers ERR_OBJECT_NOT_FOUND when the route is deleted while the call is in flight', () => {
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b));
    scheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const route$ = hot('  a--m---', { a: A, m: missing });
      const callA = cold('  -----x|', { x: answer('A') });
      const deps = setup(scheduler, route$, { A: callA });
      expectObservable(answerQuery(deps, query).pipe(map(describeReply))).toBe('---(r|)', { r: 'ERR_OBJECT_NOT_FOUND#7' });
      expectSubscriptions(callA.subscriptions).toBe('^--!');
    });
  });

  it('maps route states without a cluster to the body errors of the design', () => {
    const cases: Array<[RouteState, string]> = [
      [missing, 'ERR_OBJECT_NOT_FOUND#7'],
      [invalid, 'ERR_INVALID_DATA#7'],
      [unavailable, 'ERR_ZOOKEEPER_OPERATION#7'],
    ];
    for (const [state, expected] of cases) {
      const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b));
      scheduler.run(({ hot, expectObservable }) => {
        const route$ = hot('-s-', { s: state });
        const deps = setup(scheduler, route$, {});
        expectObservable(answerQuery(deps, query).pipe(map(describeReply))).toBe('-(r|)', { r: expected });
      });
    }
  });

  it('answers ERR_ZOOKEEPER_OPERATION at the client\'s deadline while no route state has come', () => {
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b));
    scheduler.run(({ hot, expectObservable }) => {
      // ZooKeeper has said nothing about the table yet (slow, or unreachable with a long session timeout).
      const route$ = hot<RouteState>('-');
      const deps = setup(scheduler, route$, {});
      expectObservable(answerQuery(deps, query).pipe(map(describeReply))).toBe('950ms (r|)', { r: 'ERR_ZOOKEEPER_OPERATION#7' });
    });
  });

  it('a route that comes within the budget is not cut short by that deadline', () => {
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b));
    scheduler.run(({ hot, cold, expectObservable }) => {
      const route$ = hot('  500ms a', { a: A });
      const callA = cold('         700ms x|', { x: answer('A') });
      const deps = setup(scheduler, route$, { A: callA });
      expectObservable(answerQuery(deps, query).pipe(map(describeReply))).toBe('1200ms (r|)', { r: 'A#7' });
    });
  });

  it('turns a failed cluster call into its error, and a header error into a body error', () => {
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b));
    scheduler.run(({ hot, cold, expectObservable }) => {
      const route$ = hot('a-', { a: A });
      const failed: ClusterOutcome = { kind: 'failed', error: 'ERR_TIMEOUT', reason: 'deadline' };
      const deps = setup(scheduler, route$, { A: cold('---x|', { x: failed }) });
      expectObservable(answerQuery(deps, query).pipe(map(describeReply))).toBe('---(r|)', { r: 'ERR_TIMEOUT#7' });
    });
    const scheduler2 = new TestScheduler((a, b) => expect(a).toEqual(b));
    scheduler2.run(({ hot, cold, expectObservable }) => {
      const route$ = hot('a-', { a: A });
      const busy = answer('A');
      if (busy.kind === 'answer') busy.answer.reply.headerError = 'ERR_BUSY';
      const deps = setup(scheduler2, route$, { A: cold('-x|', { x: busy }) });
      expectObservable(answerQuery(deps, query).pipe(map(describeReply))).toBe('-(r|)', { r: 'ERR_BUSY#7' });
    });
  });

  it('does not reroute when the route only changes version or is re-emitted with the same target', () => {
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b));
    scheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const route$ = hot('  a-b----', { a: A, b: { ...A, version: 2 } });
      const callA = cold('  ----x|', { x: answer('A') });
      const deps = setup(scheduler, route$, { A: callA });
      expectObservable(answerQuery(deps, query).pipe(map(describeReply))).toBe('----(r|)', { r: 'A#7' });
      expectSubscriptions(callA.subscriptions).toBe('^---!');
    });
  });

  it('early unsubscribe (client gone) tears the upstream call down', () => {
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b));
    scheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const route$ = hot('  a-------', { a: A });
      const callA = cold('  ------x|', { x: answer('A') });
      const deps = setup(scheduler, route$, { A: callA });
      expectObservable(answerQuery(deps, query).pipe(map(describeReply)), '^--!').toBe('---');
      expectSubscriptions(callA.subscriptions).toBe('^--!');
    });
  });
});

describe('coalescing', () => {
  it('identical concurrent queries share one upstream call; each gets its own seqid', () => {
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b));
    scheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const route$ = hot('  a-------', { a: A });
      const callA = cold('  ----x|', { x: answer('A') });
      const deps = setup(scheduler, route$, { A: callA });
      expectObservable(answerQuery(deps, query).pipe(map(describeReply))).toBe('----(r|)', { r: 'A#7' });
      expectObservable(answerQuery(deps, { ...query, seqid: 8 }).pipe(map(describeReply))).toBe('----(r|)', { r: 'A#8' });
      expectSubscriptions(callA.subscriptions).toBe('^---!');
    });
  });

  it('the shared call survives one caller leaving and is cancelled when the last one leaves', () => {
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b));
    scheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const route$ = hot('  a-------', { a: A });
      const callA = cold('  ------x|', { x: answer('A') });
      const deps = setup(scheduler, route$, { A: callA });
      expectObservable(answerQuery(deps, query).pipe(map(describeReply)), '^-!').toBe('---');
      expectObservable(answerQuery(deps, { ...query, seqid: 8 }).pipe(map(describeReply)), '^---!').toBe('-----');
      expectSubscriptions(callA.subscriptions).toBe('^---!');
    });
  });

  it('different partition indices do not share a call', () => {
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b));
    scheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const route$ = hot('  a-------', { a: A });
      const callA = cold('  --x|', { x: answer('A') });
      const deps = setup(scheduler, route$, { A: callA });
      expectObservable(answerQuery(deps, query).pipe(map(describeReply))).toBe('--(r|)', { r: 'A#7' });
      expectObservable(answerQuery(deps, { ...query, seqid: 8, partitionIndices: [1] }).pipe(map(describeReply))).toBe('--(r|)', { r: 'A#8' });
      expectSubscriptions(callA.subscriptions).toBe(['^-!', '^-!']);
    });
  });

  it('a caller with a shorter deadline than the call it joined gets ERR_TIMEOUT at its own deadline', () => {
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b));
    scheduler.run(({ hot, cold, expectObservable }) => {
      const route$ = hot('  a-------', { a: A });
      const callA = cold('  ------x|', { x: answer('A') });
      const deps = setup(scheduler, route$, { A: callA });
      expectObservable(answerQuery(deps, { ...query, clientTimeoutMs: 100 }).pipe(map(describeReply))).toBe('------(r|)', { r: 'A#7' });
      expectObservable(answerQuery(deps, { ...query, seqid: 8, clientTimeoutMs: 3 }).pipe(map(describeReply))).toBe('---(r|)', { r: 'ERR_TIMEOUT#8' });
    });
  });
});

describe('coalescing with different budgets', () => {
  it('a caller with more budget than the call it joined re-issues it when that call times out', () => {
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b));
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const timedOut: ClusterOutcome = { kind: 'failed', error: 'ERR_TIMEOUT', reason: 'deadline' };
      const first = cold<ClusterOutcome>('---t|', { t: timedOut });
      const second = cold<ClusterOutcome>('   --a|', { a: answer('A') });
      const calls = [first, second];
      const coalescer = createCoalescer({ callCluster: () => calls.shift()!, dropHostPortFields: () => false, scheduler });
      const describeOutcome = (o: ClusterOutcome) => (o.kind === 'answer' ? 'answer' : o.error);
      expectObservable(coalescer.call(A, 'k', { name: 'q', args: Buffer.alloc(0), timeoutMs: 3 }, 3).pipe(map(describeOutcome))).toBe(
        '---(t|)',
        { t: 'ERR_TIMEOUT' },
      );
      expectObservable(coalescer.call(A, 'k', { name: 'q', args: Buffer.alloc(0), timeoutMs: 50 }, 50).pipe(map(describeOutcome))).toBe(
        '-----(a|)',
        { a: 'answer' },
      );
      expectSubscriptions(first.subscriptions).toBe('^--!');
      expectSubscriptions(second.subscriptions).toBe('---^-!');
    });
  });
});

describe('budgetFor', () => {
  it('uses the client timeout only when set and sane', () => {
    expect(budgetFor(2000, 5000, 60_000)).toBe(2000);
    expect(budgetFor(0, 5000, 60_000)).toBe(5000);
    expect(budgetFor(-5, 5000, 60_000)).toBe(5000);
    expect(budgetFor(2_000_000_000, 5000, 60_000)).toBe(5000);
  });
});
