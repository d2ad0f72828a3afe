import { Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { UpstreamError } from '../src/errors.js';
import { LeaderFollowingCall, type LeaderFollowingCallDeps } from '../src/model/leaderFollowingCall.js';
import { askCluster } from '../src/streams/askCluster.js';
import { createLeaderBook } from '../src/model/leaderBook.js';
import { createSweep } from '../src/model/sweep.js';
import type { ClusterOutcome, MetaAnswer, MetaRequest } from '../src/model/upstream.js';
import { dispatcherFrom } from './support/dispatcher.js';

const NAME = 'RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX';
const REQUEST: MetaRequest = { name: NAME, args: Buffer.from([0]), timeoutMs: 0 };
const CLUSTER = { name: 'c1', metas: ['a', 'b', 'c'] };

function answer(meta: string, bodyError: string, forward?: string, headerError = 'ERR_OK'): MetaAnswer {
  const reply = { headerError, name: `${NAME}_ACK`, seqid: 1, seqidOffset: 20, bodyError, ...(forward ? { forward } : {}) };
  return { meta, reply, frame: Buffer.from(`${meta}:${bodyError}`) };
}

const refused = (meta: string) => new UpstreamError(meta, 'connect', `connect ECONNREFUSED ${meta}`);

/**
 * A caller whose answers are cold observables per meta; a meta given a list
 * answers its n-th call with the n-th entry (the last one repeats).
 */
function fakeCaller(calls: Record<string, Observable<unknown> | Observable<unknown>[]>) {
  const asked: { meta: string; timeoutMs: number }[] = [];
  const count = new Map<string, number>();
  const caller = (meta: string, request: MetaRequest): Observable<MetaAnswer> => {
    asked.push({ meta, timeoutMs: request.timeoutMs });
    const entry = calls[meta];
    if (entry === undefined) throw new Error(`test asked unexpected meta ${meta}`);
    if (!Array.isArray(entry)) return entry as Observable<MetaAnswer>;
    const n = count.get(meta) ?? 0;
    count.set(meta, n + 1);
    return entry[Math.min(n, entry.length - 1)] as Observable<MetaAnswer>;
  };
  return { caller, asked };
}

type Caller = (meta: string, request: MetaRequest) => Observable<MetaAnswer>;

function setup(overrides: Partial<LeaderFollowingCallDeps> = {}) {
  const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
  const leaders = createLeaderBook();
  const sweep = createSweep(scheduler);
  const recorded: string[] = [];
  const deps = (caller: Caller): LeaderFollowingCallDeps => ({
    dispatcher: dispatcherFrom(caller).dispatcher,
    leaders,
    sweep,
    backupDelayMs: 3,
    retryDelayMs: 3,
    scheduler,
    recordCall: (meta, result) => void recorded.push(`${meta} ${result}`),
    ...overrides,
  });
  return { scheduler, leaders, deps, sweep, recorded };
}

const won = (a: MetaAnswer): ClusterOutcome => ({ kind: 'answer', answer: a });

describe('askCluster', () => {
  it('asks a backup after the delay; the first final answer wins and the rest are unsubscribed', () => {
    const { scheduler, leaders, deps } = setup();
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const f = answer('a', 'ERR_FORWARD_TO_OTHERS', 'c');
      const o = answer('b', 'ERR_OK');
      const a = cold('-f', { f });
      const c = cold('----');
      //                 b asked at frame 3 (backup)
      const b = cold('-o', { o });
      const { caller } = fakeCaller({ a, b, c });
      const result = askCluster(deps(caller), CLUSTER, REQUEST, 10);

      expectObservable(result).toBe('----(A|)', { A: won(o) });
      expectSubscriptions(a.subscriptions).toBe('^!');
      expectSubscriptions(c.subscriptions).toBe('-^--!');
      expectSubscriptions(b.subscriptions).toBe('---^!');
    });
    expect(leaders.get(CLUSTER)).toBe('b');
  });

  it('follows a chain of forwards, learning an address the route did not list', () => {
    const { scheduler, leaders, deps } = setup({ backupDelayMs: 100 });
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const a = cold('-f|', { f: answer('a', 'ERR_FORWARD_TO_OTHERS', 'b') });
      const b = cold(' -g|', { g: answer('b', 'ERR_FORWARD_TO_OTHERS', 'd') });
      const o = answer('d', 'ERR_OK');
      const d = cold('  -o|', { o });
      const c = cold('-|');
      const { caller, asked } = fakeCaller({ a, b, c, d });

      expectObservable(askCluster(deps(caller), CLUSTER, REQUEST, 200)).toBe('---(A|)', { A: won(o) });
      expectSubscriptions(a.subscriptions).toBe('^!');
      expectSubscriptions(b.subscriptions).toBe('-^!');
      expectSubscriptions(d.subscriptions).toBe('--^!');
      expectSubscriptions(c.subscriptions).toBe([]);
      scheduler.flush();
      expect(asked.map((x) => x.meta)).toEqual(['a', 'b', 'd']);
    });
    expect(leaders.get(CLUSTER)).toBe('d');
  });

  it('moves to the next meta on a forward that names no one', () => {
    const { scheduler, deps } = setup({ backupDelayMs: 100 });
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const a = cold('--f|', { f: answer('a', 'ERR_FORWARD_TO_OTHERS') });
      const o = answer('b', 'ERR_OK');
      const b = cold('  -o|', { o });
      const c = cold('-|');
      const { caller } = fakeCaller({ a, b, c });

      expectObservable(askCluster(deps(caller), CLUSTER, REQUEST, 200)).toBe('---(A|)', { A: won(o) });
      expectSubscriptions(a.subscriptions).toBe('^-!');
      expectSubscriptions(b.subscriptions).toBe('--^!');
      expectSubscriptions(c.subscriptions).toBe([]);
    });
  });

  it('starts at the known leader', () => {
    const { scheduler, leaders, deps } = setup({ backupDelayMs: 100 });
    leaders.set(CLUSTER, 'c');
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const o = answer('c', 'ERR_OBJECT_NOT_FOUND');
      const a = cold('-|');
      const b = cold('-|');
      const c = cold('-o|', { o });
      const { caller } = fakeCaller({ a, b, c });

      // OBJECT_NOT_FOUND is final, like every answer that is not a forward or "not ready".
      expectObservable(askCluster(deps(caller), CLUSTER, REQUEST, 200)).toBe('-(A|)', { A: won(o) });
      expectSubscriptions(c.subscriptions).toBe('^!');
      expectSubscriptions(a.subscriptions).toBe([]);
      expectSubscriptions(b.subscriptions).toBe([]);
    });
  });

  it('ignores a leader remembered for a same-named cluster with other metas', () => {
    const { scheduler, leaders, deps } = setup({ backupDelayMs: 100 });
    leaders.set({ name: 'c1', metas: ['old'] }, 'old');
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const o = answer('a', 'ERR_OK');
      const old = cold('-x|', { x: answer('old', 'ERR_OK') });
      const a = cold('-o|', { o });
      const { caller } = fakeCaller({ a, old });

      expectObservable(askCluster(deps(caller), { name: 'c1', metas: ['a'] }, REQUEST, 200)).toBe('-(A|)', { A: won(o) });
      expectSubscriptions(old.subscriptions).toBe([]);
      expectSubscriptions(a.subscriptions).toBe('^!');
    });
    expect(leaders.get({ name: 'c1', metas: ['a'] })).toBe('a');
    expect(leaders.get({ name: 'c1', metas: ['old'] })).toBe('old');
  });

  it('asks the same meta again after SERVICE_NOT_ACTIVE, with the budget left', () => {
    const { scheduler, deps } = setup({ backupDelayMs: 100, retryDelayMs: 2 });
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const first = cold('-n|', { n: answer('a', 'ERR_SERVICE_NOT_ACTIVE') });
      //                     retry after 2
      const o = answer('a', 'ERR_OK');
      const second = cold('   -o|', { o });
      const { caller, asked } = fakeCaller({ a: [first, second], b: cold('-|'), c: cold('-|') });

      expectObservable(askCluster(deps(caller), CLUSTER, REQUEST, 50)).toBe('----(A|)', { A: won(o) });
      expectSubscriptions(first.subscriptions).toBe('^!');
      expectSubscriptions(second.subscriptions).toBe('---^!');
      scheduler.flush();
      expect(asked).toEqual([
        { meta: 'a', timeoutMs: 50 },
        { meta: 'a', timeoutMs: 47 },
      ]);
    });
  });

  it('retries UNDER_RECOVERY too, and relays a header error as final', () => {
    const { scheduler, deps } = setup({ backupDelayMs: 100, retryDelayMs: 1 });
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const first = cold('-r|', { r: answer('a', 'ERR_UNDER_RECOVERY') });
      const h = answer('a', '', undefined, 'ERR_HANDLER_NOT_FOUND');
      const second = cold('  -h|', { h });
      const { caller } = fakeCaller({ a: [first, second], b: cold('-|'), c: cold('-|') });

      expectObservable(askCluster(deps(caller), CLUSTER, REQUEST, 50)).toBe('---(A|)', { A: won(h) });
      expectSubscriptions(second.subscriptions).toBe('--^!');
    });
  });

  it('fails with ERR_TIMEOUT at the deadline when nobody answers', () => {
    const { scheduler, leaders, deps } = setup();
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const a = cold('-');
      const b = cold('-');
      const c = cold('-');
      const { caller } = fakeCaller({ a, b, c });

      expectObservable(askCluster(deps(caller), CLUSTER, REQUEST, 10)).toBe('----------(T|)', {
        T: { kind: 'failed', error: 'ERR_TIMEOUT', reason: expect.stringContaining('within 10 ms') },
      });
      expectSubscriptions(a.subscriptions).toBe('^---------!');
      expectSubscriptions(b.subscriptions).toBe('---^------!');
      expectSubscriptions(c.subscriptions).toBe('---^------!');
    });
    expect(leaders.get(CLUSTER)).toBeUndefined();
  });

  it('fails with ERR_NETWORK_FAILURE when every meta refuses, retrying each round', () => {
    const { scheduler, deps } = setup();
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const a = cold('#', undefined, refused('a'));
      const b = cold('#', undefined, refused('b'));
      const c = cold('#', undefined, refused('c'));
      const { caller } = fakeCaller({ a, b, c });

      expectObservable(askCluster(deps(caller), CLUSTER, REQUEST, 8)).toBe('--------(N|)', {
        N: { kind: 'failed', error: 'ERR_NETWORK_FAILURE', reason: expect.stringContaining('ECONNREFUSED c') },
      });
      // Rounds at 0, 3 and 6: each meta once per round, never in a tight loop.
      for (const meta of [a, b, c]) expectSubscriptions(meta.subscriptions).toBe(['(^!)', '---(^!)', '------(^!)']);
    });
  });

  it('says ERR_TIMEOUT, not NETWORK_FAILURE, while a reachable meta is still silent', () => {
    const { scheduler, deps } = setup();
    scheduler.run(({ cold, expectObservable }) => {
      const { caller } = fakeCaller({
        a: cold('-'),
        b: cold('#', undefined, refused('b')),
        c: cold('#', undefined, refused('c')),
      });
      expectObservable(askCluster(deps(caller), CLUSTER, REQUEST, 5)).toBe('-----(T|)', {
        T: { kind: 'failed', error: 'ERR_TIMEOUT', reason: expect.any(String) },
      });
    });
  });

  it('moves on at once when a call fails (refused, dropped, caller throws)', () => {
    const { scheduler, deps } = setup({ backupDelayMs: 100 });
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const a = cold('-#', undefined, new UpstreamError('a', 'closed', 'the connection to a closed'));
      const o = answer('c', 'ERR_OK');
      const c = cold(' -o', { o });
      const { caller } = fakeCaller({ a, c });
      // `b` is not in the fake: asking it throws synchronously.
      expectObservable(askCluster(deps(caller), CLUSTER, REQUEST, 50)).toBe('--(A|)', { A: won(o) });
      expectSubscriptions(a.subscriptions).toBe('^!');
      expectSubscriptions(c.subscriptions).toBe('-^!');
    });
  });

  it('does not loop between two metas that forward to each other', () => {
    const { scheduler, deps } = setup({ backupDelayMs: 100 });
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const a = cold('-f|', { f: answer('a', 'ERR_FORWARD_TO_OTHERS', 'b') });
      const b = cold('-f|', { f: answer('b', 'ERR_FORWARD_TO_OTHERS', 'a') });
      const { caller } = fakeCaller({ a, b });

      expectObservable(askCluster(deps(caller), { name: 'c1', metas: ['a', 'b'] }, REQUEST, 9)).toBe('---------(T|)', {
        T: { kind: 'failed', error: 'ERR_TIMEOUT', reason: expect.stringContaining('b forwarded to a') },
      });
      // Round 1 ends at 2 (both asked), round 2 starts at 5.
      expectSubscriptions(a.subscriptions).toBe(['^!', '-----^!']);
      expectSubscriptions(b.subscriptions).toBe(['-^!', '------^!']);
    });
  });

  it('ends a path whose forward names a meta already being asked', () => {
    const { scheduler, deps } = setup();
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const o = answer('a', 'ERR_OK');
      const a = cold('------o', { o });
      const b = cold('   -f|', { f: answer('b', 'ERR_FORWARD_TO_OTHERS', 'a') });
      const c = cold('   --f|', { f: answer('c', 'ERR_FORWARD_TO_OTHERS', 'a') });
      const { caller, asked } = fakeCaller({ a, b, c });

      expectObservable(askCluster(deps(caller), CLUSTER, REQUEST, 20)).toBe('------(A|)', { A: won(o) });
      expectSubscriptions(a.subscriptions).toBe('^-----!');
      expectSubscriptions(b.subscriptions).toBe('---^!');
      expectSubscriptions(c.subscriptions).toBe('---^-!');
      scheduler.flush();
      expect(asked.map((x) => x.meta)).toEqual(['a', 'b', 'c']);
    });
  });

  it('tears every call and timer down on unsubscribe', () => {
    const { scheduler, deps } = setup();
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const a = cold('-');
      const b = cold('-');
      const c = cold('-');
      const { caller, asked } = fakeCaller({ a, b, c });

      expectObservable(askCluster(deps(caller), CLUSTER, REQUEST, 10), '-----!').toBe('-');
      expectSubscriptions(a.subscriptions).toBe('^----!');
      expectSubscriptions(b.subscriptions).toBe('---^-!');
      expectSubscriptions(c.subscriptions).toBe('---^-!');
      scheduler.flush();
      expect(asked).toHaveLength(3);
    });
  });

  it('fails at once with no meta to ask or no budget', () => {
    const { scheduler, deps } = setup();
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const a = cold('-');
      const { caller } = fakeCaller({ a });
      expectObservable(askCluster(deps(caller), { name: 'c1', metas: [] }, REQUEST, 10)).toBe('(N|)', {
        N: { kind: 'failed', error: 'ERR_NETWORK_FAILURE', reason: expect.stringContaining('no meta') },
      });
      expectObservable(askCluster(deps(caller), { name: 'c1', metas: ['a'] }, REQUEST, 0)).toBe('(T|)', {
        T: { kind: 'failed', error: 'ERR_TIMEOUT', reason: expect.any(String) },
      });
      expectSubscriptions(a.subscriptions).toBe([]);
    });
  });

  it('counts each call to a meta by how it ended: the answer\'s error, the failure kind, or cancelled', () => {
    const { scheduler, deps, recorded } = setup();
    scheduler.run(({ cold, expectObservable }) => {
      const o = answer('b', 'ERR_OK');
      const { caller } = fakeCaller({
        a: cold('--#', undefined, new UpstreamError('a', 'timeout', 'a did not answer in time')),
        b: cold('   --o', { o }),
        c: cold('   -'),
      });
      // a fails at 2 → b at once (answers at 4); c is asked by the backup at 3 and cancelled at 4.
      expectObservable(askCluster(deps(caller), CLUSTER, REQUEST, 10)).toBe('----(A|)', { A: won(o) });
    });
    expect(recorded).toEqual(['a timeout', 'b ERR_OK', 'c cancelled']);
  });

  it('falls back to the header error, and says `error` for a failure that is not the upstream\'s', () => {
    const { scheduler, deps, recorded } = setup({ backupDelayMs: 100 });
    scheduler.run(({ cold, expectObservable }) => {
      // A header error comes with no body, so no body error either.
      const h: MetaAnswer = { meta: 'b', frame: Buffer.from('b'), reply: { headerError: 'ERR_HANDLER_NOT_FOUND', name: `${NAME}_ACK`, seqid: 1, seqidOffset: 20 } };
      const { caller } = fakeCaller({ a: cold('-#', undefined, new Error('boom')), b: cold(' -h', { h }) });
      expectObservable(askCluster(deps(caller), CLUSTER, REQUEST, 50)).toBe('--(A|)', { A: won(h) });
    });
    expect(recorded).toEqual(['a error', 'b ERR_HANDLER_NOT_FOUND']);
  });

  it('reports a meta that stayed silent past the backup delay while another answered as outrun; a call cut short as dropped', () => {
    const { scheduler, deps } = setup();
    const cancels: Array<{ meta: string; reason: string }> = [];
    scheduler.run(({ cold, expectObservable }) => {
      const o = answer('b', 'ERR_OK');
      const fake = fakeCaller({ a: cold('-'), b: cold('-o', { o }), c: cold('--') });
      const { dispatcher, cancels: log } = dispatcherFrom(fake.caller);
      // a silent from 0; backup at 3 asks b and c; b answers at 4: a is outrun, c (asked 1 ms ago) just dropped.
      expectObservable(askCluster({ ...deps(fake.caller), dispatcher }, CLUSTER, REQUEST, 10)).toBe('----(A|)', { A: won(o) });
      scheduler.flush();
      cancels.push(...log);
    });
    expect(cancels).toEqual([
      { meta: 'a', reason: 'outrun' },
      { meta: 'c', reason: 'dropped' },
    ]);
  });

  it('gives each waiter its outcome at its own deadline; waiters with time left outlive the call past its first waiter\'s budget', () => {
    const { scheduler, deps } = setup({ backupDelayMs: 100 });
    scheduler.run(({ cold, expectSubscriptions }) => {
      const o = answer('a', 'ERR_OK');
      const a = cold('------o', { o });
      const { caller } = fakeCaller({ a });
      const failed: string[] = [];
      const outlived: string[] = [];
      const call = new LeaderFollowingCall<{ deadlineAt: number; name: string }>(deps(caller), CLUSTER, REQUEST, {
        answered: () => undefined,
        failed: (_c, w, error) => failed.push(`${w.name} ${error}@${scheduler.now()}`),
        ended: () => undefined,
        outlived: (_c, ws) => outlived.push(...ws.map((w) => `${w.name}@${scheduler.now()}`)),
      });
      call.join({ deadlineAt: 3, name: 'short' });
      call.join({ deadlineAt: 20, name: 'long' });
      // The call's budget is the first waiter's: at 3 the short one fails, the long one is handed back.
      expectSubscriptions(a.subscriptions).toBe('^--!');
      scheduler.flush();
      expect(failed).toEqual(['short ERR_TIMEOUT@3']);
      expect(outlived).toEqual(['long@3']);
      expect(call.state).toBe('failed');
    });
  });
});
