import type { LeaderFollowingCall, Waiter } from './leaderFollowingCall.js';

/** Where a query's reply goes: the connection that sent it. */
export interface QueryOrigin {
  readonly peer: string;
  /** The query has its reply (`query.reply`); called exactly once per query. */
  answered(query: Query): void;
}

/** The table pipeline a query waits in, which can take it back. */
export interface QueryHolder {
  /** The client left: the query gets no reply, and its cluster call is dropped if nobody else waits on it. */
  withdraw(query: Query): void;
}

/**
 * One query-config request, as a value that flows through its table's
 * pipeline: read from a client frame, answered by the pipeline (which fills
 * in `reply`, `code` and `cluster`), handed back to its origin.
 */
export interface Query extends Waiter {
  readonly table: string;
  /** What identical queries share within a table: the partition indices (`''` = all). */
  readonly key: string;
  /** The client's sequence id, which its reply carries. */
  readonly seqid: number;
  /** The RPC name, relayed to the meta. */
  readonly name: string;
  /** The args struct bytes, relayed to the meta unchanged (a view of the client's frame). */
  readonly args: Buffer;
  /** Scheduler time the query was read. */
  readonly startedAt: number;
  /** Scheduler time by which the client gets an answer (its budget less a margin). */
  readonly deadlineAt: number;
  readonly origin: QueryOrigin;
  /** The reply frame, once answered. */
  reply: Buffer | undefined;
  /** The error name the client got in the reply body (`ERR_OK` on success), once answered. */
  code: string;
  /** The cluster last asked for this query (a later route to another cluster is a reroute). */
  cluster: string | undefined;
  /** The cluster call this query waits on, while it waits on one. */
  call: LeaderFollowingCall<Query> | undefined;
  /** The table pipeline holding the query, until it is answered. */
  holder: QueryHolder | undefined;
  /**
   * The links of the table queue the query waits in (`QueryQueue`), kept on
   * the query itself so that queueing one allocates and hashes nothing: the
   * queue it is in (`undefined` when in none) and its neighbours there.
   * Written only by that queue.
   */
  queuedIn?: object | undefined;
  queuedBefore?: Query | undefined;
  queuedAfter?: Query | undefined;
}

/** How much earlier than the client's budget the proxy gives its own answer. */
export function deadlineMargin(budgetMs: number): number {
  return Math.min(100, Math.floor(budgetMs / 20));
}

/**
 * The client's budget: its own timeout when set and sane (the Go client's can
 * wrap to garbage, Node.js sends 0), else the configured default.
 */
export function budgetFor(clientTimeoutMs: number, defaultMs: number, maxMs: number): number {
  return clientTimeoutMs > 0 && clientTimeoutMs <= maxMs ? clientTimeoutMs : defaultMs;
}
