/**
 * The simulator's own thrift/rDSN reader and writer. Deliberately independent of
 * the proxy's codec in src/protocol, so tests that pass bytes between the two
 * cross-check both.
 */

export const T_STOP = 0;
export const T_BOOL = 2;
export const T_BYTE = 3;
export const T_I16 = 6;
export const T_I32 = 8;
export const T_I64 = 10;
export const T_STRING = 11;
export const T_STRUCT = 12;
export const T_MAP = 13;
export const T_SET = 14;
export const T_LIST = 15;

const MAGIC = 0x54484654; // "THFT"
const STRICT_VERSION_MASK = 0xffff0000;
const STRICT_VERSION_1 = 0x80010000;
/** A request larger than this is treated as an attack, not a request. */
const MAX_REQUEST_BYTES = 16 * 1024 * 1024;

/** Thrown for bytes the simulator cannot read; its connection gets closed. */
export class SimWireError extends Error {
  override name = 'SimWireError';
}

/** An append-only big-endian buffer. */
export class Writer {
  private buf: Buffer;
  private len = 0;

  constructor(initial = 256) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  get length(): number {
    return this.len;
  }

  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  i8(v: number): this {
    this.room(1);
    this.buf.writeInt8(v, this.len);
    this.len += 1;
    return this;
  }

  i16(v: number): this {
    this.room(2);
    this.buf.writeInt16BE(v, this.len);
    this.len += 2;
    return this;
  }

  u16(v: number): this {
    this.room(2);
    this.buf.writeUInt16BE(v & 0xffff, this.len);
    this.len += 2;
    return this;
  }

  i32(v: number): this {
    this.room(4);
    this.buf.writeInt32BE(v | 0, this.len);
    this.len += 4;
    return this;
  }

  u32(v: number): this {
    this.room(4);
    this.buf.writeUInt32BE(v >>> 0, this.len);
    this.len += 4;
    return this;
  }

  i64(v: bigint): this {
    this.room(8);
    this.buf.writeBigInt64BE(BigInt.asIntN(64, v), this.len);
    this.len += 8;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.room(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
    return this;
  }

  string(s: string): this {
    const b = Buffer.from(s, 'utf8');
    return this.i32(b.length).bytes(b);
  }

  field(type: number, id: number): this {
    return this.i8(type).i16(id);
  }

  stop(): this {
    return this.i8(T_STOP);
  }

  /** Overwrites 4 bytes already written (used for length prefixes). */
  patchU32(offset: number, v: number): this {
    this.buf.writeUInt32BE(v >>> 0, offset);
    return this;
  }

  finish(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.len));
  }
}

/** A bounds-checked big-endian cursor over one buffer. */
export class Reader {
  constructor(
    readonly buf: Buffer,
    public pos = 0,
    readonly end = buf.length,
  ) {}

  private need(n: number): void {
    if (this.pos + n > this.end) {
      throw new SimWireError(`need ${n} bytes at offset ${this.pos}, only ${this.end - this.pos} left`);
    }
  }

  i8(): number {
    this.need(1);
    return this.buf.readInt8(this.pos++);
  }

