/**
 * A long-lived Pegasus client for one table, behaving the way PROTOCOL.md §7
 * says the stock Go and Node.js clients do: it asks a meta for the table's
 * partition configuration once (v0 frame), caches it, and sends each op to the
 * primary of the key's partition over a kept connection. Only a replica's
 * refusal (header ERR_INVALID_STATE / ERR_OBJECT_NOT_FOUND) or a lost or
 * refused connection makes it ask the meta again, before its next op; the op
 * that met the refusal fails, as it does in those clients. A timed-out op does
 * not (the Go client does not update its config on a timeout either).
 *
 * It dials loopback addresses only: the fake 10.x replica addresses of a
 * cluster run without real replicas must never leave the machine.
 */
import net from 'node:net';
import { decodeGetReply, decodePutReply, decodeQueryConfigReply } from './decode.js';
import { RPC_QUERY } from './replies.js';
import { RPC_GET, RPC_PUT, STATUS_NOT_FOUND, STATUS_OK, getArgs, putArgs } from './replicaWire.js';
import { encodeGpidRequest, encodeRequestV0, queryConfigArgs, replyFrameLengthSim } from './wire.js';

/** Errors a replica answers that make a client re-query its config. */
const RECONFIG_ERRORS = new Set(['ERR_INVALID_STATE', 'ERR_OBJECT_NOT_FOUND', 'ERR_PARENT_PARTITION_MISUSED']);

export interface SimClientOptions {
  /** `host:port` of each meta (or of the proxy), tried in turn. */
  metas: string[];
  table: string;
  /** Deadline of one op and of one query-config attempt; default 1000 ms (the Node.js client's). */
  opTimeoutMs?: number;
  /** Ops kept in `ops`; default 10 000. */
  logLimit?: number;
  /** The client host's address: every connection (to metas and replicas) is made from it, e.g. 127.0.0.2. */
  localAddress?: string;
}

export interface SimClientOp {
  /** Date.now() when the op was answered (or failed). */
  t: number;
  kind: 'set' | 'get';
  ok: boolean;
  /**
   * `ERR_OK`, a replica's header error, or a client-side failure: ERR_TIMEOUT,
   * ERR_SESSION_RESET (connection lost), ERR_NETWORK_FAILURE (could not connect),
   * ERR_NOT_LOOPBACK (refused to dial), ERR_CLIENT_CLOSED, or the error of the
   * query-config the op needed first.
   */
  error: string;
  /** `host:port` of the replica that answered (or was dialled); undefined when the op never reached one. */
  replica?: string;
  /** For a get: the value, undefined when the key is not found. */
  value?: Buffer;
}

export interface SimClientStats {
  ok: number;
  failed: number;
  /** Successful ops per replica address. */
  okByReplica: Record<string, number>;
  /** Failed ops per error name. */
  failedByError: Record<string, number>;
  /** Query-config requests sent (one per meta tried). */
  configQueries: number;
  /** Query-configs that ended without a configuration. */
  configFailures: number;
}

/** The client refused to dial an address outside 127.0.0.0/8 and ::1. */
export class NotLoopbackError extends Error {
  override name = 'NotLoopbackError';
}

interface Reply {
  error: string;
  frame?: Buffer;
}

/** true for 127.0.0.0/8 and ::1 literals; names are not resolved. */
export function isLoopback(host: string): boolean {
  const h = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(h);
  return !!m && Number(m[1]) === 127 && m.slice(2).every((p) => Number(p) <= 255);
}

function splitAddress(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  let host = address.slice(0, colon);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  return { host, port: Number(address.slice(colon + 1)) };
}

/** One kept connection: requests by seqid, each with its own deadline. */
class Connection {
  private readonly socket: net.Socket;
  private readonly pending = new Map<number, { resolve(r: Reply): void; timer: ReturnType<typeof setTimeout> }>();
  private rest: Buffer = Buffer.alloc(0);
  private connected = false;
  closed = false;

