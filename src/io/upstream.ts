import { Observable } from 'rxjs';
import type { Logger } from 'pino';
import { ConfigError } from '../errors.js';
import type { MetaAnswer, MetaCaller } from '../streams/upstreamTypes.js';
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
   * `retain` closes a connection to a meta it is not told to keep once no call
   * has used it for this long. Default 5 minutes; 0 never closes one.
   */
  idleCloseMs?: number;
  /** The pool closed the connection to `meta` on purpose (`reason`: `unused`); a later call connects again. */
  onClose?(meta: string, reason: string): void;
  logger?: Logger;
}

export interface UpstreamPool {
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
    logger: options.logger,
  };
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
    call: (meta, request) => new Observable<MetaAnswer>((subscriber) => connection(meta).call(request, subscriber)),
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
