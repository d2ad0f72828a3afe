import { map, take } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { beforeEach, describe, expect, it } from 'vitest';
import { FrameError } from '../src/errors.js';
import { decodeFrames } from '../src/operators/decodeFrames.js';
import { tryDecodeFrame } from '../src/protocol/frame.js';
import { encodeMetaRequest } from '../src/protocol/metaRequest.js';
import type { RequestFrame } from '../src/protocol/types.js';
import { JAVA_QUERY_TEMP, NODE_QUERY_TEMP } from '../test/protocol/helpers.js';

const MAX = 4096;
const F1 = NODE_QUERY_TEMP;
const F2 = JAVA_QUERY_TEMP;
const F3 = encodeMetaRequest('RPC_CM_LIST_APPS', 7, Buffer.from('0c00010800010000000000', 'hex'), 1000);

function frameOf(bytes: Buffer): RequestFrame {
  const result = tryDecodeFrame(bytes, 0, MAX);
  if (result.kind !== 'frame') throw new Error('not a whole frame');
  return result.frame;
}

describe('decodeFrames', () => {
  let testScheduler: TestScheduler;

  beforeEach(() => {
    testScheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
  });

  it('emits frames split across chunks and batched in one chunk', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const chunks = {
        a: F1.subarray(0, 30),
        b: Buffer.concat([F1.subarray(30), F2]),
        c: F3.subarray(0, 10), // cut inside the header, before the length is known
        d: F3.subarray(10),
      };
      const source = cold('  --a--b----(cd)--|', chunks);
      const expected = '     -----(xy)-z-----|';
      const subs = '         ^---------------!';
      expectObservable(source.pipe(decodeFrames({ maxFrameBytes: MAX }))).toBe(expected, {
        x: frameOf(F1),
        y: frameOf(F2),
        z: frameOf(F3),
      });
      expectSubscriptions(source.subscriptions).toBe(subs);
    });
  });

  it('errors with a FrameError on bad magic and stops reading the source', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const chunks = { a: F1, b: Buffer.from('GET / HTTP/1.1\r\n'), c: F2 };
      const source = cold('  --a--b--c--|', chunks);
      const expected = '     --x--#';
      const subs = '         ^----!';
      expectObservable(source.pipe(decodeFrames({ maxFrameBytes: MAX }))).toBe(
        expected,
        { x: frameOf(F1) },
        new FrameError('bad-magic', 'The frame does not start with "THFT" (byte 0 is 0x47).'),
      );
      expectSubscriptions(source.subscriptions).toBe(subs);
    });
  });

  it('errors on a frame over the limit as soon as its header arrives', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const huge = Buffer.from(F1.subarray(0, 20));
      huge.writeUInt32BE(0xffffffff, 16);
      const source = cold('  --a--b--|', { a: huge.subarray(0, 12), b: huge.subarray(12) });
      const expected = '     -----#';
      const subs = '         ^----!';
      expectObservable(source.pipe(decodeFrames({ maxFrameBytes: MAX }))).toBe(
        expected,
        undefined,
        new FrameError('too-large', `The frame declares ${48 + 0xffffffff} bytes, more than the ${MAX} allowed.`),
      );
      expectSubscriptions(source.subscriptions).toBe(subs);
    });
  });

  it('tears the source down on early unsubscribe', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot('  --a--b--c--|', { a: F1, b: F2, c: F3 });
      const unsub = '       ------!';
      const expected = '    --x--y-';
      const subs = '        ^-----!';
      expectObservable(source.pipe(decodeFrames({ maxFrameBytes: MAX })), unsub).toBe(expected, {
        x: frameOf(F1),
        y: frameOf(F2),
      });
      expectSubscriptions(source.subscriptions).toBe(subs);
    });
  });

  it('stops emitting mid-chunk when the consumer takes enough', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('  --a--|', { a: Buffer.concat([F1, F2, F3]) });
      const expected = '     --(x|)';
      const subs = '         ^-!';
      expectObservable(source.pipe(decodeFrames({ maxFrameBytes: MAX }), take(1))).toBe(expected, { x: frameOf(F1) });
      expectSubscriptions(source.subscriptions).toBe(subs);
    });
  });

  it('passes source errors and completion through, dropping a held partial frame', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const erroring = cold('  --a--b--#', { a: F1, b: F2.subarray(0, 5) }, new Error('ECONNRESET'));
      const completing = cold('--a--b--|', { a: F1, b: F2.subarray(0, 5) });
      expectObservable(erroring.pipe(decodeFrames({ maxFrameBytes: MAX }))).toBe('--x-----#', { x: frameOf(F1) }, new Error('ECONNRESET'));
      expectObservable(completing.pipe(decodeFrames({ maxFrameBytes: MAX }))).toBe('--x-----|', { x: frameOf(F1) });
      expectSubscriptions(erroring.subscriptions).toBe('^-------!');
      expectSubscriptions(completing.subscriptions).toBe('^-------!');
    });
  });

  it('reports the held partial bytes after every chunk', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const pending: number[] = [];
      const chunks = { a: F1.subarray(0, 3), b: F1.subarray(3, 40), c: Buffer.concat([F1.subarray(40), F2.subarray(0, 17)]), d: F2.subarray(17) };
      const source = cold('--a-b-c-d-|', chunks);
      const result = source.pipe(
        decodeFrames({ maxFrameBytes: MAX, onPartial: (n) => pending.push(n) }),
        map((f) => f.header.version),
      );
      expectObservable(result).toBe('------x-y-|', { x: 0, y: 1 });
      testScheduler.flush();
      expect(pending).toEqual([3, 40, 17, 0]);
    });
  });

  it('errors when the onPartial callback throws', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('  --a--b--|', { a: F1.subarray(0, 10), b: F1.subarray(10) });
      const boom = new Error('callback failed');
      const expected = '     --#';
      const subs = '         ^-!';
      const result = source.pipe(
        decodeFrames({
          maxFrameBytes: MAX,
          onPartial: () => {
            throw boom;
          },
        }),
      );
      expectObservable(result).toBe(expected, undefined, boom);
      expectSubscriptions(source.subscriptions).toBe(subs);
    });
  });

  it('keeps state per subscription', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const operator = decodeFrames({ maxFrameBytes: MAX });
      const first = cold('  --a--b--|', { a: F1.subarray(0, 30), b: F1.subarray(30) });
      const second = cold(' ---c-----|', { c: F2 });
      expectObservable(first.pipe(operator)).toBe('-----x--|', { x: frameOf(F1) });
      expectObservable(second.pipe(operator)).toBe('---y-----|', { y: frameOf(F2) });
    });
  });
});
