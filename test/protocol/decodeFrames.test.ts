import fc from 'fast-check';
import { from, lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { FrameError } from '../../src/errors.js';
import { decodeFrames } from '../../src/operators/decodeFrames.js';
import { tryDecodeFrame } from '../../src/protocol/frame.js';
import { encodeMetaRequest } from '../../src/protocol/metaRequest.js';
import type { RequestFrame } from '../../src/protocol/types.js';
import { JAVA_QUERY_TEMP, NODE_QUERY_TEMP, v1Frame } from './helpers.js';

const MAX = 1 << 20;

/** Runs chunks through decodeFrames synchronously; returns frames, the error if any, and onPartial's reports. */
function run(chunks: Buffer[], maxFrameBytes = MAX) {
  const frames: RequestFrame[] = [];
  const partial: number[] = [];
  let error: unknown;
  from(chunks)
    .pipe(decodeFrames({ maxFrameBytes, onPartial: (n) => partial.push(n) }))
    .subscribe({ next: (f) => frames.push(f), error: (e) => (error = e) });
  return { frames, partial, error };
}

function splitAt(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const p of [...points, bytes.length]) {
    // Fresh copies, as a socket hands out.
    chunks.push(Buffer.from(bytes.subarray(from, p)));
    from = p;
  }
  return chunks;
}

const frameArb = fc.oneof(
  fc.constant(NODE_QUERY_TEMP),
  fc.constant(JAVA_QUERY_TEMP),
  fc
    .tuple(fc.string({ maxLength: 20 }), fc.nat(), fc.uint8Array({ maxLength: 300 }), fc.nat(60000))
    .map(([name, seq, args, timeout]) => encodeMetaRequest(name, seq, Buffer.from(args), timeout)),
  // Tiny v1 frames, shorter than the 20 bytes that tell a v0 frame's size.
  fc.uint8Array({ maxLength: 3 }).map((body) => v1Frame(Buffer.from([0]), Buffer.from(body))),
);

describe('decodeFrames over any chunking', () => {
  it('yields the same frames however the byte stream is cut', () => {
    fc.assert(
      fc.property(fc.array(frameArb, { minLength: 1, maxLength: 8 }), fc.array(fc.nat(), { maxLength: 30 }), (list, cuts) => {
        const stream = Buffer.concat(list);
        const { frames, partial, error } = run(splitAt(stream, cuts));
        expect(error).toBeUndefined();
        expect(frames).toHaveLength(list.length);
        frames.forEach((f, i) => {
          const whole = tryDecodeFrame(list[i]!, 0, MAX);
          if (whole.kind !== 'frame') throw new Error('bad fixture');
          expect(f.header).toEqual(whole.frame.header);
          expect(f.body.equals(whole.frame.body)).toBe(true);
        });
        expect(partial.at(-1)).toBe(0);
      }),
      { numRuns: 500 },
    );
  });

  it('holds the bytes of a trailing incomplete frame and reports them', () => {
    fc.assert(
      fc.property(frameArb, frameArb, fc.nat(), fc.array(fc.nat(), { maxLength: 10 }), (first, second, cutSeed, cuts) => {
        const keep = cutSeed % second.length;
        const stream = Buffer.concat([first, second.subarray(0, keep)]);
        const { frames, partial, error } = run(splitAt(stream, cuts));
        expect(error).toBeUndefined();
        expect(frames).toHaveLength(1);
        expect(partial.at(-1)).toBe(keep);
      }),
      { numRuns: 300 },
    );
  });

  it('never hangs or throws anything but FrameError on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.array(fc.nat(), { maxLength: 10 }), fc.boolean(), (bytes, cuts, magic) => {
        const stream = Buffer.from(bytes);
        if (magic && stream.length >= 4) stream.write('THFT', 0, 'latin1');
        const { error } = run(splitAt(stream, cuts), 256);
        if (error !== undefined) expect(error).toBeInstanceOf(FrameError);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('decodeFrames buffers', () => {
  it('emits views of the chunk for frames inside it and copies a frame that spans chunks', () => {
    // Buffer.alloc never hands out slices of Node's shared pool, so `.buffer` identity means something.
    const unpooled = (b: Buffer) => {
      const out = Buffer.alloc(b.length);
      b.copy(out);
      return out;
    };
    const chunk1 = unpooled(Buffer.concat([NODE_QUERY_TEMP, JAVA_QUERY_TEMP.subarray(0, 30)]));
    const chunk2 = unpooled(JAVA_QUERY_TEMP.subarray(30));
    const { frames } = run([chunk1, chunk2]);
    expect(frames).toHaveLength(2);
    expect(frames[0]!.body.buffer).toBe(chunk1.buffer);
    expect(frames[1]!.body.buffer).not.toBe(chunk1.buffer);
    expect(frames[1]!.body.buffer).not.toBe(chunk2.buffer);
    chunk1.fill(0);
    chunk2.fill(0);
    expect(frames[1]!.body.equals(JAVA_QUERY_TEMP.subarray(16 + 0x25))).toBe(true);
  });

  it('takes a large frame delivered byte by byte in linear time', () => {
    const frame = encodeMetaRequest('RPC_BIG', 1, Buffer.alloc(256 * 1024, 7), 0);
    const chunks: Buffer[] = [];
    for (let i = 0; i < frame.length; i++) chunks.push(frame.subarray(i, i + 1));
    const started = performance.now();
    const { frames, error } = run(chunks);
    // Re-copying the held bytes on every chunk would move ~34 GB here.
    expect(performance.now() - started).toBeLessThan(5000);
    expect(error).toBeUndefined();
    expect(frames).toHaveLength(1);
    expect(frames[0]!.body.length).toBe(frame.length - 48);
  });

  it('works with lastValueFrom over a real chunk sequence', async () => {
    const frames = await lastValueFrom(from([NODE_QUERY_TEMP, JAVA_QUERY_TEMP]).pipe(decodeFrames({ maxFrameBytes: MAX }), toArray()));
    expect(frames.map((f) => f.header.version)).toEqual([0, 1]);
  });
});
