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
  logger?: Logger;
}

export interface UpstreamPool {
  call: MetaCaller;
  /** One entry per meta ever called. */
  stats(): UpstreamMetaStats[];
  /** Closes every connection; pending and later calls fail with 'closed'. */
  close(): void;
}

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
    close() {
      closed = true;
      for (const c of connections.values()) c.close();
    },
  };
}
