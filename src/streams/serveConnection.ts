import { Observable, defer, type Subscriber, type Subscription } from 'rxjs';
import { decodeFrames } from '../operators/decodeFrames.js';
import { idlePartialFrame, type PartialFrameWatch } from '../operators/idlePartialFrame.js';
import { LATER, mergeReplies } from '../operators/mergeReplies.js';
import { encodeQueryConfigError } from '../protocol/response.js';
import type { ProtocolError } from '../errors.js';
import type { StringInterner } from '../protocol/intern.js';
import type { RequestFrame } from '../protocol/types.js';
import type { ClientConnection } from '../model/connectionTypes.js';
import type { Query, QueryOrigin } from '../model/query.js';
import { ConnectionFlow } from './connectionFlow.js';
import { ConnectionLifecycle } from './connectionLifecycle.js';
import { readRequest, type ReadRequestContext } from './readRequest.js';
import type { ConnectionSession, ServeOptions } from './connectionSession.js';

export type { ConnectionSession, ServeOptions } from './connectionSession.js';

/**
 * Serves one client connection with one pipeline: chunks → frames → a reply at once, or a query handed to its table's
 * pipeline whose reply comes back through `answered` → `later$` → the socket.
 *
 * ```
 * chunks$:  --a---b--c---|       a: query, b: another RPC, c: query
 * replies:  ------B-A---C|       B at once; A and C from their tables' pipelines
 * ```
 *
 * Reading pauses (`flowControl`) at `maxInFlightPerConnection` requests in flight or while the client does not drain
 * its replies; frames already read beyond twice the limit are answered `ERR_BUSY` at once, so the queue stays bounded.
 * A malformed frame, or a partial frame held idle too long (`idlePartialFrame`), closes this connection only. A client
 * gone mid-request withdraws its queries (their cluster calls are dropped unless shared). Drain, close and done:
 * `ConnectionLifecycle`.
 */
export function serveConnection(connection: ClientConnection, options: ServeOptions, onClosed?: (session: ConnectionSession) => void): ConnectionSession {
  return new ConnectionServer(connection, options, onClosed);
}

/** One connection's state in the fields of one object: 10 000 idle connections are a benchmark target. */
class ConnectionServer implements ConnectionSession, QueryOrigin, ReadRequestContext {
  readonly peer: string;
  readonly origin: QueryOrigin = this;
  now = 0;
  readonly defaultTimeoutMs: number;
  readonly maxTimeoutMs: number;
  readonly names: StringInterner | undefined;
  /** The one subscriber of `later$`, mergeReplies': not a Subject, one subscriber needs no list. */
  private later: Subscriber<Buffer> | undefined;
  private readonly flow: ConnectionFlow;
  private readonly partial: PartialFrameWatch | undefined;
  private readonly life = new ConnectionLifecycle();
  private readonly subscription: Subscription;

  constructor(
    readonly connection: ClientConnection,
    private readonly options: ServeOptions,
    private readonly onClosed: ((session: ConnectionSession) => void) | undefined,
  ) {
    this.peer = connection.peer;
    this.defaultTimeoutMs = options.defaultTimeoutMs;
    this.maxTimeoutMs = options.maxTimeoutMs;
    this.names = options.names;
    this.flow = new ConnectionFlow(connection, options.maxInFlightPerConnection);
    const timeoutMs = options.partialFrameTimeoutMs;
    const partial = (this.partial = timeoutMs > 0 ? idlePartialFrame(timeoutMs, options.scheduler, (pendingBytes) => this.reject('idle', 'closing connection: partial frame idle too long', { pendingBytes, timeoutMs })) : undefined);
    options.hooks.connectionOpened?.(this.peer);
    const later$ = new Observable<Buffer>((subscriber) => void (this.later = subscriber));
    this.subscription = connection.chunks$
      .pipe(
        decodeFrames({ maxFrameBytes: options.maxFrameBytes, ...(partial && { onPartial: (bytes: number) => partial.report(bytes) }) }),
        mergeReplies((frame: RequestFrame) => this.answer(frame), later$, (pending) => this.onPending(pending)),
      )
      .subscribe({
        next: (reply) => this.flow.write(reply),
        error: (error: { reason?: string; message?: string }) => this.reject(error.reason ?? 'unreadable', 'closing connection: invalid frame', { err: error.message }),
        // The client ended its side and every request it sent is answered.
        complete: () => this.end(),
      });
    // A client gone mid-request cancels its upstream calls (unless others share them).
    this.subscription.add(connection.closed$.subscribe({ next: () => this.finish(), error: () => this.finish() }));
  }

  get done$(): Observable<void> {
    return this.life.done$;
  }

  inFlight(): number {
    return this.life.inFlight();
  }

  drain(): Observable<void> {
    return defer(() => {
      this.flow.event('draining');
      return this.life.drain();
    });
  }

  close(): void {
    this.connection.destroy();
    this.finish();
  }

  end(): void {
    this.connection.end();
    this.finish();
  }

  /** QueryOrigin: a query of this connection has its reply, maybe while it is still being submitted. */
  answered(query: Query): void {
    this.life.answered(query);
    this.later?.next(query.reply!);
  }

  onUnreadableArgs(error: ProtocolError): void {
    this.options.logger?.warn({ peer: this.peer, err: error.message }, 'unreadable query-config arguments');
  }

  /** The lifecycle's, when the connection is over: the pipeline, its listeners and timers go. */
  tearDown(): void {
    this.flow.stop();
    this.subscription?.unsubscribe();
    this.partial?.stop();
  }

  /** The lifecycle's, once the queries in flight are withdrawn. */
  closed(): void {
    this.options.hooks.connectionClosed?.(this.peer);
  }

  private finish(): void {
    if (this.life.finish(this)) this.onClosed?.(this);
  }

  private answer(frame: RequestFrame): Buffer | typeof LATER | undefined {
    const options = this.options;
    this.now = options.scheduler.now();
    const result = readRequest(frame, this);
    if (result === undefined || result instanceof Uint8Array) return result;
    options.hooks.queryReceived?.(result.table);
    if (this.life.inFlight() >= 2 * options.maxInFlightPerConnection) return encodeQueryConfigError('ERR_BUSY', result.seqid);
    this.life.sent(result);
    // A table whose route is known to be unusable answers during submit, through later$ like any other.
    options.router.submit(result);
    return LATER;
  }

  private onPending(pending: number): void {
    this.flow.event(pending);
    this.life.pendingChanged(pending);
  }

  private reject(reason: string, message: string, extra: Record<string, unknown>): void {
    this.options.logger?.warn({ peer: this.peer, reason, ...extra }, message);
    this.options.hooks.frameRejected?.(this.peer, reason);
    this.connection.destroy();
    this.finish();
  }
}
