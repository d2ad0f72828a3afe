import type { Observable, SchedulerLike } from 'rxjs';
import type { Logger } from 'pino';
import type { StringInterner } from '../protocol/intern.js';
import type { ClientConnection } from '../model/connectionTypes.js';
import type { ProxyHooks } from '../model/proxyTypes.js';
import type { TableRouter } from './tableRouter.js';

/** What `serveConnection` needs from the rest of the proxy. */
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
