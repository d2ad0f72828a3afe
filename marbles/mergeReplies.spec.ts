import { describe, expect, it } from 'vitest';
import { TestScheduler } from 'rxjs/testing';
import { Subject, map } from 'rxjs';
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

  it('onPending hears each change of the count once project has returned, and nothing for a reply at once', () => {
    const scheduler = testScheduler();
    scheduler.run(({ hot, expectObservable, flush }) => {
      const source = hot<string>('-b--d---a-|');
      const later = hot<Buffer>(' ------B---D', { B: buf('B'), D: buf('D') });
      const pending: string[] = [];
      const log = (what: string) => pending.push(`${what}@${scheduler.now()}`);
      const seen: string[] = [];
      const counted = (v: string) => {
        seen.push(`${v} sees ${pending.at(-1) ?? 'nothing'}`);
        return project(v);
      };
      expectObservable(source.pipe(mergeReplies(counted, later, (n) => log(String(n))), text)).toBe('------B-A-(D|)', { A: 'A', B: 'B', D: 'D' });
      flush();
      expect(pending).toEqual(['1@1', '2@4', '1@6', '0@10']);
      // onPending is told after project returns LATER, never before: a reply at once changes nothing.
      expect(seen).toEqual(['b sees nothing', 'd sees 1@1', 'a sees 1@6']);
    });
  });

  it('a reply that comes while project runs (a synchronous pipeline) goes out through later$ in that frame, uncounted at once', () => {
    const scheduler = testScheduler();
    scheduler.run(({ hot, expectObservable, flush }) => {
      const source = hot<string>('-s-b-s--|');
      const laterB = hot<Buffer>('------B--', { B: buf('B') });
      const now = new Subject<Buffer>();
      // s: the pipeline answers while being handed the request, then project says LATER like for any other.
      const sync = (v: string) => {
        if (v !== 's') return project(v);
        now.next(buf(`S${scheduler.now()}`));
        return LATER;
      };
      const later = new Subject<Buffer>();
      laterB.subscribe(later);
      now.subscribe(later);
      const pending: string[] = [];
      expectObservable(source.pipe(mergeReplies(sync, later, (n) => pending.push(`${n}@${scheduler.now()}`)), text)).toBe(
        '-x---yB-|',
        { x: 'S1', y: 'S5', B: 'B' },
      );
      flush();
      // The synchronous replies never show as pending; completion waits for B only.
      expect(pending).toEqual(['1@3', '0@6']);
    });
  });

  it('a synchronous reply in the last request lets the stream complete with its source', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, expectObservable }) => {
      const later = new Subject<Buffer>();
      const sync = (v: string): typeof LATER => (later.next(buf(v.toUpperCase())), LATER);
      expectObservable(cold<string>('-a-(b|)').pipe(mergeReplies(sync, later), text)).toBe('-a-(b|)', { a: 'A', b: 'B' });
    });
  });

  it('replies in the frame they come, including several in one frame, in arrival order', () => {
    const scheduler = testScheduler();
    scheduler.run(({ hot, expectObservable }) => {
      const source = hot<string>('-(bda)----|');
      const later = hot<Buffer>(' ---(DB)---', { B: buf('B'), D: buf('D') });
      expectObservable(source.pipe(mergeReplies(project, later), text)).toBe('-a-(db)---|', { a: 'A', b: 'B', d: 'D' });
    });
  });
});
