import { AsyncSubject, Observable, Subject, defer, of, race, take, type SchedulerLike, type Subscription } from 'rxjs';
import type { Logger } from 'pino';
import { decodeFrames } from '../operators/decodeFrames.js';
import { flowControl, type FlowEvent } from '../operators/flowControl.js';
import { idlePartialFrame } from '../operators/idlePartialFrame.js';
import { LATER, mergeReplies } from '../operators/mergeReplies.js';
import { encodeQueryConfigError } from '../protocol/response.js';
import type { StringInterner } from '../protocol/intern.js';
import type { RequestFrame } from '../protocol/types.js';
import type { ClientConnection } from './connectionTypes.js';
import { dispatchFrame, type DispatchContext } from './dispatchFrame.js';
import type { ProxyHooks } from './proxyTypes.js';
import type { Query, QueryOrigin } from './queryTypes.js';
import type { TableRouter } from './tableRouter.js';

export interface ServeOptions {
  /** Where queries go: their table's pipeline. */
  router: Pick<TableRouter, 'submit'>;
  scheduler: SchedulerLike;
  defaultTimeoutMs: number;
  maxTimeoutMs: number;
  hooks: Pick<ProxyHooks, 'connectionOpened' | 'connectionClosed' | 'queryReceived' | 'frameRejected'>;
  maxFrameBytes: number;
  maxInFlightPerConnection: number;
  /** Close a connection holding a partial frame for this long; 0 = never. */
  partialFrameTimeoutMs: number;
  /** Reads RPC and table names as shared strings (one for the whole proxy). */
  names?: StringInterner;
  logger?: Logger;
}

/** A served connection, as the server's owner sees it. */
export interface ConnectionSession {
  readonly connection: ClientConnection;
  /** Requests being answered right now. */
  inFlight(): number;
  /** Stop reading new requests; emits once every request read so far is answered. */
  drain(): Observable<void>;
  /** Close at once, cancelling what is in flight. */
  close(): void;
  /** Close after the replies already written have left (nothing in flight). */
  end(): void;
  /** Emits once when the connection is over, for whatever reason. */
  readonly done$: Observable<void>;
}

/**
 * Serves one client connection with one pipeline: chunks → frames → a reply
 * at once, or a query handed to its table's pipeline whose reply comes back
 * through this connection's `answered` subject → the socket.
 *
 * ```
 * chunks$:  --a---b--c---|       a: query, b: another RPC, c: query
 * replies:  ------B-A---C|       B at once; A and C from their tables' pipelines
 * ```
 *
 * Flow control (`flowControl`): at `maxInFlightPerConnection` requests in
 * flight, or while the client is not draining its replies, reading stops (TCP
 * pushes back on the client). Frames already read beyond twice the limit (one
 * large chunk can carry many) are answered `ERR_BUSY` at once, so the queue
 * stays bounded. A malformed frame, or a partial frame held idle too long
 * (`idlePartialFrame`), closes this connection only. A client gone mid-request
 * withdraws its queries (their cluster calls are dropped unless shared).
 */
