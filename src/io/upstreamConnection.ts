import net from 'node:net';
import type { Logger } from 'pino';
import type { StringInterner } from '../protocol/intern.js';
import { UpstreamError } from '../errors.js';
import { parseHostPort } from '../protocol/hostPort.js';
import { BatchedWriter } from './batchedWriter.js';
import { encodeMetaRequest } from '../protocol/metaRequest.js';
import { readMetaReply, replyFrameLength } from '../protocol/metaReply.js';
import type { CancelReason, MetaHandler, MetaRequest } from '../model/upstream.js';

export interface UpstreamConnectionOptions {
  connectTimeoutMs: number;
  maxPendingCalls: number;
  backoffInitialMs: number;
  backoffMaxMs: number;
  maxReplyBytes: number;
  /**
   * Calls in a row given up as outrun (silent past the backup delay while
   * another meta of the cluster answered) before the connection is closed and
   * opened afresh; 0 = never.
   */
  silentReconnectAfter: number;
  /** The pool closed a connection of its own accord, to open a new one when next needed. */
  onReconnect: ((meta: string, reason: 'silent') => void) | undefined;
  /** Error and RPC names of replies are read through it. */
  names: StringInterner | undefined;
  logger: Logger | undefined;
}

export type UpstreamState = 'idle' | 'connecting' | 'open' | 'backoff';

export interface UpstreamMetaStats {
  meta: string;
  state: UpstreamState;
  /** Calls waiting for an answer, including those waiting for the connection. */
  pending: number;
  /** Of those, calls not yet written because the connection is not up. */
  queued: number;
  calls: number;
  answers: number;
  failures: number;
  connects: number;
}

/** The smallest reply frame: length, empty error name, message begin with empty name, seqid. */
const MIN_REPLY_BYTES = 4 + 4 + 4 + 4 + 4;
const MAX_SEQID = 0x7fffffff;

/** One socket's life: what fails its calls when it closes, and bytes of a frame split across chunks. */
interface Link {
  socket: net.Socket;
  connected: boolean;
  /** Set when the proxy itself closes the socket, so pending calls get the real reason. */
  failure: UpstreamError | undefined;
  /** Last socket error, for the message of connect failures. */
  error: Error | undefined;
  rest: Buffer | undefined;
  connectTimer: NodeJS.Timeout | undefined;
}

/**
 * The one persistent connection to one MetaServer, shared by every call to it.
 * Calls are multiplexed by this connection's own seqids and matched back
 * through a map; calls made while connecting wait in a bounded queue.
 */
export class UpstreamConnection {
  private link: Link | undefined;
  private state: UpstreamState = 'idle';
  private readonly pending = new Map<number, MetaHandler>();
  /** Frames of calls made before the connection was up, in call order. */
  private readonly queued = new Map<number, Buffer>();
  private nextSeqid = 1;
  private backoffMs = 0;
  private retryAt = 0;
  private lastFailure = '';
  private closed = false;
  /**
   * Epoch ms the connection was last known in use: stamped when a call is
   * given up or fails, and by `unusedForMs` when a call was sent since it last
   * looked (a flag, so sending a request reads no clock on the hot path).
   */
  private lastUsedAt = Date.now();
  private sentSinceCheck = false;
  private calls = 0;
  private answers = 0;
  private failures = 0;
  private connects = 0;
  /** Calls outrun by another meta since this connection last answered anything. */
  private outrunStreak = 0;
  /** Requests written in one turn leave in one writev. */
  private readonly writer = new BatchedWriter();

  constructor(
    readonly meta: string,
    private readonly options: UpstreamConnectionOptions,
  ) {}

  /**
   * Sends `request`; the answer or failure goes to `handler` under the
   * returned ticket (this connection's seqid for the call). Returns the
   * refusal instead when the call cannot even be tried.
   */
  send(request: MetaRequest, handler: MetaHandler): number | UpstreamError {
    this.calls++;
    this.sentSinceCheck = true;
    const refusal = this.refusal();
    if (refusal) {
      this.failures++;
      return refusal;
    }
    const seqid = this.takeSeqid();
    const frame = encodeMetaRequest(request.name, seqid, request.args, request.timeoutMs);
    this.pending.set(seqid, handler);
    if (this.state === 'open' && this.link) {
      this.write(this.link, frame);
    } else {
      this.queued.set(seqid, frame);
      if (this.state !== 'connecting') this.connect();
    }
    return seqid;
  }

