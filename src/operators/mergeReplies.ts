import { Observable, Subscription, type OperatorFunction } from 'rxjs';

/**
 * Maps each request to its reply, synchronously when the answer is known at
 * once (a Buffer), or through one inner Observable when it needs real async
 * work; replies are emitted as they complete, so they may overtake each other
 * (clients match them by seqid). `undefined` means "no reply" (one-way calls).
 *
 * ```
 * source:   --a--b--c----|
 * project:  a → A (sync)   b → --B|   c → C (sync)
 * result:   --A-----C-B--|
 * ```
 *
 * Inner observables must emit at most once and never error: a failure of one
 * request is an error reply, not an error of the connection. A throw from
 * `project` (a request that cannot be read at all) errors the stream, which
 * closes the connection.
 *
 * @param project request → reply, or an Observable of the reply, or undefined.
 * @param onInFlight called with the number of pending async replies whenever it changes.
 */
export function mergeReplies<T>(
  project: (value: T) => Buffer | Observable<Buffer> | undefined,
  onInFlight?: (inFlight: number) => void,
): OperatorFunction<T, Buffer> {
  return (source) =>
    new Observable<Buffer>((subscriber) => {
      const inners = new Set<Subscription>();
      let sourceDone = false;

      const settle = () => {
        onInFlight?.(inners.size);
        if (sourceDone && inners.size === 0) subscriber.complete();
      };

      const outer = source.subscribe({
        next: (value) => {
          let answer: Buffer | Observable<Buffer> | undefined;
          try {
            answer = project(value);
          } catch (error) {
            subscriber.error(error);
            return;
          }
          if (answer === undefined) return;
          if (answer instanceof Uint8Array) {
            subscriber.next(answer);
            return;
          }
          const inner = new Subscription();
          inners.add(inner);
          onInFlight?.(inners.size);
          let finished = false;
          inner.add(
            answer.subscribe({
              next: (reply) => subscriber.next(reply),
              error: (error) => subscriber.error(error),
              complete: () => {
                finished = true;
                if (inners.delete(inner)) settle();
              },
            }),
          );
          // A synchronous inner has already completed before `inner` held it.
          if (finished) inner.unsubscribe();
        },
        error: (error) => subscriber.error(error),
        complete: () => {
          sourceDone = true;
          settle();
        },
      });

      return () => {
        outer.unsubscribe();
        for (const inner of inners) inner.unsubscribe();
        inners.clear();
      };
    });
}
