/**
 * ZooKeeper's multi-op transaction (`multi`, opcode 14): several checks,
 * creates, writes and deletes that the server applies all together or not at
 * all.
 *
 * The native `zookeeper` package links the C client's `zoo_amulti` but binds
 * no JavaScript method to it, so this driver speaks the few messages it needs
 * of ZooKeeper's client protocol itself (jute encoding, length-prefixed
 * packets): connect, optional auth, one multi, close. Each transaction opens
 * its own short session; nothing is watched and nothing is kept open.
 */
import { connect as connectTcp, type Socket } from 'node:net';
import { ZooKeeperError } from '../errors.js';
import { zkCodeName } from './zookeeper.js';

export interface ZkTransactionOptions {
  /** `host:port` entries, tried in order until one gives a session. */
  address: string[];
  /** Bound on connecting to one server, and on the whole exchange with it. */
  timeoutMs: number;
  /** Sent before the transaction (digest: `user:password`). */
  auth?: { scheme: string; credential: string };
}

/** One operation of a transaction. `version` -1 means any version. */
export type ZkTxOp =
  | { kind: 'check'; path: string; version: number }
  | { kind: 'create'; path: string; data: Buffer | string }
  | { kind: 'set'; path: string; data: Buffer | string; version: number }
  | { kind: 'delete'; path: string; version: number };

export interface ZkTxOpResult {
  /** 0 for an operation that succeeded (or would have, in a failed transaction). */
  rc: number;
  /** `ZBADVERSION (-103)`. */
  rcName: string;
  /** For `set` in a committed transaction: the node's new data version. */
  version?: number;
}

/**
 * What the server did: every operation applied (`committed`), or none, with
 * `failed` the index of the first operation that could not be applied.
 */
export type ZkTxOutcome = { committed: true; results: ZkTxOpResult[] } | { committed: false; failed: number; results: ZkTxOpResult[] };

/** Runs one transaction; rejects with a `ZooKeeperError` only when it could not be sent or answered. */
export type ZkTransaction = (ops: readonly ZkTxOp[]) => Promise<ZkTxOutcome>;

const OP_CREATE = 1;
const OP_DELETE = 2;
const OP_SET_DATA = 5;
const OP_CHECK = 13;
const OP_MULTI = 14;
const OP_CLOSE = -11;
const OP_AUTH = 100;
const OP_ERROR = -1;
const XID_AUTH = -4;
const XID_MULTI = 1;
const XID_CLOSE = 2;
/** Server-initiated packets: watch notifications and ping replies. */
const XID_NOTIFICATION = -1;
const XID_PING = -2;
/** world:anyone with every permission, what the native driver's creates use. */
const OPEN_ACL = { perms: 31, scheme: 'world', id: 'anyone' };
/** Far above any reply this driver asks for; a larger length is garbage. */
const MAX_PACKET_BYTES = 16 * 1024 * 1024;

const ADDRESS = /^(\[[0-9A-Fa-f:.]+\]|[^\s:,/[\]]+):(\d{1,5})$/;

/** Growing jute encoder. */
class JuteWriter {
  private buf = Buffer.alloc(256);
  private at = 0;

  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const next = Buffer.alloc(Math.max(this.buf.length * 2, this.at + n));
    this.buf.copy(next, 0, 0, this.at);
    this.buf = next;
  }

  int(v: number): this {
    this.room(4);
    this.buf.writeInt32BE(v, this.at);
    this.at += 4;
    return this;
  }

  long(v: bigint): this {
    this.room(8);
    this.buf.writeBigInt64BE(v, this.at);
    this.at += 8;
    return this;
  }

  bool(v: boolean): this {
    this.room(1);
    this.buf[this.at++] = v ? 1 : 0;
    return this;
  }

  buffer(v: Buffer): this {
    this.int(v.length);
    this.room(v.length);
    v.copy(this.buf, this.at);
    this.at += v.length;
    return this;
  }

  string(v: string): this {
    return this.buffer(Buffer.from(v, 'utf8'));
  }

  /** The packet: a 4-byte length, then what was written. */
  packet(): Buffer {
    const out = Buffer.alloc(4 + this.at);
    out.writeInt32BE(this.at, 0);
    this.buf.copy(out, 4, 0, this.at);
    return out;
  }
}

/** Jute decoder over one packet's payload. */
class JuteReader {
  constructor(
    private readonly buf: Buffer,
    private at = 0,
  ) {}

  private need(n: number): void {
    if (this.at + n > this.buf.length) throw new ZooKeeperError(`ZooKeeper sent a truncated reply (${this.buf.length} bytes).`);
  }

