/**
 * Schema-aware model and codec of `query_cfg_response` and
 * `partition_configuration` (docs/PROTOCOL.md §4, §5), with Pegasus's inline custom
 * types `error_code`, `gpid`, `rpc_address` and `host_port`.
 *
 * Hand-written over ThriftReader/ThriftWriter: the custom types sit under a
 * STRUCT type byte with no struct framing, which no generic thrift reader can
 * walk. Only fields this codec does not know go to the `thrift` package's
 * generic skip.
 */
import { ThriftReader, ThriftWriter, T_BOOL, T_I32, T_I64, T_LIST, T_STOP, T_STRUCT } from './thrift.js';

/** A partition id. On the wire one i64: partition_index in the high half, app_id in the low. */
export interface Gpid {
  appId: number;
  partitionIndex: number;
}

/** rDSN `rpc_address`: one i64 = `ip << 32 | port << 16 | type`. */
export interface RpcAddress {
  /** IPv4 address as an unsigned 32-bit number. */
  ip: number;
  port: number;
  /** The low 16 bits as sent (1 = IPv4, 0 = invalid); kept whole so a round trip is byte-exact. */
  type: number;
}

/** rDSN `host_port` (2.6+): string host, i16 port, i8 type. */
export interface HostPort {
  host: string;
  port: number;
  type: number;
}

export interface PartitionConfiguration {
  pid: Gpid;
  /** Negative while a split child is not ready. */
  ballot: bigint;
  maxReplicaCount: number;
  primary: RpcAddress;
  secondaries: RpcAddress[];
  lastDrops: RpcAddress[];
  lastCommittedDecree: bigint;
  partitionFlags: number;
  hpPrimary?: HostPort;
  hpSecondaries?: HostPort[];
  hpLastDrops?: HostPort[];
}

export interface QueryConfigResponse {
  /** The error name (`error_code`). */
  err: string;
  appId: number;
  partitionCount: number;
  isStateful: boolean;
  partitions: PartitionConfiguration[];
}

/** Error names are at most a few dozen bytes; anything longer is not an error name. */
const MAX_ERROR_NAME_BYTES = 256;
/** Host names are at most 253 bytes (RFC 1035); allow a little slack for odd resolvers. */
const MAX_HOST_BYTES = 1024;

export const INVALID_ADDRESS: RpcAddress = Object.freeze({ ip: 0, port: 0, type: 0 });

// ---- custom inline types -------------------------------------------------

export function readErrorCode(r: ThriftReader): string {
  return r.string(MAX_ERROR_NAME_BYTES);
}

export function readGpid(r: ThriftReader): Gpid {
  const partitionIndex = r.i32();
  const appId = r.i32();
  return { appId, partitionIndex };
}

export function writeGpid(w: ThriftWriter, g: Gpid): void {
  w.i32(g.partitionIndex).i32(g.appId);
}

export function readRpcAddress(r: ThriftReader): RpcAddress {
  const ip = r.u32();
  const port = r.u16();
  const type = r.u16();
  return { ip, port, type };
}

export function writeRpcAddress(w: ThriftWriter, a: RpcAddress): void {
  w.u32(a.ip).u16(a.port).u16(a.type);
}

export function readHostPort(r: ThriftReader): HostPort {
  const host = r.string(MAX_HOST_BYTES);
  const port = r.u16(); // an i16 on the wire; ports above 32767 arrive negative
  const type = r.i8();
  return { host, port, type };
}

export function writeHostPort(w: ThriftWriter, h: HostPort): void {
  w.string(h.host).u16(h.port & 0xffff).u8(h.type);
}

/** `a.b.c.d:port` for a valid IPv4 rpc_address, else undefined. */
export function formatRpcAddress(a: RpcAddress): string | undefined {
  // rDSN keeps the type in the low two bits; the rest of the low half is padding.
  if ((a.type & 3) !== 1 || (a.ip === 0 && a.port === 0)) return undefined;
  return `${a.ip >>> 24}.${(a.ip >>> 16) & 0xff}.${(a.ip >>> 8) & 0xff}.${a.ip & 0xff}:${a.port}`;
}