  constructor(address: string, onClose: () => void, localAddress?: string) {
    const { host, port } = splitAddress(address);
    this.socket = net.connect({ host, port, ...(localAddress !== undefined && { localAddress }) });
    this.socket.setNoDelay(true);
    this.socket.on('connect', () => (this.connected = true));
    this.socket.on('error', () => {});
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('close', () => {
      this.closed = true;
      const error = this.connected ? 'ERR_SESSION_RESET' : 'ERR_NETWORK_FAILURE';
      for (const [, p] of this.pending) {
        clearTimeout(p.timer);
        p.resolve({ error });
      }
      this.pending.clear();
      onClose();
    });
  }

  private onData(chunk: Buffer): void {
    this.rest = this.rest.length ? Buffer.concat([this.rest, chunk]) : chunk;
    try {
      for (;;) {
        const n = replyFrameLengthSim(this.rest, 0);
        if (n === undefined) break;
        const frame = Buffer.from(this.rest.subarray(0, n));
        this.rest = this.rest.subarray(n);
        // Header: i32 length, string error, i32 strict REPLY, string name, i32 seqid.
        const errLen = frame.readUInt32BE(4);
        const error = frame.toString('utf8', 8, 8 + errLen);
        const nameLen = frame.readUInt32BE(12 + errLen);
        const seqid = frame.readInt32BE(16 + errLen + nameLen);
        const p = this.pending.get(seqid);
        if (!p) continue;
        this.pending.delete(seqid);
        clearTimeout(p.timer);
        p.resolve({ error, frame });
      }
    } catch {
      // Bytes that are not a reply: like the stock clients, give up on the connection.
      this.socket.destroy();
    }
  }

  call(seqid: number, frame: Buffer, timeoutMs: number): Promise<Reply> {
    if (this.closed) return Promise.resolve({ error: this.connected ? 'ERR_SESSION_RESET' : 'ERR_NETWORK_FAILURE' });
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(seqid);
        resolve({ error: 'ERR_TIMEOUT' });
      }, timeoutMs);
      this.pending.set(seqid, { resolve, timer });
      this.socket.write(frame);
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

interface TableConfig {
  appId: number;
  partitionCount: number;
  /** Primary `host:port` per partition index. */
  primaries: string[];
}