  int(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.at);
    this.at += 4;
    return v;
  }

  long(): bigint {
    this.need(8);
    const v = this.buf.readBigInt64BE(this.at);
    this.at += 8;
    return v;
  }

  bool(): boolean {
    this.need(1);
    return this.buf[this.at++] !== 0;
  }

  skipBuffer(): void {
    const n = this.int();
    if (n > 0) {
      this.need(n);
      this.at += n;
    }
  }

  /** A Stat record; only the data version is kept. */
  statVersion(): number {
    this.long(); // czxid
    this.long(); // mzxid
    this.long(); // ctime
    this.long(); // mtime
    const version = this.int();
    this.int(); // cversion
    this.int(); // aversion
    this.long(); // ephemeralOwner
    this.int(); // dataLength
    this.int(); // numChildren
    this.long(); // pzxid
    return version;
  }

  get remaining(): number {
    return this.buf.length - this.at;
  }
}

/** The server answered the request as a whole with an error: nothing was applied. */
class TransactionRefused extends ZooKeeperError {}

const toBuffer = (data: Buffer | string): Buffer => (typeof data === 'string' ? Buffer.from(data, 'utf8') : data);

function assertPath(path: string): void {
  const ok = typeof path === 'string' && path.startsWith('/') && path.length > 1 && !path.endsWith('/') && !path.includes('//') && !path.includes('\u0000');
  if (!ok) throw new ZooKeeperError(`${JSON.stringify(path)} is not a ZooKeeper node path (absolute, no empty segment).`);
}

/** The multi request packet for `ops`. */
function encodeMulti(ops: readonly ZkTxOp[], xid = XID_MULTI): Buffer {
  const w = new JuteWriter().int(xid).int(OP_MULTI);
  for (const op of ops) {
    assertPath(op.path);
    switch (op.kind) {
      case 'check':
        w.int(OP_CHECK).bool(false).int(-1).string(op.path).int(op.version);
        break;
      case 'create':
        w.int(OP_CREATE).bool(false).int(-1).string(op.path).buffer(toBuffer(op.data));
        w.int(1).int(OPEN_ACL.perms).string(OPEN_ACL.scheme).string(OPEN_ACL.id);
        w.int(0); // flags: persistent
        break;
      case 'set':
        w.int(OP_SET_DATA).bool(false).int(-1).string(op.path).buffer(toBuffer(op.data)).int(op.version);
        break;
      case 'delete':
        w.int(OP_DELETE).bool(false).int(-1).string(op.path).int(op.version);
        break;
    }
  }
  w.int(-1).bool(true).int(-1);
  return w.packet();
}

/** Reads a multi reply's results (after the reply header). */
function decodeMultiResults(r: JuteReader, count: number): ZkTxOpResult[] {
  const results: ZkTxOpResult[] = [];
  for (;;) {
    const type = r.int();
    const done = r.bool();
    const headerErr = r.int();
    if (done) break;
    if (type === OP_ERROR) {
      const rc = r.int();
      results.push({ rc, rcName: zkCodeName(rc) });
    } else if (type === OP_CREATE) {
      r.skipBuffer(); // the created path
      results.push({ rc: 0, rcName: zkCodeName(0) });
    } else if (type === OP_SET_DATA) {
      results.push({ rc: 0, rcName: zkCodeName(0), version: r.statVersion() });
    } else if (type === OP_DELETE || type === OP_CHECK) {
      results.push({ rc: 0, rcName: zkCodeName(0) });
    } else {
      throw new ZooKeeperError(`ZooKeeper answered the transaction with an unknown result type ${type} (err ${headerErr}).`);
    }
  }
  if (results.length !== count) {
    throw new ZooKeeperError(`ZooKeeper answered ${results.length} results to a transaction of ${count} operations.`);
  }
  return results;
}

/** A socket's bytes as whole packets, awaited one at a time. */
class PacketStream {
  private pending: Buffer = Buffer.alloc(0);
  private readonly packets: Buffer[] = [];
  private waiter: { resolve: (p: Buffer) => void; reject: (e: Error) => void } | undefined;
  private failure: Error | undefined;

  constructor(socket: Socket, peer: string) {
    socket.on('data', (chunk: Buffer) => {
      this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
      while (this.pending.length >= 4) {
        const length = this.pending.readInt32BE(0);
        if (length < 0 || length > MAX_PACKET_BYTES) {
          this.fail(new ZooKeeperError(`ZooKeeper at ${peer} sent a packet of ${length} bytes; that is not the ZooKeeper protocol.`));
          socket.destroy();
          return;
        }
        if (this.pending.length < 4 + length) break;
        this.push(this.pending.subarray(4, 4 + length));
        this.pending = this.pending.subarray(4 + length);
      }
    });
    socket.on('error', (err) => this.fail(new ZooKeeperError(`ZooKeeper at ${peer}: ${err.message}.`, { cause: err })));
    socket.on('close', () => this.fail(new ZooKeeperError(`ZooKeeper at ${peer} closed the connection.`)));
  }