/** `host:port` for a usable host_port, else undefined. */
export function formatHostPort(h: HostPort): string | undefined {
  if (h.host === '' || h.port === 0 || h.type === 0) return undefined;
  return `${h.host}:${h.port}`;
}

/** The IPv4 rpc_address for `a.b.c.d:port`; undefined when the text is not that. */
export function parseRpcAddress(text: string): RpcAddress | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3}):(\d{1,5})$/.exec(text);
  if (!m) return undefined;
  const parts = m.slice(1, 5).map(Number);
  const port = Number(m[5]);
  if (parts.some((p) => p > 255) || port > 0xffff) return undefined;
  const [a, b, c, d] = parts as [number, number, number, number];
  return { ip: ((a << 24) | (b << 16) | (c << 8) | d) >>> 0, port, type: 1 };
}

// ---- partition_configuration ---------------------------------------------

function readAddressList(r: ThriftReader): RpcAddress[] {
  const { size } = r.listBegin(T_STRUCT);
  const out: RpcAddress[] = [];
  for (let i = 0; i < size; i++) out.push(readRpcAddress(r));
  return out;
}

function readHostPortList(r: ThriftReader): HostPort[] {
  const { size } = r.listBegin(T_STRUCT);
  const out: HostPort[] = [];
  for (let i = 0; i < size; i++) out.push(readHostPort(r));
  return out;
}

/**
 * Reads one partition_configuration struct (through its STOP). When `cuts` is
 * given, the byte range `[start, end)` of each hp_* field (9–11) is appended
 * to it as two numbers, so a caller can drop those fields from the bytes.
 */
export function readPartitionConfiguration(r: ThriftReader, cuts?: number[]): PartitionConfiguration {
  const pc: PartitionConfiguration = {
    pid: { appId: 0, partitionIndex: 0 },
    ballot: 0n,
    maxReplicaCount: 0,
    primary: { ...INVALID_ADDRESS },
    secondaries: [],
    lastDrops: [],
    lastCommittedDecree: 0n,
    partitionFlags: 0,
  };
  for (;;) {
    const start = r.pos;
    const type = r.fieldType();
    if (type === T_STOP) return pc;
    const id = r.fieldId();
    switch (id * 256 + type) {
      case 1 * 256 + T_STRUCT:
        pc.pid = readGpid(r);
        break;
      case 2 * 256 + T_I64:
        pc.ballot = r.i64();
        break;
      case 3 * 256 + T_I32:
        pc.maxReplicaCount = r.i32();
        break;
      case 4 * 256 + T_STRUCT:
        pc.primary = readRpcAddress(r);
        break;
      case 5 * 256 + T_LIST:
        pc.secondaries = readAddressList(r);
        break;
      case 6 * 256 + T_LIST:
        pc.lastDrops = readAddressList(r);
        break;
      case 7 * 256 + T_I64:
        pc.lastCommittedDecree = r.i64();
        break;
      case 8 * 256 + T_I32:
        pc.partitionFlags = r.i32();
        break;
      case 9 * 256 + T_STRUCT:
        pc.hpPrimary = readHostPort(r);
        cuts?.push(start, r.pos);
        break;
      case 10 * 256 + T_LIST:
        pc.hpSecondaries = readHostPortList(r);
        cuts?.push(start, r.pos);
        break;
      case 11 * 256 + T_LIST:
        pc.hpLastDrops = readHostPortList(r);
        cuts?.push(start, r.pos);
        break;
      default:
        r.skip(type);
    }
  }
}

function writeAddressList(w: ThriftWriter, id: number, list: RpcAddress[]): void {
  w.field(T_LIST, id).listBegin(T_STRUCT, list.length);
  for (const a of list) writeRpcAddress(w, a);
}

