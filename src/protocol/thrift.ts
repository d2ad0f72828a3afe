/**
 * Bounds-checked thrift binary-protocol reading and writing over Buffer offsets.
 *
 * Hand-written: every primitive read and write, because Pegasus's custom types
 * (error_code, gpid, rpc_address, host_port) are written inline under a STRUCT
 * type byte and need byte-level control, and because the hot path reads
 * straight from socket views without wrapping them in transport objects.
 * From the `thrift` package: the generic skip of unknown fields
 * (`TBinaryProtocol.skip`), which only runs for fields this codec does not know.
 *
 * Every failure is a `ProtocolError`; no read goes past `end`, and no length
 * read from the wire is trusted before it is checked against the bytes left.
 */
import { TBinaryProtocol, TFramedTransport } from 'thrift';
import { ProtocolError } from '../errors.js';

/** Thrift binary type ids (docs/PROTOCOL.md preamble). */
export const T_STOP = 0;
export const T_BOOL = 2;
export const T_BYTE = 3;
export const T_DOUBLE = 4;
export const T_I16 = 6;
export const T_I32 = 8;
export const T_I64 = 10;
export const T_STRING = 11;
export const T_STRUCT = 12;
export const T_MAP = 13;
export const T_SET = 14;
export const T_LIST = 15;

/** Strict message-begin version word and the message types the proxy meets. */
export const VERSION_1 = 0x80010000;
export const VERSION_MASK = 0xffff0000;
export const MSG_CALL = 1;
export const MSG_REPLY = 2;
export const MSG_ONEWAY = 4;

/** Fewest bytes one element of a container of this type can take (for bounding sizes). */
function minElementBytes(type: number): number {
  switch (type) {
    case T_I16:
      return 2;
    case T_I32:
    case T_STRING:
      return 4;
    case T_I64:
    case T_DOUBLE:
      return 8;
    default:
      // BOOL, BYTE take one byte; a STRUCT takes at least its STOP; every
      // custom inline type takes more than one.
      return 1;
  }
}

/** The transport position the generic skip reached; `borrow` is public API but not in the typings. */
interface Borrowing {
  borrow(): { readIndex: number };
}

/**
 * A cursor over `buf[pos, end)`. `what` names the thing being read, so a
 * failure says which struct was malformed and where.
 */
export class ThriftReader {
  pos: number;

  constructor(
    readonly buf: Buffer,
    pos: number,
    readonly end: number,
    readonly what: string,
  ) {
    this.pos = pos;
  }

