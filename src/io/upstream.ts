import { Observable } from 'rxjs';
import type { Logger } from 'pino';
import { ConfigError } from '../errors.js';
import type { StringInterner } from '../protocol/intern.js';
import type { MetaAnswer, MetaCaller, MetaDispatcher } from '../model/upstream.js';
import { UpstreamConnection, type UpstreamMetaStats } from './upstreamConnection.js';

export type { UpstreamMetaStats, UpstreamState } from './upstreamConnection.js';

export interface UpstreamPoolOptions {
  /** A connect attempt taking longer fails the calls waiting on it. */
  connectTimeoutMs: number;
  /** Calls pending per meta (sent or queued); beyond it calls fail with 'overloaded'. */
  maxPendingCalls: number;
  /**
   * After a failed connect, calls to that meta fail fast for this long, doubling
   * per further failure up to `maxMs`. Default 100 → 2000 ms.
   */
  reconnectBackoff?: { initialMs: number; maxMs: number };
  /** A reply frame declaring more bytes than this is garbage. Default 64 MiB. */
  maxReplyBytes?: number;
  /**
   * Calls in a row outrun by other metas of the cluster before a connection
   * is closed and opened afresh (it looks stuck); 0 = never. Default 0.
   */
  silentReconnectAfter?: number;
  /**
   * `retain` closes a connection to a meta it is not told to keep once no call
   * has used it for this long. Default 5 minutes; 0 never closes one.
   */
  idleCloseMs?: number;
  /**
   * The pool closed the connection to `meta` on purpose (`reason`: `unused`,
   * or `silent` when its calls kept going unanswered); a later call connects again.
   */
  onClose?(meta: string, reason: 'unused' | 'silent'): void;
  /** Reads the error and RPC names of replies as shared strings (cheaper than decoding each). */
  names?: StringInterner;
  logger?: Logger;
}

export interface UpstreamPool extends MetaDispatcher {
  /**
   * The same calls as an Observable per call, for tools that make a few:
   * subscribing sends, the answer arrives once, unsubscribing forgets the call.
   */
  call: MetaCaller;
  /** One entry per meta with a connection (open or not) in the pool. */
  stats(): UpstreamMetaStats[];
  /** Sockets connected to a meta right now. */
  openConnections(): number;
  /**
   * Closes and forgets the connections to metas not in `named` that have had no
   * call for `idleCloseMs`, so the pool does not grow as clusters are replaced.
   * Returns the metas whose connection was closed.
   */
  retain(named: ReadonlySet<string>): string[];
  /** Closes every connection; pending and later calls fail with 'closed'. */
  close(): void;
}

const DEFAULT_IDLE_CLOSE_MS = 5 * 60 * 1000;

function positive(name: string, v: number | undefined): number {
  if (v === undefined || !Number.isFinite(v) || v <= 0) {
    throw new ConfigError(`Upstream option ${name} must be a positive number, got ${String(v)}.`);
  }
  return v;
}

/**
 * The MetaServer driver: one persistent TCP connection per meta address,
 * shared by every call to it. `call` is cold — subscribing sends, the answer
 * arrives once, unsubscribing forgets the call.
 */
export function createUpstreamPool(options: UpstreamPoolOptions): UpstreamPool {
  const connectionOptions = {
    connectTimeoutMs: positive('connectTimeoutMs', options.connectTimeoutMs),
    maxPendingCalls: positive('maxPendingCalls', options.maxPendingCalls),
    backoffInitialMs: positive('reconnectBackoff.initialMs', options.reconnectBackoff?.initialMs ?? 100),
    backoffMaxMs: positive('reconnectBackoff.maxMs', options.reconnectBackoff?.maxMs ?? 2000),
    maxReplyBytes: positive('maxReplyBytes', options.maxReplyBytes ?? 64 * 1024 * 1024),
    silentReconnectAfter: options.silentReconnectAfter ?? 0,
    onReconnect: options.onClose === undefined ? undefined : (meta: string) => options.onClose?.(meta, 'silent'),
    names: options.names,
    logger: options.logger,
  };
  if (!Number.isInteger(connectionOptions.silentReconnectAfter) || connectionOptions.silentReconnectAfter < 0) {
    throw new ConfigError(`Upstream option silentReconnectAfter must be a whole number ≥ 0, got ${String(options.silentReconnectAfter)}.`);
  }
  const idleCloseMs = options.idleCloseMs ?? DEFAULT_IDLE_CLOSE_MS;
  if (!Number.isFinite(idleCloseMs) || idleCloseMs < 0) {
    throw new ConfigError(`Upstream option idleCloseMs must be 0 or a positive number, got ${String(idleCloseMs)}.`);
  }
  const connections = new Map<string, UpstreamConnection>();
  let closed = false;

  const connection = (meta: string): UpstreamConnection => {
    let c = connections.get(meta);
    if (!c) {
      c = new UpstreamConnection(meta, connectionOptions);
      if (closed) c.close();
      connections.set(meta, c);
    }
    return c;
  };

  return {
    send: (meta, request, handler) => connection(meta).send(request, handler),
    cancel: (meta, ticket, reason) => connections.get(meta)?.cancel(ticket, reason),
    call: (meta, request) =>
      new Observable<MetaAnswer>((subscriber) => {
        const target = connection(meta);
        let answered = false;
        const ticket = target.send(request, {
          metaAnswered: (_meta, _ticket, answer) => {
            answered = true;
            subscriber.next(answer);
            subscriber.complete();
          },
          metaFailed: (_meta, _ticket, error) => {
            answered = true;
            subscriber.error(error);
          },
        });
        if (typeof ticket !== 'number') {
          subscriber.error(ticket);
          return undefined;
        }
        return () => {
          if (!answered) target.cancel(ticket, 'dropped');
        };
      }),
    stats: () => [...connections.values()].map((c) => c.stats()),
    openConnections: () => {
      let open = 0;
      for (const c of connections.values()) if (c.isOpen()) open++;
      return open;
    },
    retain(named) {
      if (idleCloseMs === 0 || closed) return [];
      const now = Date.now();
      const dropped: string[] = [];
      for (const [meta, c] of connections) {
        if (named.has(meta)) continue;
        const unusedMs = c.unusedForMs(now);
        if (unusedMs < idleCloseMs) continue;
        connections.delete(meta);
        // Closed for good: a later call to the meta builds a new connection.
        c.close();
        dropped.push(meta);
        options.logger?.info({ meta, unusedMs, reason: 'unused' }, 'closed the connection to a MetaServer no cached route names');
        options.onClose?.(meta, 'unused');
      }
      return dropped;
    },
    close() {
      closed = true;
      for (const c of connections.values()) c.close();
    },
  };
}
