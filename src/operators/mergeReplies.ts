import { Observable, Subscriber, type OperatorFunction } from 'rxjs';

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
 * One subscription to `later$` for the life of the stream, however many
 * requests: a request is a value, never a subscription of its own. A throw
 * from `project` (a request that cannot be read at all) errors the stream,
 * which closes the connection.
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
      const requests = new RequestSide(subscriber, project, onPending);
      later$.subscribe(new LaterSide(subscriber, requests));
      if (!subscriber.closed) source.subscribe(requests);
    });
}

/**
 * The requests' side, as one Subscriber holding the count: a connection keeps
 * one for its life, so state lives in fields rather than closures.
 */
class RequestSide<T> extends Subscriber<T> {
  pending = 0;
  sourceDone = false;

  constructor(
    readonly replies: Subscriber<Buffer>,
    private readonly project: (value: T) => Buffer | typeof LATER | undefined,
    readonly onPending: ((pending: number) => void) | undefined,
  ) {
    super(replies);
  }

  protected override _next(value: T): void {
    let answer: Buffer | typeof LATER | undefined;
    try {
      answer = this.project(value);
    } catch (error) {
      this.replies.error(error);
      return;
    }
    if (answer === undefined) return;
    if (answer === LATER) {
      this.pending++;
      this.onPending?.(this.pending);
      return;
    }
    this.replies.next(answer);
  }

  protected override _complete(): void {
    this.sourceDone = true;
    if (this.pending === 0) this.replies.complete();
  }
}

/** The replies that come later, one per `LATER` request. */
class LaterSide extends Subscriber<Buffer> {
  constructor(
    private readonly replies: Subscriber<Buffer>,
    private readonly requests: Pick<RequestSide<never>, 'pending' | 'sourceDone' | 'onPending'>,
  ) {
    super(replies);
  }

  protected override _next(reply: Buffer): void {
    const requests = this.requests;
    requests.pending--;
    this.replies.next(reply);
    requests.onPending?.(requests.pending);
    if (requests.sourceDone && requests.pending === 0) this.replies.complete();
  }

  protected override _complete(): void {
    // The later replies' source ending says nothing about the requests.
  }
}