function writeHostPortList(w: ThriftWriter, id: number, list: HostPort[]): void {
  w.field(T_LIST, id).listBegin(T_STRUCT, list.length);
  for (const h of list) writeHostPort(w, h);
}

/** Writes one partition_configuration in field order, as a MetaServer does. */
export function writePartitionConfiguration(w: ThriftWriter, pc: PartitionConfiguration): void {
  w.field(T_STRUCT, 1);
  writeGpid(w, pc.pid);
  w.field(T_I64, 2).i64(pc.ballot);
  w.field(T_I32, 3).i32(pc.maxReplicaCount);
  w.field(T_STRUCT, 4);
  writeRpcAddress(w, pc.primary);
  writeAddressList(w, 5, pc.secondaries);
  writeAddressList(w, 6, pc.lastDrops);
  w.field(T_I64, 7).i64(pc.lastCommittedDecree);
  w.field(T_I32, 8).i32(pc.partitionFlags);
  if (pc.hpPrimary) {
    w.field(T_STRUCT, 9);
    writeHostPort(w, pc.hpPrimary);
  }
  if (pc.hpSecondaries) writeHostPortList(w, 10, pc.hpSecondaries);
  if (pc.hpLastDrops) writeHostPortList(w, 11, pc.hpLastDrops);
  w.stop();
}

// ---- query_cfg_response --------------------------------------------------

/** Reads one query_cfg_response struct (through its STOP); `cuts` as in readPartitionConfiguration. */
export function readQueryConfigResponse(r: ThriftReader, cuts?: number[]): QueryConfigResponse {
  const out: QueryConfigResponse = { err: '', appId: 0, partitionCount: 0, isStateful: false, partitions: [] };
  for (;;) {
    const type = r.fieldType();
    if (type === T_STOP) return out;
    const id = r.fieldId();
    switch (id * 256 + type) {
      case 1 * 256 + T_STRUCT:
        out.err = readErrorCode(r);
        break;
      case 2 * 256 + T_I32:
        out.appId = r.i32();
        break;
      case 3 * 256 + T_I32:
        out.partitionCount = r.i32();
        break;
      case 4 * 256 + T_BOOL:
        out.isStateful = r.bool();
        break;
      case 5 * 256 + T_LIST: {
        const { size } = r.listBegin(T_STRUCT);
        const partitions: PartitionConfiguration[] = [];
        for (let i = 0; i < size; i++) partitions.push(readPartitionConfiguration(r, cuts));
        out.partitions = partitions;
        break;
      }
      default:
        r.skip(type);
    }
  }
}

export function writeQueryConfigResponse(w: ThriftWriter, v: QueryConfigResponse): void {
  w.field(T_STRUCT, 1).string(v.err);
  w.field(T_I32, 2).i32(v.appId);
  w.field(T_I32, 3).i32(v.partitionCount);
  w.field(T_BOOL, 4).bool(v.isStateful);
  w.field(T_LIST, 5).listBegin(T_STRUCT, v.partitions.length);
  for (const pc of v.partitions) writePartitionConfiguration(w, pc);
  w.stop();
}

/** The query_cfg_response struct bytes (field 1 through STOP). */
export function encodeQueryConfigResponse(v: QueryConfigResponse): Buffer {
  const w = new ThriftWriter(64 + v.partitions.length * 96);
  writeQueryConfigResponse(w, v);
  return w.toBuffer();
}

/** Decodes a query_cfg_response struct starting at `offset`; `end` is just past its STOP. */
export function decodeQueryConfigResponse(
  buf: Buffer,
  offset: number,
): { value: QueryConfigResponse; end: number } {
  const r = new ThriftReader(buf, offset, buf.length, 'query_cfg_response');
  const value = readQueryConfigResponse(r);
  return { value, end: r.pos };
}
