import { AsyncSubject, Observable, Subject, Subscriber, defer, of, race, take, type SchedulerLike, type Subscription } from 'rxjs';
import type { Logger } from 'pino';
import { decodeFrames } from '../operators/decodeFrames.js';
import { flowControl, type FlowEvent } from '../operators/flowControl.js';
import { idlePartialFrame } from '../operators/idlePartialFrame.js';
import { LATER, mergeReplies } from '../operators/mergeReplies.js';
import { encodeQueryConfigError } from '../protocol/response.js';
import type { ProtocolError } from '../errors.js';
import type { StringInterner } from '../protocol/intern.js';
import type { RequestFrame } from '../protocol/types.js';
import type { ClientConnection } from '../model/connectionTypes.js';
import { readRequest, type ReadRequestContext } from './readRequest.js';
import type { ProxyHooks } from '../model/proxyTypes.js';
import type { Query, QueryOrigin } from '../model/query.js';
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
export function serveConnection(
  connection: ClientConnection,
  options: ServeOptions,
  /** Called once when the connection is over, for whatever reason. */
  onClosed?: (session: ConnectionSession) => void,
): ConnectionSession {
  return new ConnectionServer(connection, options, onClosed);
}

/**
 * One connection's state, in the fields of one object: 10 000 idle
 * connections are a benchmark target, so per connection there is one pipeline
 * (chunks → frames → replies → socket) plus the close listener, and the flow
 * control and partial-frame watch are built only when first needed.
 */
