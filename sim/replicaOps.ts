/**
 * What a simulated cluster's replicas did with client ops: totals per table
 * that never wrap, and a bounded log with times so a test can ask "how many
 * ops for table T did this cluster serve since X".
 */

/** `ok`: served; `refused`: a header error (INVALID_STATE, OBJECT_NOT_FOUND, ...); `dropped`: denied with no reply. */
export type SimReplicaOutcome = 'ok' | 'refused' | 'dropped';

export interface SimReplicaOp {
  /** Date.now() when the replica handled it. */
  t: number;
  /** Table name; `#<app_id>` for an app id the cluster does not have. */
  table: string;
  kind: 'put' | 'get';
  outcome: SimReplicaOutcome;
  /** The header error of a refused op, `ERR_OK` otherwise. */
  error: string;
  /** `host:port` of the replica server that handled it. */
  replica: string;
}

export interface SimReplicaCounts {
  ok: number;
  refused: number;
  dropped: number;
}

/** Default bound of the op log: old entries go first. */
export const REPLICA_OP_LOG_LIMIT = 100_000;

export class ReplicaOpLog {
  private readonly log: SimReplicaOp[] = [];
  private readonly totals = new Map<string, SimReplicaCounts>();

  constructor(private readonly limit = REPLICA_OP_LOG_LIMIT) {}

  record(op: SimReplicaOp): void {
    let c = this.totals.get(op.table);
    if (!c) this.totals.set(op.table, (c = { ok: 0, refused: 0, dropped: 0 }));
    c[op.outcome]++;
    this.log.push(op);
    // Trim in batches so a full log costs one splice per eighth of its bound, not one per op.
    if (this.log.length > this.limit) this.log.splice(0, this.log.length - this.limit + (this.limit >> 3));
  }

  /** Totals per table since the cluster started (a copy). */
  totalsByTable(): Record<string, SimReplicaCounts> {
    const out: Record<string, SimReplicaCounts> = {};
    for (const [t, c] of this.totals) out[t] = { ...c };
    return out;
  }

  /** Ops still in the log, oldest first, filtered by table and by `t >= since`. */
  entries(filter: { table?: string; since?: number } = {}): SimReplicaOp[] {
    const since = filter.since ?? -Infinity;
    return this.log.filter((o) => o.t >= since && (filter.table === undefined || o.table === filter.table));
  }

  /** Counts of the logged ops that match `filter`. */
  count(filter: { table?: string; since?: number } = {}): SimReplicaCounts {
    const c: SimReplicaCounts = { ok: 0, refused: 0, dropped: 0 };
    for (const o of this.entries(filter)) c[o.outcome]++;
    return c;
  }
}
