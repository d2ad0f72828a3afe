import { describe, expect, it } from 'vitest';
import { TestScheduler } from 'rxjs/testing';
import { map } from 'rxjs';
import { LATER, mergeReplies } from '../src/operators/mergeReplies.js';

const testScheduler = () => new TestScheduler((a, b) => expect(a).toEqual(b));
const buf = (s: string) => Buffer.from(s);
const text = map((b: Buffer) => b.toString());

/** a, c → replied at once (upper case); b, d → LATER; o → one-way (no reply); x → throws. */
const project = (v: string) => {
  if (v === 'x') throw new Error('unreadable');
  if (v === 'o') return undefined;
  return v === 'b' || v === 'd' ? LATER : buf(v.toUpperCase());
};

describe('mergeReplies', () => {
  it('emits replies as they come: at once, or later through one subscription to later$', () => {
    const scheduler = testScheduler();
    scheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot<string>('--a--b--c----|');
      const later = hot<Buffer>(  '----------B---', { B: buf('B') });
      const expected =            '--A-----C-B--|';
      const pending: number[] = [];
      expectObservable(source.pipe(mergeReplies(project, later, (n) => pending.push(n)), text)).toBe(expected, { A: 'A', B: 'B', C: 'C' });
      expectSubscriptions(later.subscriptions).toBe('^------------!');
      scheduler.flush();
      expect(pending).toEqual([1, 0]);
    });
  });

  it('completes only when every later reply has come', () => {
    const scheduler = testScheduler();
    scheduler.run(({ hot, expectObservable }) => {
      const source = hot<string>('-b-d-|');
      const later = hot<Buffer>(' -------X--Y--', { X: buf('X'), Y: buf('Y') });
      expectObservable(source.pipe(mergeReplies(project, later), text)).toBe('-------X--(Y|)', { X: 'X', Y: 'Y' });
    });
  });

  it('sends nothing for a one-way call, and errors (closing the connection) when a request cannot be read', () => {
    const scheduler = testScheduler();
    scheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot<string>('-o-a-x-a-');
      const later = hot<Buffer>('---------');
      expectObservable(source.pipe(mergeReplies(project, later), text)).toBe('---A-#', { A: 'A' }, new Error('unreadable'));
      expectSubscriptions(source.subscriptions).toBe('^----!');
      expectSubscriptions(later.subscriptions).toBe('^----!');
    });
  });

  it('unsubscribing tears down the source and later$', () => {
    const scheduler = testScheduler();
    scheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot<string>('-b------');
      const later = hot<Buffer>(' -----B--', { B: buf('B') });
      expectObservable(source.pipe(mergeReplies(project, later), text), '^--!').toBe('----');
      expectSubscriptions(source.subscriptions).toBe('^--!');
      expectSubscriptions(later.subscriptions).toBe('^--!');
    });
  });
});
