import { Observable, type OperatorFunction } from 'rxjs';

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
      let pending = 0;
      let sourceDone = false;
      const laterSubscription = later$.subscribe({
        next: (reply) => {
          pending--;
          subscriber.next(reply);
          onPending?.(pending);
          if (sourceDone && pending === 0) subscriber.complete();
        },
        error: (error: unknown) => subscriber.error(error),
      });
      const sourceSubscription = source.subscribe({
        next: (value) => {
          let answer: Buffer | typeof LATER | undefined;
          try {
            answer = project(value);
          } catch (error) {
            subscriber.error(error);
            return;
          }
          if (answer === undefined) return;
          if (answer === LATER) {
            pending++;
            onPending?.(pending);
            return;
          }
          subscriber.next(answer);
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => {
          sourceDone = true;
          if (pending === 0) subscriber.complete();
        },
      });
      return () => {
        sourceSubscription.unsubscribe();
        laterSubscription.unsubscribe();
      };
    });
}