  i16(): number {
    this.need(2);
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  i32(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  i64(): bigint {
    this.need(8);
    const v = this.buf.readBigInt64BE(this.pos);
    this.pos += 8;
    return v;
  }

  binary(): Buffer {
    const n = this.i32();
    if (n < 0) throw new SimWireError(`negative length ${n} at offset ${this.pos - 4}`);
    this.need(n);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  string(): string {
    return this.binary().toString('utf8');
  }

  /** Skips a value of a standard thrift type (not Pegasus's inline custom types). */
  skip(type: number, depth = 0): void {
    if (depth > 64) throw new SimWireError('thrift value nested too deeply');
    switch (type) {
      case T_BOOL:
      case T_BYTE:
        this.need(1);
        this.pos += 1;
        return;
      case T_I16:
        this.need(2);
        this.pos += 2;
        return;
      case T_I32:
        this.need(4);
        this.pos += 4;
        return;
      case T_I64:
      case 4: // DOUBLE
        this.need(8);
        this.pos += 8;
        return;
      case T_STRING:
        this.binary();
        return;
      case T_STRUCT:
        for (;;) {
          const t = this.i8();
          if (t === T_STOP) return;
          this.i16();
          this.skip(t, depth + 1);
        }
      case T_MAP: {
        const kt = this.i8();
        const vt = this.i8();
        const n = this.count();
        for (let i = 0; i < n; i++) {
          this.skip(kt, depth + 1);
          this.skip(vt, depth + 1);
        }
        return;
      }
      case T_SET:
      case T_LIST: {
        const et = this.i8();
        const n = this.count();
        for (let i = 0; i < n; i++) this.skip(et, depth + 1);
        return;
      }
      default:
        throw new SimWireError(`unknown thrift type ${type} at offset ${this.pos}`);
    }
  }

  count(): number {
    const n = this.i32();
    if (n < 0 || n > this.end - this.pos) throw new SimWireError(`bad element count ${n}`);
    return n;
  }
}

/** A request as the simulator sees it. */
export interface SimRequest {
  version: 0 | 1;
  clientTimeoutMs: number;
  /** The header's app_id and partition_index: the gpid a replica request is for (0 or -1 for meta requests). */
  appId: number;
  partitionIndex: number;
  name: string;
  type: number;
  seqid: number;
  /** Offset of the args struct inside `body`. */
  argsOffset: number;
  body: Buffer;
}

/**
 * Length of the request frame starting at `offset`, or undefined while fewer
 * bytes than needed to tell have arrived. Throws for bytes no meta accepts.
 */
export function requestFrameLength(buf: Buffer, offset: number): number | undefined {
  const avail = buf.length - offset;
  if (avail < 4) return undefined;
  if (buf.readUInt32BE(offset) !== MAGIC) throw new SimWireError('bad magic, expected THFT');
  if (avail < 16) return undefined;
  const version = buf.readUInt32BE(offset + 4);
  let total: number;
  if (version === 0) {
    if (buf.readUInt32BE(offset + 8) !== 48) throw new SimWireError('v0 header length is not 48');
    if (avail < 20) return undefined;
    total = 48 + buf.readUInt32BE(offset + 16);
  } else if (version === 1) {
    total = 16 + buf.readUInt32BE(offset + 8) + buf.readUInt32BE(offset + 12);
  } else {
    throw new SimWireError(`unknown header version ${version}`);
  }
  if (total > MAX_REQUEST_BYTES) throw new SimWireError(`request of ${total} bytes is over the limit`);
  return total;
}

/** Reads one complete request frame (as delimited by requestFrameLength). */
export function readRequest(frame: Buffer): SimRequest {
  const version = frame.readUInt32BE(4);
  let clientTimeoutMs = 0;
  let appId = 0;
  let partitionIndex = 0;
  let body: Buffer;
  if (version === 0) {
    appId = frame.readInt32BE(24);
    partitionIndex = frame.readInt32BE(28);
    clientTimeoutMs = frame.readInt32BE(32);
    body = frame.subarray(48);
  } else {
    const metaLen = frame.readUInt32BE(8);
    const meta = new Reader(frame, 16, 16 + metaLen);
    for (;;) {
      const t = meta.i8();
      if (t === T_STOP) break;
      const id = meta.i16();
      if (id === 3 && t === T_I32) clientTimeoutMs = meta.i32();
      else if (id === 1 && t === T_I32) appId = meta.i32();
      else if (id === 2 && t === T_I32) partitionIndex = meta.i32();
      else meta.skip(t);
    }
    body = frame.subarray(16 + metaLen);
  }
  const r = new Reader(body);
  const first = r.i32();
  let name: string;
  let type: number;
  if (first < 0) {
    if (((first & STRICT_VERSION_MASK) >>> 0) !== STRICT_VERSION_1) {
      throw new SimWireError(`bad strict message version 0x${(first >>> 0).toString(16)}`);
    }
    type = first & 0xff;
    name = r.string();
  } else {
    r.pos = 0;
    name = r.string();
    type = r.i8();
  }
  if (type !== 1 && type !== 4) throw new SimWireError(`message type ${type} is neither CALL nor ONEWAY`);
  const seqid = r.i32();
  return { version: version as 0 | 1, clientTimeoutMs, appId, partitionIndex, name, type, seqid, argsOffset: r.pos, body };
}

/**
 * Reads the request struct inside an args wrapper: calls `onField` for each of
 * its fields; fields it does not consume are skipped.
 */
export function readArgs(
  body: Buffer,
  argsOffset: number,
  onField: (r: Reader, type: number, id: number) => boolean,
): void {
  const r = new Reader(body, argsOffset);
  for (;;) {
    const t = r.i8();
    if (t === T_STOP) return;
    r.i16();
    if (t !== T_STRUCT) {
      r.skip(t);
      continue;
    }
    for (;;) {
      const ft = r.i8();
      if (ft === T_STOP) break;
      const id = r.i16();
      if (!onField(r, ft, id)) r.skip(ft);
    }
  }
}

/** `query_cfg_request` fields. */
export function readQueryConfigArgs(req: SimRequest): { table: string; indices: number[] } {
  let table = '';
  let indices: number[] = [];
  readArgs(req.body, req.argsOffset, (r, t, id) => {
    if (id === 1 && t === T_STRING) {
      table = r.string();
      return true;
    }
    if (id === 2 && t === T_LIST) {
      const et = r.i8();
      const n = r.count();
      if (et !== T_I32) {
        for (let i = 0; i < n; i++) r.skip(et);
        return true;
      }
      indices = new Array<number>(n);
      for (let i = 0; i < n; i++) indices[i] = r.i32();
      return true;
    }
    return false;
  });
  return { table, indices };
}

/** `configuration_list_apps_request` fields the simulator honours. */
export function readListAppsArgs(req: SimRequest): { status: number; pattern?: string } {
  let status = 0;
  let pattern: string | undefined;
  readArgs(req.body, req.argsOffset, (r, t, id) => {
    if (id === 1 && t === T_I32) {
      status = r.i32();
      return true;
    }
    if (id === 2 && t === T_STRING) {
      pattern = r.string();
      return true;
    }
    return false;
  });
  return pattern === undefined ? { status } : { status, pattern };
}

/**
 * A reply frame with room for the seqid: `build()` writes everything after the
 * seqid. Returns the bytes and where the seqid lives, so the same bytes can be
 * reused for every request that asks the same thing.
 */
export function replyTemplate(
  headerError: string,
  rpcName: string,
  body?: (w: Writer) => void,
): { bytes: Buffer; seqidOffset: number } {
  const w = new Writer(body ? 1024 : 64);
  w.u32(0).string(headerError).u32(0x80010002).string(`${rpcName}_ACK`);
  const seqidOffset = w.length;
  w.i32(0);
  if (body) {
    // Result wrapper: field 0, STRUCT, holding the response struct, then STOP.
    w.field(T_STRUCT, 0);
    body(w);
    w.stop();
  }
  w.patchU32(0, w.length);
  return { bytes: w.finish(), seqidOffset };
}

/** A v0 request frame, written the way the Go/Node/Python clients write it. */
export function encodeRequestV0(name: string, seqid: number, args: Buffer, timeoutMs = 0): Buffer {
  const body = new Writer(64 + args.length).u32(0x80010001).string(name).i32(seqid).bytes(args).finish();
  const w = new Writer(48 + body.length);
  w.u32(MAGIC).u32(0).u32(48).u32(0).u32(body.length).u32(0);
  w.i32(0).i32(0).i32(timeoutMs).i32(0).i64(0n);
  return w.bytes(body).finish();
}

/** A v1 request frame, written the way the Java client writes it (non-strict names allowed). */
export function encodeRequestV1(
  name: string,
  seqid: number,
  args: Buffer,
  timeoutMs = 5000,
  strict = true,
): Buffer {
  const meta = new Writer(40)
    .field(T_I32, 1).i32(-1)
    .field(T_I32, 2).i32(-2)
    .field(T_I32, 3).i32(timeoutMs)
    .field(T_I64, 4).i64(0n)
    .field(T_BOOL, 5).i8(0)
    .stop()
    .finish();
  const bw = new Writer(64 + args.length);
  if (strict) bw.u32(0x80010001).string(name);
  else bw.string(name).i8(1);
  const body = bw.i32(seqid).bytes(args).finish();
  return new Writer(16 + meta.length + body.length)
    .u32(MAGIC).u32(1).u32(meta.length).u32(body.length)
    .bytes(meta).bytes(body).finish();
}

/** Args of `query_cfg_request`; `indices` undefined omits the list (as Node.js does). */
export function queryConfigArgs(table: string, indices?: number[]): Buffer {
  const w = new Writer().field(T_STRUCT, 1).field(T_STRING, 1).string(table);
  if (indices) {
    w.field(T_LIST, 2).i8(T_I32).i32(indices.length);
    for (const i of indices) w.i32(i);
  }
  return w.stop().stop().finish();
}

/** Args of `configuration_list_apps_request`. */
export function listAppsArgs(status = 0): Buffer {
  return new Writer().field(T_STRUCT, 1).field(T_I32, 1).i32(status).stop().stop().finish();
}

/** Reply frame length (prefix included), or undefined while incomplete. */
export function replyFrameLengthSim(buf: Buffer, offset: number): number | undefined {
  if (buf.length - offset < 4) return undefined;
  const n = buf.readUInt32BE(offset);
  if (n < 4) throw new SimWireError(`reply length ${n} is shorter than its own prefix`);
  return buf.length - offset >= n ? n : undefined;
}

export interface GpidRequestOptions {
  version?: 0 | 1;
  appId: number;
  partitionIndex: number;
  timeoutMs?: number;
  partitionHash?: bigint;
}

/**
 * A request frame addressed to one partition (what clients send a replica):
 * v0 carries the gpid in the fixed header, v1 in the request meta.
 */
export function encodeGpidRequest(name: string, seqid: number, args: Buffer, o: GpidRequestOptions): Buffer {
  const timeoutMs = o.timeoutMs ?? 0;
  const hash = o.partitionHash ?? 0n;
  const body = new Writer(64 + args.length).u32(0x80010001).string(name).i32(seqid).bytes(args).finish();
  if (o.version === 1) {
    const meta = new Writer(40)
      .field(T_I32, 1).i32(o.appId)
      .field(T_I32, 2).i32(o.partitionIndex)
      .field(T_I32, 3).i32(timeoutMs)
      .field(T_I64, 4).i64(hash)
      .field(T_BOOL, 5).i8(0)
      .stop()
      .finish();
    return new Writer(16 + meta.length + body.length)
      .u32(MAGIC).u32(1).u32(meta.length).u32(body.length)
      .bytes(meta).bytes(body).finish();
  }
  const w = new Writer(48 + body.length);
  w.u32(MAGIC).u32(0).u32(48).u32(0).u32(body.length).u32(0);
  w.i32(o.appId).i32(o.partitionIndex).i32(timeoutMs).i32(o.appId * 7919 + o.partitionIndex).i64(hash);
  return w.bytes(body).finish();
}