/** 32-bit FNV-1a: the sim's stand-in for the clients' crc64 of the hash key. */
function keyHash(key: Buffer): number {
  let h = 0x811c9dc5;
  for (const b of key) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

function toBuffer(v: string | Buffer): Buffer {
  return typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
}

export class SimPegasusClient {
  private readonly metas: string[];
  private readonly opTimeoutMs: number;
  private readonly logLimit: number;
  private readonly localAddress: string | undefined;
  private readonly connections = new Map<string, Connection>();
  private config: TableConfig | undefined;
  /** The meta that answered last; queries start there. */
  private metaIndex = 0;
  /** One query-config at a time; ops that need one wait for it. */
  private querying: Promise<TableConfig | string> | undefined;
  private seqid = 0;
  private closed = false;
  readonly table: string;
  /** Every op, oldest first, bounded by `logLimit`. */
  readonly ops: SimClientOp[] = [];
  private readonly counts: SimClientStats = {
    ok: 0,
    failed: 0,
    okByReplica: {},
    failedByError: {},
    configQueries: 0,
    configFailures: 0,
  };

  constructor(options: SimClientOptions) {
    if (options.metas.length === 0) throw new RangeError('a client needs at least one meta address');
    this.metas = [...options.metas];
    this.table = options.table;
    this.opTimeoutMs = options.opTimeoutMs ?? 1000;
    this.logLimit = options.logLimit ?? 10_000;
    if (options.localAddress !== undefined) {
      if (!isLoopback(options.localAddress)) throw new NotLoopbackError(`a simulated client host must be a loopback address, not ${options.localAddress}`);
      this.localAddress = options.localAddress;
    }
  }

  /** The cached configuration is stale: the next op asks a meta first. */
  get stale(): boolean {
    return this.config === undefined;
  }

  set(key: string | Buffer, value: string | Buffer): Promise<SimClientOp> {
    const k = toBuffer(key);
    return this.op('set', k, RPC_PUT, putArgs(k, toBuffer(value)));
  }

  get(key: string | Buffer): Promise<SimClientOp> {
    const k = toBuffer(key);
    return this.op('get', k, RPC_GET, getArgs(k));
  }

  stats(): SimClientStats {
    return {
      ...this.counts,
      okByReplica: { ...this.counts.okByReplica },
      failedByError: { ...this.counts.failedByError },
    };
  }

  close(): void {
    this.closed = true;
    for (const c of this.connections.values()) c.close();
    this.connections.clear();
  }

  private connection(address: string): Connection | string {
    if (this.closed) return 'ERR_CLIENT_CLOSED';
    const { host } = splitAddress(address);
    if (!isLoopback(host)) return 'ERR_NOT_LOOPBACK';
    let c = this.connections.get(address);
    if (!c || c.closed) {
      const created: Connection = new Connection(address, () => {
        if (this.connections.get(address) === created) this.connections.delete(address);
      }, this.localAddress);
      this.connections.set(address, (c = created));
    }
    return c;
  }

  private nextSeqid(): number {
    this.seqid = (this.seqid + 1) | 0;
    return this.seqid;
  }

  private record(op: SimClientOp): SimClientOp {
    if (op.ok) {
      this.counts.ok++;
      if (op.replica) this.counts.okByReplica[op.replica] = (this.counts.okByReplica[op.replica] ?? 0) + 1;
    } else {
      this.counts.failed++;
      this.counts.failedByError[op.error] = (this.counts.failedByError[op.error] ?? 0) + 1;
    }
    this.ops.push(op);
    if (this.ops.length > this.logLimit) this.ops.splice(0, this.ops.length - this.logLimit);
    return op;
  }

  private async op(kind: 'set' | 'get', key: Buffer, rpc: string, args: Buffer): Promise<SimClientOp> {
    const fail = (error: string, replica?: string) =>
      this.record(replica === undefined ? { t: Date.now(), kind, ok: false, error } : { t: Date.now(), kind, ok: false, error, replica });
    const config = this.config ?? (await this.queryConfig());
    if (typeof config === 'string') return fail(config);
    const pidx = keyHash(key) % config.partitionCount;
    const replica = config.primaries[pidx] as string;
    const conn = this.connection(replica);
    if (typeof conn === 'string') {
      if (conn === 'ERR_NOT_LOOPBACK') this.config = undefined;
      return fail(conn, replica);
    }
    const seqid = this.nextSeqid();
    const frame = encodeGpidRequest(rpc, seqid, args, {
      appId: config.appId,
      partitionIndex: pidx,
      timeoutMs: this.opTimeoutMs,
      partitionHash: BigInt(keyHash(key)),
    });
    const reply = await conn.call(seqid, frame, this.opTimeoutMs);
    if (reply.error !== 'ERR_OK' || !reply.frame) {
      if (RECONFIG_ERRORS.has(reply.error) || reply.error === 'ERR_SESSION_RESET' || reply.error === 'ERR_NETWORK_FAILURE') {
        if (this.config === config) this.config = undefined;
      }
      return fail(reply.error, replica);
    }
    try {
      if (kind === 'set') {
        const body = decodePutReply(reply.frame).body;
        if (!body || body.error !== STATUS_OK) return fail(`status ${body?.error ?? 'missing'}`, replica);
        return this.record({ t: Date.now(), kind, ok: true, error: 'ERR_OK', replica });
      }
      const body = decodeGetReply(reply.frame).body;
      if (!body || (body.error !== STATUS_OK && body.error !== STATUS_NOT_FOUND)) {
        return fail(`status ${body?.error ?? 'missing'}`, replica);
      }
      const op: SimClientOp = { t: Date.now(), kind, ok: true, error: 'ERR_OK', replica };
      if (body.error === STATUS_OK) op.value = body.value;
      return this.record(op);
    } catch {
      return fail('ERR_INVALID_DATA', replica);
    }
  }

  /** Shares one query among the ops waiting for it; a failed query leaves the config stale for the next op. */
  private queryConfig(): Promise<TableConfig | string> {
    this.querying ??= this.askMetas().finally(() => (this.querying = undefined));
    return this.querying;
  }

  /** Asks each meta once, starting with the last one that answered; follows a FORWARD's leader address. */
  private async askMetas(): Promise<TableConfig | string> {
    let last = 'ERR_NETWORK_FAILURE';
    const tried = new Set<string>();
    let next: string | undefined;
    for (let n = 0; n < this.metas.length + 1; n++) {
      const address = next ?? (this.metas[(this.metaIndex + n) % this.metas.length] as string);
      next = undefined;
      if (tried.has(address)) continue;
      tried.add(address);
      const conn = this.connection(address);
      if (typeof conn === 'string') {
        last = conn;
        continue;
      }
      const seqid = this.nextSeqid();
      this.counts.configQueries++;
      const reply = await conn.call(seqid, encodeRequestV0(RPC_QUERY, seqid, queryConfigArgs(this.table)), this.opTimeoutMs);
      if (reply.error !== 'ERR_OK' || !reply.frame) {
        last = reply.error;
        continue;
      }
      let body;
      try {
        body = decodeQueryConfigReply(reply.frame).body;
      } catch {
        last = 'ERR_INVALID_DATA';
        continue;
      }
      if (!body) {
        last = 'ERR_INVALID_DATA';
        continue;
      }
      if (body.err === 'ERR_FORWARD_TO_OTHERS') {
        const leader = body.partitions[0]?.primary;
        if (leader && leader !== '0.0.0.0:0') next = leader;
        last = body.err;
        continue;
      }
      if (body.err !== 'ERR_OK') {
        // Any other body error is the answer (Go: final for this query).
        last = body.err;
        break;
      }
      const i = this.metas.indexOf(address);
      if (i >= 0) this.metaIndex = i;
      const primaries: string[] = new Array<string>(body.partitionCount).fill('0.0.0.0:0');
      for (const p of body.partitions) primaries[p.partitionIndex] = p.primary;
      const config: TableConfig = { appId: body.appId, partitionCount: body.partitionCount, primaries };
      if (config.partitionCount <= 0) {
        last = 'ERR_INVALID_DATA';
        break;
      }
      if (!this.closed) this.config = config;
      return config;
    }
    this.counts.configFailures++;
    return last;
  }
}

export interface ClientLoop {
  /** Set-then-get rounds finished so far. */
  readonly rounds: number;
  /** Stops after the op in flight; resolves once it has been answered. */
  stop(): Promise<void>;
}

/**
 * Runs set(k) then get(k) against `client` every `intervalMs` until stopped,
 * cycling through `keys` keys (default 16), so it touches several partitions.
 */
export function runClientLoop(client: SimPegasusClient, options: { intervalMs: number; keys?: number }): ClientLoop {
  const keys = options.keys ?? 16;
  let stopped = false;
  let rounds = 0;
  let wake: (() => void) | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const done = (async () => {
    for (let i = 0; !stopped; i++) {
      const key = `key-${i % keys}`;
      await client.set(key, `value-${i}`);
      if (stopped) break;
      await client.get(key);
      rounds++;
      if (stopped) break;
      await new Promise<void>((resolve) => {
        wake = resolve;
        timer = setTimeout(resolve, options.intervalMs);
      });
    }
  })();
  return {
    get rounds() {
      return rounds;
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      wake?.();
      await done;
    },
  };
}