  /** Forgets the call `ticket`; its late answer is dropped. */
  cancel(ticket: number, reason: CancelReason): void {
    if (!this.pending.delete(ticket)) return;
    // A call given up may have waited long: idleness starts from here.
    this.stampUse();
    const written = !this.queued.delete(ticket);
    if (reason !== 'outrun' || !written || this.options.silentReconnectAfter <= 0) return;
    this.outrunStreak++;
    if (this.outrunStreak >= this.options.silentReconnectAfter && this.state === 'open' && this.link) {
      this.options.logger?.warn(
        { meta: this.meta, outrunCalls: this.outrunStreak },
        'MetaServer connection stuck: calls keep going unanswered while other metas of its cluster answer; reconnecting',
      );
      const link = this.link;
      link.failure = new UpstreamError(
        this.meta,
        'closed',
        `The connection to MetaServer ${this.meta} was closed by the proxy: ${this.outrunStreak} calls in a row went unanswered while other metas answered.`,
      );
      this.outrunStreak = 0;
      link.socket.destroy();
      this.options.onReconnect?.(this.meta, 'silent');
    }
  }

  /**
   * Writes a request; every request made in the same turn of the event loop
   * (one client chunk carries many) goes out in one writev, and the meta reads
   * them as one chunk. A full socket buffer needs no pause here: what can sit
   * in it is bounded by maxPendingCalls.
   */
  private write(link: Link, frame: Buffer): void {
    this.writer.write(link.socket, frame);
  }

  stats(): UpstreamMetaStats {
    return {
      meta: this.meta,
      state: this.state,
      pending: this.pending.size,
      queued: this.queued.size,
      calls: this.calls,
      answers: this.answers,
      failures: this.failures,
      connects: this.connects,
    };
  }

  /**
   * Milliseconds the connection has been unused; 0 while calls are pending or
   * when one was sent since the last look. Counted from a call given up or
   * failed, or from the look that found the last answered ones (the periodic
   * check runs at half the idle time, so at most that much later).
   */
  unusedForMs(now: number): number {
    if (this.pending.size > 0) return 0;
    if (this.sentSinceCheck) {
      this.sentSinceCheck = false;
      this.lastUsedAt = now;
      return 0;
    }
    return Math.max(0, now - this.lastUsedAt);
  }

  private stampUse(): void {
    this.sentSinceCheck = false;
    this.lastUsedAt = Date.now();
  }

  /** True while a socket is connected to the meta. */
  isOpen(): boolean {
    return this.state === 'open';
  }

  /** Closes the socket and fails every pending call now; later calls fail with 'closed'. */
  close(): void {
    this.closed = true;
    const link = this.link;
    this.link = undefined;
    this.state = 'idle';
    if (link) {
      clearTimeout(link.connectTimer);
      link.socket.destroy();
    }
    this.failAll(new UpstreamError(this.meta, 'closed', `The connection to MetaServer ${this.meta} was closed by the proxy.`));
  }

  /** Why a new call cannot even be tried, if it cannot. */
  private refusal(): UpstreamError | undefined {
    if (this.closed) {
      return new UpstreamError(this.meta, 'closed', `The upstream pool is closed; MetaServer ${this.meta} was not asked.`);
    }
    if (this.pending.size >= this.options.maxPendingCalls) {
      return new UpstreamError(
        this.meta,
        'overloaded',
        `MetaServer ${this.meta} already has ${this.pending.size} calls pending (the limit).`,
      );
    }
    if (this.state === 'backoff') {
      const wait = this.retryAt - Date.now();
      // Fail fast rather than hammer a meta that just refused: the caller moves on to another.
      if (wait > 0) {
        return new UpstreamError(
          this.meta,
          'connect',
          `MetaServer ${this.meta} is unreachable (${this.lastFailure}); next connect attempt in ${wait} ms.`,
        );
      }
    }
    return undefined;
  }

  private takeSeqid(): number {
    do {
      const s = this.nextSeqid;
      this.nextSeqid = s >= MAX_SEQID ? 1 : s + 1;
      if (!this.pending.has(s)) return s;
    } while (true);
  }

  private connect(): void {
    const parsed = parseHostPort(this.meta, { minPort: 1 });
    const target = 'error' in parsed ? undefined : parsed;
    if (!target) {
      this.enterBackoff();
      this.failAll(new UpstreamError(this.meta, 'connect', `MetaServer address "${this.meta}" is not host:port.`));
      return;
    }
    this.state = 'connecting';
    const socket = net.connect({ host: target.host, port: target.port });
    socket.setNoDelay(true);
    // A meta host that vanished without a FIN (power loss, a partition) would
    // otherwise leave this link looking open until the kernel gives up on
    // unacknowledged data; keepalive probes find it within about a minute.
    socket.setKeepAlive(true, 15_000);
    const link: Link = { socket, connected: false, failure: undefined, error: undefined, rest: undefined, connectTimer: undefined };
    this.link = link;
    link.connectTimer = setTimeout(() => {
      link.failure = new UpstreamError(
        this.meta,
        'timeout',
        `Connecting to MetaServer ${this.meta} took longer than ${this.options.connectTimeoutMs} ms.`,
      );
      socket.destroy();
    }, this.options.connectTimeoutMs);
    link.connectTimer.unref();
    socket.once('connect', () => this.onConnect(link));
    socket.on('data', (chunk: Buffer) => this.onData(link, chunk));
    socket.on('error', (err) => {
      link.error = err;
    });
    socket.once('close', () => this.onClose(link));
  }

