import { Observable, type OperatorFunction } from 'rxjs';
import type { FrameError } from '../errors.js';
import { FRAME_SIZE_PREFIX_BYTES, tryDecodeFrame } from '../protocol/frame.js';
import type { RequestFrame } from '../protocol/types.js';

export interface DecodeFramesOptions {
  /** Largest whole frame (header included) accepted; a longer declared length errors the stream. */
  maxFrameBytes: number;
  /**
   * Called after each chunk with the bytes of an incomplete frame still held
   * (0 when none), so the caller can time out a client that stops mid-frame.
   */
  onPartial?: (pendingBytes: number) => void;
}

/**
 * Turns a client socket's chunks into request frames, however the chunks cut
 * the byte stream: a frame split over chunks, many frames in one chunk.
 *
 * ```
 * chunks:  --a--b----(cd)--|   a = frame 1's first bytes, b = the rest of it + frame 2,
 * frames:  -----(xy)-z-----|   c = frame 3 cut inside its header, d = the rest of it
 * ```
 *
 * Frames whose bytes sit in one chunk are emitted as views of that chunk.
 * Only a frame that spans chunks is copied, into a buffer of its own (grown
 * geometrically, never past the frame's declared size, so a frame dribbled in
 * byte by byte costs linear time). A bad frame errors the stream with a
 * `FrameError`; the chunks after it are never looked at.
 */
export function decodeFrames(options: DecodeFramesOptions): OperatorFunction<Buffer, RequestFrame> {
  const { maxFrameBytes, onPartial } = options;
  return (source) =>
    new Observable<RequestFrame>((subscriber) => {
      // The bytes of the one incomplete frame being held: a prefix of it, owned.
      let held: Buffer | undefined;
      let heldLength = 0;
      // The held frame's size once its header has said it.
      let heldTotal: number | undefined;

      const fail = (error: FrameError): void => {
        held = undefined;
        subscriber.error(error);
      };

      const hold = (chunk: Buffer, from: number, total: number | undefined): void => {
        heldLength = chunk.length - from;
        heldTotal = total;
        held = Buffer.allocUnsafe(Math.max(heldLength, Math.min(total ?? FRAME_SIZE_PREFIX_BYTES, heldLength * 2)));
        chunk.copy(held, 0, from);
      };

      const append = (chunk: Buffer, from: number, count: number): void => {
        const needed = heldLength + count;
        if (held!.length < needed) {
          const grown = Buffer.allocUnsafe(Math.max(needed, Math.min(heldTotal ?? needed, held!.length * 2)));
          held!.copy(grown, 0, 0, heldLength);
          held = grown;
        }
        chunk.copy(held!, heldLength, from, from + count);
        heldLength = needed;
      };

      /**
       * Completes the held frame from the front of `chunk`. Returns where the
       * chunk's unread bytes start, or -1 when the chunk was all used (or the
       * stream ended).
       */
      const completeHeld = (chunk: Buffer): number => {
        let at = 0;
        for (;;) {
          // Take no more than the frame needs, so frames after it stay views of the chunk.
          const want = (heldTotal ?? FRAME_SIZE_PREFIX_BYTES) - heldLength;
          const take = Math.min(Math.max(want, 0), chunk.length - at);
          append(chunk, at, take);
          at += take;
          const result = tryDecodeFrame(held!.subarray(0, heldLength), 0, maxFrameBytes);
          if (result.kind === 'error') {
            fail(result.error);
            return -1;
          }
          if (result.kind === 'frame') {
            // A frame shorter than the size prefix may have taken bytes of the next one: give them back.
            at -= heldLength - result.size;
            held = undefined;
            heldLength = 0;
            heldTotal = undefined;
            subscriber.next(result.frame);
            return at;
          }
          heldTotal = result.total;
          if (at === chunk.length) return -1;
        }
      };

      const onChunk = (chunk: Buffer): void => {
        let at = 0;
        if (held !== undefined) {
          at = completeHeld(chunk);
          if (at < 0) return reportPartial();
        }
        while (at < chunk.length && !subscriber.closed) {
          const result = tryDecodeFrame(chunk, at, maxFrameBytes);
          if (result.kind === 'frame') {
            at += result.size;
            subscriber.next(result.frame);
          } else if (result.kind === 'need') {
            hold(chunk, at, result.total);
            break;
          } else {
            return fail(result.error);
          }
        }
        reportPartial();
      };

      const reportPartial = (): void => {
        if (onPartial === undefined || subscriber.closed) return;
        try {
          onPartial(held === undefined ? 0 : heldLength);
        } catch (error) {
          subscriber.error(error);
        }
      };

      const subscription = source.subscribe({
        next: onChunk,
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      });
      return () => {
        held = undefined;
        subscription.unsubscribe();
      };
    });
}
