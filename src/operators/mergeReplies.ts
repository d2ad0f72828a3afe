import { Observable, type OperatorFunction, type Subscriber } from 'rxjs';

/** What `project` returns for a request whose reply will come later, through `later$`. */
export const LATER = Symbol('reply later');

/**
 * Maps each request to its reply: at once (a Buffer), later (`LATER`: the
 * reply arrives on `later$`, from a pipeline the request was handed to), or
 * never (`undefined`, one-way calls). Replies are emitted as they come, so
 * they may overtake each other (clients match them by seqid). Completes once
 * the source has completed and every `LATER` reply has come.
 *
 * ```
 * source:   --a--b--c----|
 * project:  a → A   b → LATER   c → C
 * later$:   ---------B---
 * result:   --A-----C-B--|
 * ```
 *
 * Each request is counted as pending *before* `project` is called, so a
 * pipeline that answers while it is being handed the request (a table whose
 * route is known to be unusable) sends its reply through `later$` like any
 * other: the reply finds its request counted, and `project` still returns
 * `LATER`. One subscription to `later$` for the life of the stream, however
 * many requests: a request is a value, never a subscription of its own. A
 * throw from `project` (a request that cannot be read at all) errors the
 * stream, which closes the connection.
 *
 * @param project request → reply, `LATER`, or undefined
 * @param later$ the replies of `LATER` requests, one each
 * @param onPending called with the number of `LATER` replies outstanding whenever it changes
 */
export function mergeReplies<T>(
  project: (value: T) => Buffer | typeof LATER | undefined,
  later$: Observable<Buffer>,
  onPending?: (pending: number) => void,
): OperatorFunction<T, Buffer> {
  return (source) =>
    new Observable<Buffer>((subscriber) => {
      const count = new PendingReplies(subscriber, project, onPending);
      subscriber.add(
        later$.subscribe({
          next: (reply) => count.later(reply),
          error: (error: unknown) => subscriber.error(error),
          // The later replies' source ending says nothing about the requests.
        }),
      );
      if (subscriber.closed) return;
      subscriber.add(
        source.subscribe({
          next: (request) => count.request(request),
          error: (error: unknown) => subscriber.error(error),
          complete: () => count.sourceComplete(),
        }),
      );
    });
}

/**
 * The count of replies to come, for one stream: a connection keeps one for
 * its life, so its state lives in fields rather than closures.
 */
class PendingReplies<T> {
  private pending = 0;
  /** The count `onPending` last heard, so it hears only changes. */
  private reported = 0;
  private sourceDone = false;

  constructor(
    private readonly replies: Subscriber<Buffer>,
    private readonly project: (value: T) => Buffer | typeof LATER | undefined,
    private readonly onPending: ((pending: number) => void) | undefined,
  ) {}

  request(value: T): void {
    // Counted first: a reply that comes back while `project` runs finds it counted.
    this.pending++;
    let answer: Buffer | typeof LATER | undefined;
    try {
      answer = this.project(value);
    } catch (error) {
      this.replies.error(error);
      return;
    }
    if (answer !== LATER) {
      this.pending--;
      if (answer !== undefined) this.replies.next(answer);
    }
    this.report();
  }

  later(reply: Buffer): void {
    this.pending--;
    this.replies.next(reply);
    this.report();
    if (this.sourceDone && this.pending === 0) this.replies.complete();
  }

  sourceComplete(): void {
    this.sourceDone = true;
    if (this.pending === 0) this.replies.complete();
  }

  private report(): void {
    const pending = this.pending;
    if (pending === this.reported) return;
    this.reported = pending;
    this.onPending?.(pending);
  }
}