  fail(detail: string): never {
    throw new ProtocolError(`${this.what}: ${detail} at byte ${this.pos}.`);
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  need(n: number): void {
    if (n > this.end - this.pos) {
      this.fail(`truncated (needs ${n} more bytes, ${this.end - this.pos} left)`);
    }
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  i8(): number {
    this.need(1);
    const v = this.buf.readInt8(this.pos);
    this.pos += 1;
    return v;
  }

  bool(): boolean {
    return this.u8() !== 0;
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

  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  i64(): bigint {
    this.need(8);
    const v = this.buf.readBigInt64BE(this.pos);
    this.pos += 8;
    return v;
  }

  /** A thrift string: i32 length, UTF-8 bytes. `max` bounds the length on top of the bytes left. */
  string(max = Infinity): string {
    const len = this.i32();
    if (len < 0) this.fail(`negative string length ${len}`);
    if (len > max) this.fail(`string of ${len} bytes is longer than the ${max} allowed`);
    this.need(len);
    const s = this.buf.toString('utf8', this.pos, this.pos + len);
    this.pos += len;
    return s;
  }

  /** A thrift binary as a view of the underlying buffer. */
  binary(): Buffer {
    const len = this.i32();
    if (len < 0) this.fail(`negative binary length ${len}`);
    this.need(len);
    const b = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return b;
  }

  /** A field header's type byte; call `fieldId()` next unless it is STOP. */
  fieldType(): number {
    return this.u8();
  }

  fieldId(): number {
    return this.i16();
  }

  /**
   * A list or set header. Returns the size after checking it is not negative
   * and that that many elements of `elemType` could fit in the bytes left, so
   * callers may size arrays by it.
   */
  listBegin(expectType?: number): { elemType: number; size: number } {
    const elemType = this.u8();
    const size = this.i32();
    if (expectType !== undefined && elemType !== expectType) {
      this.fail(`list of type ${elemType} where type ${expectType} was expected`);
    }
    this.checkSize(size, minElementBytes(elemType));
    return { elemType, size };
  }

  mapBegin(): { keyType: number; valueType: number; size: number } {
    const keyType = this.u8();
    const valueType = this.u8();
    const size = this.i32();
    this.checkSize(size, minElementBytes(keyType) + minElementBytes(valueType));
    return { keyType, valueType, size };
  }

  private checkSize(size: number, perElement: number): void {
    if (size < 0) this.fail(`negative container size ${size}`);
    if (size * perElement > this.end - this.pos) {
      this.fail(`container of ${size} elements cannot fit in the ${this.end - this.pos} bytes left`);
    }
  }

  /**
   * Skips one value of a standard thrift type with the `thrift` package's
   * generic skip. Must not be used where a Pegasus custom type may appear.
   */
  skip(type: number): void {
    const transport = new TFramedTransport(this.buf.subarray(this.pos, this.end));
    const protocol = new TBinaryProtocol(transport);
    try {
      protocol.skip(type);
    } catch (cause) {
      const reason = cause instanceof Error ? cause.message || cause.name : String(cause);
      this.fail(`cannot skip a field of type ${type} (${reason})`);
    }
    this.pos += (transport as unknown as Borrowing).borrow().readIndex;
  }
}

/**
 * A growable output buffer. Used off the hot path (error answers, tooling,
 * tests); the relay path never re-encodes.
 */
export class ThriftWriter {
  private buf: Buffer;
  length = 0;

  constructor(capacity = 256) {
    this.buf = Buffer.allocUnsafe(capacity);
  }

  /**
   * Makes room for `n` bytes and returns where they go. Call it before naming
   * `this.buf`: it may replace the buffer.
   */
  private reserve(n: number): number {
    const at = this.length;
    if (at + n > this.buf.length) {
      const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, at + n));
      this.buf.copy(next, 0, 0, at);
      this.buf = next;
    }
    this.length = at + n;
    return at;
  }

  u8(v: number): this {
    const at = this.reserve(1);
    this.buf[at] = v & 0xff;
    return this;
  }

  bool(v: boolean): this {
    return this.u8(v ? 1 : 0);
  }

  i16(v: number): this {
    const at = this.reserve(2);
    this.buf.writeInt16BE(v, at);
    return this;
  }

  u16(v: number): this {
    const at = this.reserve(2);
    this.buf.writeUInt16BE(v, at);
    return this;
  }

  i32(v: number): this {
    const at = this.reserve(4);
    this.buf.writeInt32BE(v, at);
    return this;
  }

  u32(v: number): this {
    const at = this.reserve(4);
    this.buf.writeUInt32BE(v >>> 0, at);
    return this;
  }

  i64(v: bigint): this {
    const at = this.reserve(8);
    this.buf.writeBigInt64BE(BigInt.asIntN(64, v), at);
    return this;
  }

  string(s: string): this {
    const len = Buffer.byteLength(s, 'utf8');
    this.i32(len);
    const at = this.reserve(len);
    this.buf.write(s, at, len, 'utf8');
    return this;
  }

  binary(b: Uint8Array): this {
    this.i32(b.length);
    return this.raw(b);
  }

  raw(b: Uint8Array): this {
    const at = this.reserve(b.length);
    this.buf.set(b, at);
    return this;
  }

  field(type: number, id: number): this {
    return this.u8(type).i16(id);
  }

  stop(): this {
    return this.u8(T_STOP);
  }

  listBegin(elemType: number, size: number): this {
    return this.u8(elemType).i32(size);
  }

  mapBegin(keyType: number, valueType: number, size: number): this {
    return this.u8(keyType).u8(valueType).i32(size);
  }

  /** Overwrites an i32 written earlier (length prefixes). */
  patchI32(at: number, v: number): this {
    this.buf.writeInt32BE(v, at);
    return this;
  }

  /** The bytes written, as an exact-size copy (the scratch buffer is not handed out). */
  toBuffer(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.length));
  }
}