class ConnectionServer implements ConnectionSession, QueryOrigin, ReadRequestContext {
  readonly peer: string;
  readonly origin: QueryOrigin = this;
  now = 0;
  readonly defaultTimeoutMs: number;
  readonly maxTimeoutMs: number;
  readonly names: StringInterner | undefined;
  /** Queries sent and not yet answered (created with the first). */
  private queries: Set<Query> | undefined;
  /**
   * Replies of this connection's queries, from their tables' pipelines, to
   * the one subscriber of `laterReplies$` (the connection's pipeline). Not a
   * Subject: one subscriber needs no list, and an idle connection should
   * cost little more than its socket.
   */
  private later: Subscriber<Buffer> | undefined;
  private readonly laterReplies$ = new Observable<Buffer>((subscriber) => {
    this.later = subscriber;
  });
  /** Built when reading first has to pause (in-flight limit, a blocked write, draining). */
  private flow: Subject<FlowEvent> | undefined;
  /** Built when a chunk first ends inside a frame. */
  private partial: Subject<number> | undefined;
  private done: AsyncSubject<void> | undefined;
  private drained: Subject<void> | undefined;
  private draining = false;
  private finished = false;
  private writeBlocked: Subscription | undefined;
  /** The query being handed to its pipeline right now, whose reply may come back at once. */
  private submitting: Query | undefined;
  private replyAtOnce: Buffer | undefined;
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
    options.hooks.connectionOpened?.(this.peer);
    const watchPartial = options.partialFrameTimeoutMs > 0 ? (bytes: number) => this.onPartial(bytes) : undefined;
    this.subscription = connection.chunks$
      .pipe(
        decodeFrames({ maxFrameBytes: options.maxFrameBytes, ...(watchPartial && { onPartial: watchPartial }) }),
        mergeReplies(
          (frame: RequestFrame) => this.answer(frame),
          this.laterReplies$,
          (pending) => this.onPending(pending),
        ),
      )
      .subscribe(new ReplyWriter(this));
    // A client gone mid-request cancels its upstream calls (unless others share them).
    this.subscription.add(connection.closed$.subscribe(new CloseWatcher(this)));
  }

  inFlight(): number {
    return this.queries?.size ?? 0;
  }

  get done$(): Observable<void> {
    this.done ??= new AsyncSubject<void>();
    if (this.finished) {
      this.done.next();
      this.done.complete();
    }
    return this.done.asObservable();
  }

  drain(): Observable<void> {
    return defer(() => {
      this.draining = true;
      this.flowEvent('draining');
      if (this.finished || this.inFlight() === 0) return of(undefined);
      this.drained ??= new Subject<void>();
      return race(this.done$, this.drained).pipe(take(1));
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

  /** QueryOrigin: a query of this connection has its reply. */
  answered(query: Query): void {
    const queries = this.queries;
    if (queries !== undefined) {
      queries.delete(query);
      // Dropped when empty: an idle connection keeps no set.
      if (queries.size === 0) this.queries = undefined;
    }
    if (query === this.submitting) this.replyAtOnce = query.reply;
    else this.later?.next(query.reply!);
  }

  /** Writes one reply; past the socket's buffer, reading pauses until it drains. */
  write(reply: Buffer): void {
    const connection = this.connection;
    if (!connection.write(reply) && this.writeBlocked === undefined && !this.finished) {
      // Listened to only while blocked: an idle connection holds no drain subscription.
      this.writeBlocked = connection.drain$.subscribe(() => this.onDrained());
      this.subscription.add(this.writeBlocked);
      this.flowEvent('blocked');
    }
  }

  reject(reason: string, message: string, extra: Record<string, unknown> = {}): void {
    this.options.logger?.warn({ peer: this.peer, reason, ...extra }, message);
    this.options.hooks.frameRejected?.(this.peer, reason);
    this.connection.destroy();
    this.finish();
  }

  finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.subscription.unsubscribe();
    const queries = this.queries;
    if (queries !== undefined) {
      for (const query of queries) query.holder?.withdraw(query);
      queries.clear();
    }
    this.options.hooks.connectionClosed?.(this.peer);
    this.done?.next();
    this.done?.complete();
    this.drained?.next();
    this.onClosed?.(this);
  }

  private answer(frame: RequestFrame): Buffer | typeof LATER | undefined {
    const options = this.options;
    this.now = options.scheduler.now();
    const result = readRequest(frame, this);
    if (result === undefined || result instanceof Uint8Array) return result;
    options.hooks.queryReceived?.(result.table);
    const queries = (this.queries ??= new Set());
    if (queries.size >= 2 * options.maxInFlightPerConnection) return encodeQueryConfigError('ERR_BUSY', result.seqid);
    queries.add(result);
    this.submitting = result;
    options.router.submit(result);
    this.submitting = undefined;
    // A table whose route is known to be unusable answers at once.
    const reply = this.replyAtOnce;
    this.replyAtOnce = undefined;
    return reply ?? LATER;
  }

  onUnreadableArgs(error: ProtocolError): void {
    this.options.logger?.warn({ peer: this.peer, err: error.message }, 'unreadable query-config arguments');
  }

  private onPending(pending: number): void {
    if (this.flow !== undefined || pending >= this.options.maxInFlightPerConnection) this.flowEvent(pending);
    if (this.draining && pending === 0) this.drained?.next();
  }

  private onDrained(): void {
    this.writeBlocked?.unsubscribe();
    this.writeBlocked = undefined;
    this.flowEvent('drained');
  }

  private flowEvent(event: FlowEvent): void {
    if (this.flow === undefined) {
      if (this.finished) return;
      this.flow = new Subject<FlowEvent>();
      const connection = this.connection;
      this.subscription.add(
        this.flow.pipe(flowControl(this.options.maxInFlightPerConnection)).subscribe((pause) => (pause ? connection.pause() : connection.resume())),
      );
      // The count so far, so the operator starts from where the connection is.
      if (typeof event !== 'number') this.flow.next(this.inFlight());
    }
    this.flow.next(event);
  }

  private onPartial(bytes: number): void {
    if (this.partial === undefined) {
      if (bytes === 0 || this.finished) return;
      const timeoutMs = this.options.partialFrameTimeoutMs;
      this.partial = new Subject<number>();
      this.subscription.add(
        this.partial
          .pipe(idlePartialFrame(timeoutMs, this.options.scheduler))
          .subscribe((pendingBytes) => this.reject('idle', 'closing connection: partial frame idle too long', { pendingBytes, timeoutMs })),
      );
    }
    this.partial.next(bytes);
  }
}

/**
 * The end of a connection's pipeline: replies to the socket; a bad frame or
 * the client's end closes it. A Subscriber of its own (as the close watcher
 * below) so that subscribing wraps nothing: it lives as long as the connection.
 */
class ReplyWriter extends Subscriber<Buffer> {
  constructor(private readonly server: ConnectionServer) {
    super();
  }

  protected override _next(reply: Buffer): void {
    this.server.write(reply);
  }

  protected override _error(error: unknown): void {
    this.unsubscribe();
    const reason = (error as { reason?: string }).reason ?? 'unreadable';
    this.server.reject(reason, 'closing connection: invalid frame', { err: (error as Error).message });
  }

  protected override _complete(): void {
    this.unsubscribe();
    // The client ended its side and every request it sent is answered.
    this.server.end();
  }
}

/** Finishes the connection when its socket is gone. */
class CloseWatcher extends Subscriber<void> {
  constructor(private readonly server: ConnectionServer) {
    super();
  }

  protected override _next(): void {
    this.server.finish();
  }

  protected override _error(): void {
    this.unsubscribe();
    this.server.finish();
  }

  protected override _complete(): void {
    this.unsubscribe();
  }
}