  private onConnect(link: Link): void {
    if (this.link !== link) return;
    clearTimeout(link.connectTimer);
    link.connected = true;
    this.state = 'open';
    this.backoffMs = 0;
    this.connects++;
    this.options.logger?.debug({ meta: this.meta, queued: this.queued.size }, 'connected to MetaServer');
    if (this.queued.size === 0) return;
    for (const frame of this.queued.values()) this.write(link, frame);
    this.queued.clear();
  }

  private onData(link: Link, chunk: Buffer): void {
    if (this.link !== link) return;
    const buf = link.rest ? Buffer.concat([link.rest, chunk]) : chunk;
    link.rest = undefined;
    let off = 0;
    while (this.link === link) {
      const length = replyFrameLength(buf, off);
      if (length === undefined) break;
      if (length < MIN_REPLY_BYTES || length > this.options.maxReplyBytes) {
        this.reject(link, `a reply frame length of ${length} bytes`);
        return;
      }
      if (off + length > buf.length) break;
      const frame = buf.subarray(off, off + length);
      off += length;
      let reply;
      try {
        reply = readMetaReply(frame, this.options.names);
      } catch (err) {
        this.reject(link, (err as Error).message);
        return;
      }
      this.outrunStreak = 0;
      const handler = this.pending.get(reply.seqid);
      // No entry: the caller gave the call up before the answer came.
      if (!handler) continue;
      this.pending.delete(reply.seqid);
      this.answers++;
      handler.metaAnswered(this.meta, reply.seqid, { meta: this.meta, reply, frame });
    }
    if (this.link === link && off < buf.length) link.rest = buf.subarray(off);
  }

  /** The meta sent bytes that are not a reply: nothing more on this socket can be trusted. */
  private reject(link: Link, what: string): void {
    this.options.logger?.warn({ meta: this.meta, problem: what }, 'unreadable reply from MetaServer, closing the connection');
    link.failure = new UpstreamError(this.meta, 'protocol', `MetaServer ${this.meta} sent an unreadable reply: ${what}.`);
    link.socket.destroy();
  }

  private onClose(link: Link): void {
    clearTimeout(link.connectTimer);
    if (this.link !== link) return;
    this.link = undefined;
    this.outrunStreak = 0;
    let failure = link.failure;
    if (!link.connected) {
      failure ??= new UpstreamError(
        this.meta,
        'connect',
        `Cannot connect to MetaServer ${this.meta}: ${link.error?.message ?? 'connection closed'}.`,
        { cause: link.error },
      );
      this.lastFailure = failure.message;
      this.enterBackoff();
      this.options.logger?.warn({ meta: this.meta, retryInMs: this.backoffMs, err: link.error }, 'cannot connect to MetaServer');
    } else {
      // A dropped connection is not a refusal: the next call reconnects at once.
      this.state = 'idle';
      failure ??= new UpstreamError(
        this.meta,
        'closed',
        `The connection to MetaServer ${this.meta} closed${link.error ? `: ${link.error.message}` : ''}.`,
        { cause: link.error },
      );
      if (this.pending.size > 0) {
        this.options.logger?.warn({ meta: this.meta, pending: this.pending.size }, 'MetaServer connection dropped');
      }
    }
    this.failAll(failure);
  }

  private enterBackoff(): void {
    const { backoffInitialMs, backoffMaxMs } = this.options;
    this.backoffMs = this.backoffMs === 0 ? backoffInitialMs : Math.min(this.backoffMs * 2, backoffMaxMs);
    this.retryAt = Date.now() + this.backoffMs;
    this.state = 'backoff';
  }

  private failAll(error: UpstreamError): void {
    if (this.pending.size === 0) return;
    const calls = [...this.pending];
    this.pending.clear();
    this.queued.clear();
    this.stampUse();
    this.failures += calls.length;
    for (const [ticket, handler] of calls) handler.metaFailed(this.meta, ticket, error);
  }
}
