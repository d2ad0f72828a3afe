import type { Observable, Subscription } from 'rxjs';
import type { CancelReason, MetaAnswer, MetaDispatcher, MetaRequest } from '../../src/model/upstream.js';

/**
 * A dispatcher whose calls are Observables (cold ones in marble tests):
 * `send` subscribes, the first value is the answer, an error or a completion
 * without one is a failure, `cancel` unsubscribes. A caller that throws is a
 * refusal, as the pool's are. `cancels` records each cancel with its reason.
 * Each answer delivered is a fresh copy of the value's frame.
 */
export function dispatcherFrom(caller: (meta: string, request: MetaRequest) => Observable<MetaAnswer>) {
  const calls = new Map<number, Subscription>();
  const cancels: Array<{ meta: string; reason: CancelReason }> = [];
  let next = 1;
  const dispatcher: MetaDispatcher = {
    send(meta, request, handler) {
      let answer$: Observable<MetaAnswer>;
      try {
        answer$ = caller(meta, request);
      } catch (error) {
        return error as Error;
      }
      const ticket = next++;
      let settled = false;
      let subscription: Subscription | undefined;
      subscription = answer$.subscribe({
        next: (answer) => {
          if (settled) return;
          settled = true;
          calls.delete(ticket);
          // One answer is all a call gives: the pool forgets it, as this does.
          subscription?.unsubscribe();
          // Each answer is bytes of its own, as a socket's are (the relay rewrites the seqid in place).
          handler.metaAnswered(meta, ticket, { ...answer, frame: Buffer.from(answer.frame) });
        },
        error: (error: Error) => {
          if (settled) return;
          settled = true;
          calls.delete(ticket);
          handler.metaFailed(meta, ticket, error);
        },
        complete: () => {
          if (settled) return;
          settled = true;
          calls.delete(ticket);
          handler.metaFailed(meta, ticket, new Error(`the call to ${meta} ended without an answer`));
        },
      });
      if (settled) subscription.unsubscribe();
      else calls.set(ticket, subscription);
      return ticket;
    },
    cancel(meta, ticket, reason) {
      const subscription = calls.get(ticket);
      if (subscription === undefined) return;
      calls.delete(ticket);
      cancels.push({ meta, reason });
      subscription.unsubscribe();
    },
  };
  return { dispatcher, cancels };
}
