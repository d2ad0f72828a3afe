import { describe, expect, it } from 'vitest';
import { TestScheduler } from 'rxjs/testing';
import { countMetaCalls } from '../src/operators/countMetaCalls.js';
import { UpstreamError } from '../src/errors.js';
import type { MetaAnswer } from '../src/streams/upstreamTypes.js';

const answer = (bodyError: string | undefined, headerError = 'ERR_OK'): MetaAnswer => ({
  meta: 'm1:1',
  frame: Buffer.alloc(0),
  reply: { headerError, name: 'RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX_ACK', seqid: 1, seqidOffset: 0, ...(bodyError ? { bodyError } : {}) },
});

function setup() {
  const recorded: string[] = [];
  const record = (meta: string, result: string) => void recorded.push(`${meta} ${result}`);
  const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
  return { recorded, record, scheduler };
}

describe('countMetaCalls', () => {
  it('records the answer\'s body error once and passes the answer on', () => {
    const { recorded, record, scheduler } = setup();
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const values = { a: answer('ERR_OK') };
      const source = cold('  ----a|', values);
      const subs = '         ^----!';
      expectObservable(source.pipe(countMetaCalls('m1:1', record))).toBe('----a|', values);
      expectSubscriptions(source.subscriptions).toBe(subs);
    });
    expect(recorded).toEqual(['m1:1 ERR_OK']);
  });

  it('falls back to the header error when the body could not be read', () => {
    const { recorded, record, scheduler } = setup();
    scheduler.run(({ cold, expectObservable }) => {
      const values = { a: answer(undefined, 'ERR_HANDLER_NOT_FOUND') };
      expectObservable(cold('-a|', values).pipe(countMetaCalls('m1:1', record))).toBe('-a|', values);
    });
    expect(recorded).toEqual(['m1:1 ERR_HANDLER_NOT_FOUND']);
  });

  it('records the upstream failure kind, or `error` for anything else', () => {
    const { recorded, record, scheduler } = setup();
    scheduler.run(({ cold, expectObservable }) => {
      const timeout = new UpstreamError('m1:1', 'timeout', 'meta m1:1 did not answer in time');
      expectObservable(cold<MetaAnswer>('----#', undefined, timeout).pipe(countMetaCalls('m1:1', record))).toBe('----#', undefined, timeout);
      const other = new Error('boom');
      expectObservable(cold<MetaAnswer>('--#', undefined, other).pipe(countMetaCalls('m2:1', record))).toBe('--#', undefined, other);
    });
    expect(recorded).toEqual(['m2:1 error', 'm1:1 timeout']);
  });

  it('records `cancelled` when unsubscribed before the answer, and tears the source down', () => {
    const { recorded, record, scheduler } = setup();
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('  ----a|', { a: answer('ERR_OK') });
      const unsub = '        --!';
      const subs = '         ^-!';
      expectObservable(source.pipe(countMetaCalls('m1:1', record)), unsub).toBe('---');
      expectSubscriptions(source.subscriptions).toBe(subs);
    });
    expect(recorded).toEqual(['m1:1 cancelled']);
  });

  it('records nothing for a source that completes without an answer', () => {
    const { recorded, record, scheduler } = setup();
    scheduler.run(({ cold, expectObservable }) => {
      expectObservable(cold<MetaAnswer>('--|').pipe(countMetaCalls('m1:1', record))).toBe('--|');
    });
    expect(recorded).toEqual([]);
  });
});