export function serveConnection(connection: ClientConnection, options: ServeOptions): ConnectionSession {
  const { scheduler, logger, hooks, router } = options;
  const peer = connection.peer;
  const maxInFlight = options.maxInFlightPerConnection;
  const inFlight = new Set<Query>();
  const answered = new Subject<Buffer>();
  const flow = new Subject<FlowEvent>();
  const done$ = new AsyncSubject<void>();
  const drained$ = new Subject<void>();
  let draining = false;
  let finished = false;
  let writeBlocked: Subscription | undefined;
  const subscription = flow.pipe(flowControl(maxInFlight)).subscribe((pause) => (pause ? connection.pause() : connection.resume()));

  /** The query being handed to its pipeline right now, whose reply may come back at once. */
  let submitting: Query | undefined;
  let replyAtOnce: Buffer | undefined;
  const origin: QueryOrigin = {
    peer,
    answered: (query) => {
      inFlight.delete(query);
      if (query === submitting) replyAtOnce = query.reply;
      else answered.next(query.reply!);
    },
  };
  const context: DispatchContext = {
    origin,
    now: 0,
    defaultTimeoutMs: options.defaultTimeoutMs,
    maxTimeoutMs: options.maxTimeoutMs,
    ...(options.names && { names: options.names }),
    onUnreadableArgs: (error) => logger?.warn({ peer, err: error.message }, 'unreadable query-config arguments'),
  };

  const finish = (): void => {
    if (finished) return;
    finished = true;
    subscription.unsubscribe();
    // A client gone mid-request cancels its upstream calls, unless others share them.
    for (const query of inFlight) query.holder?.withdraw(query);
    inFlight.clear();
    hooks.connectionClosed?.(peer);
    done$.next();
    done$.complete();
    drained$.next();
  };

  const reject = (reason: string, message: string, extra: Record<string, unknown> = {}): void => {
    logger?.warn({ peer, reason, ...extra }, message);
    hooks.frameRejected?.(peer, reason);
    connection.destroy();
    finish();
  };

  const answer = (frame: RequestFrame): Buffer | typeof LATER | undefined => {
    context.now = scheduler.now();
    const result = dispatchFrame(frame, context);
    if (result === undefined || result instanceof Uint8Array) return result;
    hooks.queryReceived?.(result.table);
    if (inFlight.size >= 2 * maxInFlight) return encodeQueryConfigError('ERR_BUSY', result.seqid);
    inFlight.add(result);
    submitting = result;
    router.submit(result);
    submitting = undefined;
    // A table whose route is known to be unusable answers at once.
    const reply = replyAtOnce;
    replyAtOnce = undefined;
    return reply ?? LATER;
  };

  const onDrained = (): void => {
    writeBlocked?.unsubscribe();
    writeBlocked = undefined;
    flow.next('drained');
  };

  hooks.connectionOpened?.(peer);
  const partial = options.partialFrameTimeoutMs > 0 ? new Subject<number>() : undefined;
  if (partial !== undefined) {
    subscription.add(
      partial.pipe(idlePartialFrame(options.partialFrameTimeoutMs, scheduler)).subscribe((pendingBytes) =>
        reject('idle', 'closing connection: partial frame idle too long', { pendingBytes, timeoutMs: options.partialFrameTimeoutMs }),
      ),
    );
  }
  subscription.add(
    connection.chunks$
      .pipe(
        decodeFrames({ maxFrameBytes: options.maxFrameBytes, ...(partial && { onPartial: (bytes: number) => partial.next(bytes) }) }),
        mergeReplies(answer, answered, (pending) => {
          flow.next(pending);
          if (draining && pending === 0) drained$.next();
        }),
      )
      .subscribe({
        next: (reply) => {
          if (!connection.write(reply) && writeBlocked === undefined) {
            // Listened to only while blocked: an idle connection holds no drain subscription.
            writeBlocked = connection.drain$.subscribe(onDrained);
            subscription.add(writeBlocked);
            flow.next('blocked');
          }
        },
        error: (error: unknown) => {
          const reason = (error as { reason?: string }).reason ?? 'unreadable';
          reject(reason, 'closing connection: invalid frame', { err: (error as Error).message });
        },
        complete: () => {
          // The client ended its side and every request it sent is answered.
          connection.end();
          finish();
        },
      }),
  );
  subscription.add(connection.closed$.subscribe(() => finish()));

  return {
    connection,
    inFlight: () => inFlight.size,
    done$: done$.asObservable(),
    drain: () =>
      defer(() => {
        draining = true;
        flow.next('draining');
        return finished || inFlight.size === 0 ? of(undefined) : race(done$, drained$).pipe(take(1));
      }),
    close: () => {
      connection.destroy();
      finish();
    },
    end: () => {
      connection.end();
      finish();
    },
  };
}