  private push(packet: Buffer): void {
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      w.resolve(packet);
    } else {
      this.packets.push(packet);
    }
  }

  private fail(err: Error): void {
    this.failure ??= err;
    const w = this.waiter;
    this.waiter = undefined;
    w?.reject(this.failure);
  }

  next(): Promise<Buffer> {
    const ready = this.packets.shift();
    if (ready) return Promise.resolve(ready);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  /** The next reply with this xid; notifications and pings in between are skipped. */
  async reply(xid: number): Promise<{ err: number; body: JuteReader }> {
    for (;;) {
      const r = new JuteReader(await this.next());
      const got = r.int();
      r.long(); // zxid
      const err = r.int();
      if (got === XID_NOTIFICATION || got === XID_PING) continue;
      if (got !== xid) throw new ZooKeeperError(`ZooKeeper answered request ${got} while request ${xid} was expected.`);
      return { err, body: r };
    }
  }
}

function validate(options: ZkTransactionOptions): void {
  if (!Array.isArray(options.address) || options.address.length === 0) {
    throw new ZooKeeperError('The ZooKeeper address list is empty: give at least one host:port.');
  }
  for (const entry of options.address) {
    const m = typeof entry === 'string' ? ADDRESS.exec(entry.trim()) : null;
    if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) {
      throw new ZooKeeperError(`The ZooKeeper address ${JSON.stringify(entry)} is not host:port with a port from 1 to 65535.`);
    }
  }
  if (!Number.isInteger(options.timeoutMs) || options.timeoutMs <= 0) {
    throw new ZooKeeperError(`The ZooKeeper timeout must be a positive whole number of milliseconds, not ${String(options.timeoutMs)}.`);
  }
}

/** Validate the options once; returns the function that runs a transaction. */
export function createZkTransaction(options: ZkTransactionOptions): ZkTransaction {
  validate(options);
  const servers = options.address.map((entry) => {
    const m = ADDRESS.exec(entry.trim()) as RegExpExecArray;
    return { host: (m[1] as string).replace(/^\[|\]$/g, ''), port: Number(m[2]), label: entry.trim() };
  });

  /** `progress.sent` turns true once the transaction is on the wire: from then on it must not be sent again. */
  const withServer = async (server: (typeof servers)[number], ops: readonly ZkTxOp[], multi: Buffer, progress: { sent: boolean }): Promise<ZkTxOutcome> => {
    const socket = connectTcp({ host: server.host, port: server.port });
    socket.setNoDelay(true);
    const packets = new PacketStream(socket, server.label);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ZooKeeperError(`ZooKeeper at ${server.label} did not answer within ${options.timeoutMs} ms.`)), options.timeoutMs);
    });
    const exchange = async (): Promise<ZkTxOutcome> => {
      const hello = new JuteWriter().int(0).long(0n).int(options.timeoutMs).long(0n).buffer(Buffer.alloc(16)).bool(false).packet();
      socket.write(hello);
      const session = new JuteReader(await packets.next());
      session.int(); // protocol version
      const negotiatedTimeout = session.int();
      if (negotiatedTimeout <= 0) throw new ZooKeeperError(`ZooKeeper at ${server.label} refused to open a session.`);
      if (options.auth) {
        socket.write(new JuteWriter().int(XID_AUTH).int(OP_AUTH).int(0).string(options.auth.scheme).string(options.auth.credential).packet());
        const auth = await packets.reply(XID_AUTH);
        if (auth.err !== 0) throw new ZooKeeperError(`ZooKeeper at ${server.label} rejected the credentials: ${zkCodeName(auth.err)}.`);
      }
      progress.sent = true;
      socket.write(multi);
      const { err, body } = await packets.reply(XID_MULTI);
      // A server that failed the whole request (not one of its operations) sends no results.
      if (err !== 0 && body.remaining === 0) {
        throw new TransactionRefused(`ZooKeeper at ${server.label} refused the transaction: ${zkCodeName(err)}.`);
      }
      const results = decodeMultiResults(body, ops.length);
      const failed = results.findIndex((r) => r.rc !== 0);
      socket.write(new JuteWriter().int(XID_CLOSE).int(OP_CLOSE).packet());
      // The outcome is known; the close reply only ends the session sooner.
      await packets.reply(XID_CLOSE).catch(() => undefined);
      return failed < 0 ? { committed: true, results } : { committed: false, failed, results };
    };
    try {
      return await Promise.race([exchange(), deadline]);
    } finally {
      clearTimeout(timer);
      socket.destroy();
    }
  };

  return async (ops) => {
    if (ops.length === 0) return { committed: true, results: [] };
    const multi = encodeMulti(ops);
    const problems: string[] = [];
    for (const server of servers) {
      const progress = { sent: false };
      try {
        return await withServer(server, ops, multi, progress);
      } catch (err) {
        if (err instanceof TransactionRefused) throw err;
        const reason = err instanceof Error ? err.message : String(err);
        // Sent once, it may have been applied: sending it again elsewhere could only mislead.
        if (progress.sent) {
          throw new ZooKeeperError(`The transaction was sent to ZooKeeper at ${server.label} but its answer was lost (${reason}); whether it was applied is unknown: read the nodes again before retrying.`, { cause: err });
        }
        problems.push(reason);
      }
    }
    throw new ZooKeeperError(`Cannot open a ZooKeeper session with ${options.address.join(',')}: ${problems.join(' ')}`);
  };
}
