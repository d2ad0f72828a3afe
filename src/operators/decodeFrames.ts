import { Observable, type OperatorFunction, type Subscriber } from 'rxjs';
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
      const decoder = new FrameDecoder(subscriber, maxFrameBytes, onPartial);
      const subscription = source.subscribe({
        next: (chunk) => decoder.chunk(chunk),
        error: (error: unknown) => {
          decoder.drop();
          subscriber.error(error);
        },
        complete: () => {
          decoder.drop();
          subscriber.complete();
        },
      });
      return () => {
        decoder.drop();
        subscription.unsubscribe();
      };
    });
}

/**
 * The decoder's state for one stream, in a plain object the observer calls: a
 * connection holds one for its life, so it keeps its state in fields rather
 * than closures.
 */
class FrameDecoder {
  /** The bytes of the one incomplete frame being held: a prefix of it, owned. */
  private held: Buffer | undefined;
  private heldLength = 0;
  /** The held frame's size once its header has said it. */
  private heldTotal: number | undefined;

  constructor(
    private readonly frames: Subscriber<RequestFrame>,
    private readonly maxFrameBytes: number,
    private readonly onPartial: ((pendingBytes: number) => void) | undefined,
  ) {}

  chunk(chunk: Buffer): void {
    let at = 0;
    if (this.held !== undefined) {
      at = this.completeHeld(chunk);
      if (at < 0) return this.reportPartial();
    }
    const frames = this.frames;
    while (at < chunk.length && !frames.closed) {
      const result = tryDecodeFrame(chunk, at, this.maxFrameBytes);
      if (result.kind === 'frame') {
        at += result.size;
        frames.next(result.frame);
      } else if (result.kind === 'need') {
        this.hold(chunk, at, result.total);
        break;
      } else {
        return this.fail(result.error);
      }
    }
    this.reportPartial();
  }

  /** Lets go of a held frame: the stream is over. */
  drop(): void {
    this.held = undefined;
  }

  private fail(error: FrameError): void {
    this.held = undefined;
    this.frames.error(error);
  }

  private hold(chunk: Buffer, from: number, total: number | undefined): void {
    this.heldLength = chunk.length - from;
    this.heldTotal = total;
    this.held = Buffer.allocUnsafe(Math.max(this.heldLength, Math.min(total ?? FRAME_SIZE_PREFIX_BYTES, this.heldLength * 2)));
    chunk.copy(this.held, 0, from);
  }

  private append(chunk: Buffer, from: number, count: number): void {
    const held = this.held!;
    const needed = this.heldLength + count;
    if (held.length < needed) {
      const grown = Buffer.allocUnsafe(Math.max(needed, Math.min(this.heldTotal ?? needed, held.length * 2)));
      held.copy(grown, 0, 0, this.heldLength);
      this.held = grown;
    }
    chunk.copy(this.held!, this.heldLength, from, from + count);
    this.heldLength = needed;
  }

  /**
   * Completes the held frame from the front of `chunk`. Returns where the
   * chunk's unread bytes start, or -1 when the chunk was all used (or the
   * stream ended).
   */
  private completeHeld(chunk: Buffer): number {
    let at = 0;
    for (;;) {
      // Take no more than the frame needs, so frames after it stay views of the chunk.
      const want = (this.heldTotal ?? FRAME_SIZE_PREFIX_BYTES) - this.heldLength;
      const take = Math.min(Math.max(want, 0), chunk.length - at);
      this.append(chunk, at, take);
      at += take;
      const result = tryDecodeFrame(this.held!.subarray(0, this.heldLength), 0, this.maxFrameBytes);
      if (result.kind === 'error') {
        this.fail(result.error);
        return -1;
      }
      if (result.kind === 'frame') {
        // A frame shorter than the size prefix may have taken bytes of the next one: give them back.
        at -= this.heldLength - result.size;
        this.held = undefined;
        this.heldLength = 0;
        this.heldTotal = undefined;
        this.frames.next(result.frame);
        return at;
      }
      this.heldTotal = result.total;
      if (at === chunk.length) return -1;
    }
  }

  private reportPartial(): void {
    if (this.onPartial === undefined || this.frames.closed) return;
    try {
      this.onPartial(this.held === undefined ? 0 : this.heldLength);
    } catch (error) {
      this.frames.error(error);
    }
  }
}
