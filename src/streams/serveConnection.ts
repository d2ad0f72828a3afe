import { Observable, Subscription, type SchedulerLike } from 'rxjs';
import type { Logger } from 'pino';
import { decodeFrames } from '../operators/decodeFrames.js';
import { mergeReplies } from '../operators/mergeReplies.js';
import { readMessageBegin, readQueryConfigRequest } from '../protocol/request.js';
import { encodeHandlerNotFound, encodeQueryConfigError } from '../protocol/response.js';
import { RPC_QUERY_CONFIG } from '../protocol/errorCodes.js';
import { ProtocolError } from '../errors.js';
import type { RequestFrame } from '../protocol/types.js';
import type { ClientConnection } from './connectionTypes.js';
import { answerQuery, type AnswerQueryDeps } from './answerQuery.js';

const ONEWAY = 4;

export interface ServeOptions extends AnswerQueryDeps {
  maxFrameBytes: number;
  maxInFlightPerConnection: number;
  /** Close a connection holding a partial frame for this long; 0 = never. */
  partialFrameTimeoutMs: number;
  scheduler: SchedulerLike;
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
 * Serves one client connection: frames in, replies out as they complete.
 *
 * Flow control: at `maxInFlightPerConnection` pending requests, or while the
 * client is not draining its replies, reading stops (TCP pushes back on the
 * client). Frames already read beyond twice the limit (one large chunk can
 * carry many) are answered `ERR_BUSY` at once, so the queue stays bounded.
 * A malformed frame closes this connection only.
 */
export function serveConnection(connection: ClientConnection, options: ServeOptions): ConnectionSession {
  const { scheduler, logger, hooks } = options;
  const maxInFlight = options.maxInFlightPerConnection;
  let inFlight = 0;
  let writeBlocked = false;
  let draining = false;
  let paused = false;
  let finished = false;
  const doneWaiters: Array<() => void> = [];
  const drainWaiters: Array<() => void> = [];
  const subscription = new Subscription();

  const updateFlow = () => {
    const shouldPause = draining || writeBlocked || inFlight >= maxInFlight;
    if (shouldPause === paused) return;
    paused = shouldPause;
    if (paused) connection.pause();
    else connection.resume();
  };

  const finish = () => {
    if (finished) return;
    finished = true;
    subscription.unsubscribe();
    hooks.connectionClosed?.(connection.peer);
    for (const waiter of doneWaiters.splice(0)) waiter();
    for (const waiter of drainWaiters.splice(0)) waiter();
  };

  // Partial-frame idle timer: a connection that holds an incomplete frame and
  // sends nothing more for partialFrameTimeoutMs is closed (slowloris). Any
  // chunk counts as progress; rather than re-arm a timer per chunk, the one
  // timer checks on expiry whether progress was made and sleeps on if so.
  let partialTimer: Subscription | undefined;
  let pendingBytes = 0;
  let lastProgressAt = 0;
  const idleMs = options.partialFrameTimeoutMs;
  const armPartialTimer = (delay: number) => {
    partialTimer = scheduler.schedule(function check() {
      const idleFor = scheduler.now() - lastProgressAt;
      if (pendingBytes === 0) {
        partialTimer = undefined;
      } else if (idleFor < idleMs) {
        this.schedule(undefined, idleMs - idleFor);
      } else {
        logger?.warn({ peer: connection.peer, pendingBytes, timeoutMs: idleMs }, 'closing connection: partial frame idle too long');
        hooks.frameRejected?.(connection.peer, 'idle');
        connection.destroy();
        finish();
      }
    }, delay);
    subscription.add(partialTimer);
  };
  const onPartial = (pending: number) => {
    if (idleMs <= 0) return;
    pendingBytes = pending;
    lastProgressAt = scheduler.now();
    if (pending > 0 && partialTimer === undefined) armPartialTimer(idleMs);
  };

  const answer = (frame: RequestFrame): Buffer | Observable<Buffer> | undefined => {
    // An unreadable message begin leaves no seqid to answer under: the frame
    // is garbage, and the throw closes the connection.
    const begin = readMessageBegin(frame.body);
    if (begin.type === ONEWAY) return undefined;
    if (begin.name !== RPC_QUERY_CONFIG) return encodeHandlerNotFound(begin.name, begin.seqid);
    let request;
    try {
      request = readQueryConfigRequest(frame.body, begin.argsOffset);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      logger?.warn({ peer: connection.peer, err: error.message }, 'unreadable query-config arguments');
      return encodeQueryConfigError('ERR_INVALID_PARAMETERS', begin.seqid);
    }
    hooks.queryReceived?.(request.table);
    if (inFlight >= 2 * maxInFlight) return encodeQueryConfigError('ERR_BUSY', begin.seqid);
    return answerQuery(options, {
      table: request.table,
      partitionIndices: request.partitionIndices,
      seqid: begin.seqid,
      name: begin.name,
      args: frame.body.subarray(begin.argsOffset),
      clientTimeoutMs: frame.header.clientTimeoutMs,
      peer: connection.peer,
    });
  };

  const onInFlight = (count: number) => {
    inFlight = count;
    updateFlow();
    if (draining && count === 0) for (const waiter of drainWaiters.splice(0)) waiter();
  };

  let drainWait: Subscription | undefined;
  const onDrained = (): void => {
    if (drainWait !== undefined) {
      subscription.remove(drainWait);
      drainWait.unsubscribe();
      drainWait = undefined;
    }
    writeBlocked = false;
    updateFlow();
  };

  hooks.connectionOpened?.(connection.peer);
  subscription.add(
    connection.chunks$
      .pipe(decodeFrames({ maxFrameBytes: options.maxFrameBytes, onPartial }), mergeReplies(answer, onInFlight))
      .subscribe({
        next: (reply) => {
          if (!connection.write(reply) && !writeBlocked) {
            writeBlocked = true;
            // Listened to only while blocked: an idle connection holds no drain subscription.
            drainWait = connection.drain$.subscribe(onDrained);
            subscription.add(drainWait);
            updateFlow();
          }
        },
        error: (error: unknown) => {
          const reason = (error as { reason?: string }).reason ?? 'unreadable';
          logger?.warn({ peer: connection.peer, reason, err: (error as Error).message }, 'closing connection: invalid frame');
          hooks.frameRejected?.(connection.peer, reason);
          connection.destroy();
          finish();
        },
        complete: () => {
          // The client ended its side and every request it sent is answered.
          connection.end();
          finish();
        },
      }),
  );
  // A client gone mid-request cancels its upstream calls (their teardown).
  subscription.add(connection.closed$.subscribe(() => finish()));

  const done$ = new Observable<void>((subscriber) => {
    if (finished) {
      subscriber.next();
      subscriber.complete();
      return undefined;
    }
    const waiter = () => {
      subscriber.next();
      subscriber.complete();
    };
    doneWaiters.push(waiter);
    return () => {
      const i = doneWaiters.indexOf(waiter);
      if (i >= 0) doneWaiters.splice(i, 1);
    };
  });

  return {
    connection,
    inFlight: () => inFlight,
    done$,
    drain: () =>
      new Observable<void>((subscriber) => {
        draining = true;
        updateFlow();
        const waiter = () => {
          subscriber.next();
          subscriber.complete();
        };
        if (finished || inFlight === 0) {
          waiter();
          return undefined;
        }
        drainWaiters.push(waiter);
        return () => {
          const i = drainWaiters.indexOf(waiter);
          if (i >= 0) drainWaiters.splice(i, 1);
        };
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
