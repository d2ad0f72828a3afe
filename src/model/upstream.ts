import type { Observable } from 'rxjs';
import type { MetaReply } from '../protocol/types.js';

/** A request to send to one MetaServer. */
export interface MetaRequest {
  /** RPC name, e.g. `RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX`. */
  name: string;
  /** The args struct bytes, copied unchanged from the client's frame (body from `argsOffset`). */
  args: Buffer;
  /** Remaining budget in ms, written into the upstream header's client_timeout. */
  timeoutMs: number;
}

/** A MetaServer's answer: the parsed facts plus the whole reply frame as bytes. */
export interface MetaAnswer {
  meta: string;
  reply: MetaReply;
  /** The complete reply frame (4-byte length included), exactly as the meta sent it. */
  frame: Buffer;
}

/**
 * The upstream driver's runtime function. Cold: subscribing sends the request
 * on the shared connection to `meta` (connecting if needed); the observable
 * emits the answer once and completes, or errors with an `UpstreamError`.
 * Unsubscribing forgets the pending call (its late answer is dropped).
 */
export type MetaCaller = (meta: string, request: MetaRequest) => Observable<MetaAnswer>;

/** Why a call to a meta is given up before it answered. */
export type CancelReason =
  /**
   * The meta stayed silent past the backup delay while another meta of its
   * cluster answered this call: a hint that its connection is stuck.
   */
  | 'outrun'
  /** Nobody wants the answer any more (the route moved, the client left, the deadline passed). */
  | 'dropped';

/** Receives the outcome of calls made through a `MetaDispatcher`. */
export interface MetaHandler {
  /** `meta` answered the call `ticket`. Never called synchronously from `send`. */
  metaAnswered(meta: string, ticket: number, answer: MetaAnswer): void;
  /** The call `ticket` to `meta` failed (connection refused or dropped, unreadable reply, ...). */
  metaFailed(meta: string, ticket: number, error: Error): void;
}

/**
 * The upstream driver's runtime for the hot path: requests are values handed
 * to one long-lived connection per meta and answers come back to a handler
 * through the connection's seqid map, so a call costs no Observable,
 * Subscription or timer.
 */
export interface MetaDispatcher {
  /**
   * Sends `request` to `meta` (connecting if needed). Returns the ticket that
   * names the call in the handler's callbacks and in `cancel`, or the error
   * that kept it from being sent at all (pool closed, too many pending, meta
   * backing off after a refused connect).
   */
  send(meta: string, request: MetaRequest, handler: MetaHandler): number | Error;
  /** Forgets the call; its late answer is dropped. */
  cancel(meta: string, ticket: number, reason: CancelReason): void;
}

/** Result of asking a cluster: its leader's answer, or why there is none. */
export type ClusterOutcome =
  | { kind: 'answer'; answer: MetaAnswer }
  | { kind: 'failed'; error: 'ERR_TIMEOUT' | 'ERR_NETWORK_FAILURE'; reason: string };

/** A cluster as a route names it. */
export interface ClusterRef {
  name: string;
  metas: readonly string[];
}

/**
 * Which meta last answered for each cluster. Keyed by the cluster's name AND
 * meta list: two clusters that share a name (every test cluster is `onebox`)
 * or a route moved to new metas must not start at a leader of the old ones.
 * Passed in, never a module singleton.
 */
export interface LeaderBook {
  get(cluster: ClusterRef): string | undefined;
  set(cluster: ClusterRef, meta: string): void;
}
