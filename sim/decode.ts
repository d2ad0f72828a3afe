/**
 * Schema-aware decoding of MetaServer reply frames, for tests. Pegasus's custom
 * types (error_code, gpid, rpc_address, host_port) are inline and cannot be
 * generic-skipped (PROTOCOL.md §4), so every field is read by its schema.
 */
import { Reader, SimWireError, T_BOOL, T_I32, T_I64, T_LIST, T_MAP, T_STOP, T_STRING, T_STRUCT } from './wire.js';

export interface DecodedPartition {
  appId: number;
  partitionIndex: number;
  ballot: bigint;
  maxReplicaCount: number;
  primary: string;
  secondaries: string[];
  lastDrops: string[];
  lastCommittedDecree: bigint;
  partitionFlags: number;
  hpPrimary?: string;
  hpSecondaries?: string[];
  hpLastDrops?: string[];
}

export interface DecodedQueryConfig {
  err: string;
  appId: number;
  partitionCount: number;
  isStateful: boolean;
  partitions: DecodedPartition[];
}

export interface DecodedAppInfo {
  status: number;
  appType: string;
  appName: string;
  appId: number;
  partitionCount: number;
  isStateful: boolean;
  envs: Record<string, string>;
}

export interface DecodedListApps {
  err: string;
  infos: DecodedAppInfo[];
}

export interface DecodedReply<B> {
  headerError: string;
  name: string;
  seqid: number;
  /** Undefined when the header error is not ERR_OK (no body). */
  body?: B;
}

/** `ip:port` of an rpc_address; `0.0.0.0:0` for the invalid address. */
export function rpcAddressString(v: bigint): string {
  const ip = Number((v >> 32n) & 0xffffffffn);
  const port = Number((v >> 16n) & 0xffffn);
  if ((v & 0xffffn) !== 1n) return '0.0.0.0:0';
  return `${ip >>> 24}.${(ip >>> 16) & 0xff}.${(ip >>> 8) & 0xff}.${ip & 0xff}:${port}`;
}

function expect(got: number, want: number, what: string): void {
  if (got !== want) throw new SimWireError(`${what}: thrift type ${got}, expected ${want}`);
}

function rpcAddress(r: Reader): string {
  return rpcAddressString(r.i64());
}

function hostPort(r: Reader): string {
  const host = r.string();
  const port = r.u16();
  r.i8();
  return `${host}:${port}`;
}

function list<T>(r: Reader, elem: number, read: (r: Reader) => T): T[] {
  const et = r.i8();
  expect(et, elem, 'list element');
  const n = r.count();
  const out: T[] = [];
  for (let i = 0; i < n; i++) out.push(read(r));
  return out;
}

function partition(r: Reader): DecodedPartition {
  const p: DecodedPartition = {
    appId: 0,
    partitionIndex: 0,
    ballot: 0n,
    maxReplicaCount: 0,
    primary: '0.0.0.0:0',
    secondaries: [],
    lastDrops: [],
    lastCommittedDecree: 0n,
    partitionFlags: 0,
  };
  for (;;) {
    const t = r.i8();
    if (t === T_STOP) return p;
    const id = r.i16();
    switch (id) {
      case 1: {
        expect(t, T_STRUCT, 'pid');
        const v = r.i64();
        p.partitionIndex = Number(BigInt.asIntN(32, v >> 32n));
        p.appId = Number(BigInt.asIntN(32, v));
        break;
      }
      case 2:
        expect(t, T_I64, 'ballot');
        p.ballot = r.i64();
        break;
      case 3:
        expect(t, T_I32, 'max_replica_count');
        p.maxReplicaCount = r.i32();
        break;
      case 4:
        expect(t, T_STRUCT, 'primary');
        p.primary = rpcAddress(r);
        break;
      case 5:
        expect(t, T_LIST, 'secondaries');
        p.secondaries = list(r, T_STRUCT, rpcAddress);
        break;
      case 6:
        expect(t, T_LIST, 'last_drops');
        p.lastDrops = list(r, T_STRUCT, rpcAddress);
        break;
      case 7:
        expect(t, T_I64, 'last_committed_decree');
        p.lastCommittedDecree = r.i64();
        break;
      case 8:
        expect(t, T_I32, 'partition_flags');
        p.partitionFlags = r.i32();
        break;
      case 9:
        expect(t, T_STRUCT, 'hp_primary');
        p.hpPrimary = hostPort(r);
        break;
      case 10:
        expect(t, T_LIST, 'hp_secondaries');
        p.hpSecondaries = list(r, T_STRUCT, hostPort);
        break;
      case 11:
        expect(t, T_LIST, 'hp_last_drops');
        p.hpLastDrops = list(r, T_STRUCT, hostPort);
        break;
      default:
        r.skip(t);
    }
  }
}

function queryConfig(r: Reader): DecodedQueryConfig {
  const out: DecodedQueryConfig = { err: '', appId: 0, partitionCount: 0, isStateful: false, partitions: [] };
  for (;;) {
    const t = r.i8();
    if (t === T_STOP) return out;
    const id = r.i16();
    if (id === 1) {
      expect(t, T_STRUCT, 'err');
      out.err = r.string();
    } else if (id === 2 && t === T_I32) out.appId = r.i32();
    else if (id === 3 && t === T_I32) out.partitionCount = r.i32();
    else if (id === 4 && t === T_BOOL) out.isStateful = r.i8() !== 0;
    else if (id === 5) {
      expect(t, T_LIST, 'partitions');
      out.partitions = list(r, T_STRUCT, partition);
    } else r.skip(t);
  }
}

function appInfo(r: Reader): DecodedAppInfo {
  const a: DecodedAppInfo = {
    status: 0,
    appType: '',
    appName: '',
    appId: 0,
    partitionCount: 0,
    isStateful: false,
    envs: {},
  };
  for (;;) {
    const t = r.i8();
    if (t === T_STOP) return a;
    const id = r.i16();
    if (id === 1 && t === T_I32) a.status = r.i32();
    else if (id === 2 && t === T_STRING) a.appType = r.string();
    else if (id === 3 && t === T_STRING) a.appName = r.string();
    else if (id === 4 && t === T_I32) a.appId = r.i32();
    else if (id === 5 && t === T_I32) a.partitionCount = r.i32();
    else if (id === 7 && t === T_BOOL) a.isStateful = r.i8() !== 0;
    else if (id === 6 && t === T_MAP) {
      expect(r.i8(), T_STRING, 'envs key');
      expect(r.i8(), T_STRING, 'envs value');
      const n = r.count();
      for (let i = 0; i < n; i++) {
        const k = r.string();
        a.envs[k] = r.string();
      }
    } else r.skip(t);
  }
}

function listApps(r: Reader): DecodedListApps {
  const out: DecodedListApps = { err: '', infos: [] };
  for (;;) {
    const t = r.i8();
    if (t === T_STOP) return out;
    const id = r.i16();
    if (id === 1) {
      expect(t, T_STRUCT, 'err');
      out.err = r.string();
    } else if (id === 2) {
      expect(t, T_LIST, 'infos');
      out.infos = list(r, T_STRUCT, appInfo);
    } else r.skip(t);
  }
}

function decode<B>(frame: Buffer, body: (r: Reader) => B): DecodedReply<B> {
  const r = new Reader(frame);
  const total = r.i32();
  if (total !== frame.length) throw new SimWireError(`frame says ${total} bytes, has ${frame.length}`);
  const headerError = r.string();
  const strict = r.i32();
  if ((strict >>> 0) !== 0x80010002) throw new SimWireError(`not a strict REPLY: 0x${(strict >>> 0).toString(16)}`);
  const name = r.string();
  const seqid = r.i32();
  if (r.pos === frame.length) return { headerError, name, seqid };
  let result: B | undefined;
  for (;;) {
    const t = r.i8();
    if (t === T_STOP) break;
    const id = r.i16();
    if (id === 0 && t === T_STRUCT) result = body(r);
    else r.skip(t);
  }
  if (r.pos !== frame.length) throw new SimWireError(`${frame.length - r.pos} bytes after the result`);
  return result === undefined ? { headerError, name, seqid } : { headerError, name, seqid, body: result };
}

/** Decodes a query-config reply frame completely; throws SimWireError on anything malformed. */
export function decodeQueryConfigReply(frame: Buffer): DecodedReply<DecodedQueryConfig> {
  return decode(frame, queryConfig);
}

/** Decodes a list-apps reply frame completely. */
export function decodeListAppsReply(frame: Buffer): DecodedReply<DecodedListApps> {
  return decode(frame, listApps);
}

/** `update_response` (rrdb put). */
export interface DecodedPutResponse {
  error: number;
  appId: number;
  partitionIndex: number;
  decree: bigint;
  server: string;
}

/** `read_response` (rrdb get). */
export interface DecodedGetResponse {
  error: number;
  value: Buffer;
  appId: number;
  partitionIndex: number;
  server: string;
}

/** `configuration_update_app_env_response`. */
export interface DecodedUpdateAppEnv {
  err: string;
  hintMessage: string;
}

function putResponse(r: Reader): DecodedPutResponse {
  const out: DecodedPutResponse = { error: 0, appId: 0, partitionIndex: 0, decree: 0n, server: '' };
  for (;;) {
    const t = r.i8();
    if (t === T_STOP) return out;
    const id = r.i16();
    if (id === 1 && t === T_I32) out.error = r.i32();
    else if (id === 2 && t === T_I32) out.appId = r.i32();
    else if (id === 3 && t === T_I32) out.partitionIndex = r.i32();
    else if (id === 4 && t === T_I64) out.decree = r.i64();
    else if (id === 5 && t === T_STRING) out.server = r.string();
    else r.skip(t);
  }
}

function getResponse(r: Reader): DecodedGetResponse {
  const out: DecodedGetResponse = { error: 0, value: Buffer.alloc(0), appId: 0, partitionIndex: 0, server: '' };
  for (;;) {
    const t = r.i8();
    if (t === T_STOP) return out;
    const id = r.i16();
    if (id === 1 && t === T_I32) out.error = r.i32();
    else if (id === 2) {
      expect(t, T_STRUCT, 'value');
      out.value = Buffer.from(r.binary());
    } else if (id === 3 && t === T_I32) out.appId = r.i32();
    else if (id === 4 && t === T_I32) out.partitionIndex = r.i32();
    else if (id === 6 && t === T_STRING) out.server = r.string();
    else r.skip(t);
  }
}

function updateAppEnv(r: Reader): DecodedUpdateAppEnv {
  const out: DecodedUpdateAppEnv = { err: '', hintMessage: '' };
  for (;;) {
    const t = r.i8();
    if (t === T_STOP) return out;
    const id = r.i16();
    if (id === 1) {
      expect(t, T_STRUCT, 'err');
      out.err = r.string();
    } else if (id === 2 && t === T_STRING) out.hintMessage = r.string();
    else r.skip(t);
  }
}

/** Decodes a replica's put reply (a header error has no body). */
export function decodePutReply(frame: Buffer): DecodedReply<DecodedPutResponse> {
  return decode(frame, putResponse);
}

/** Decodes a replica's get reply (a header error has no body). */
export function decodeGetReply(frame: Buffer): DecodedReply<DecodedGetResponse> {
  return decode(frame, getResponse);
}

/** Decodes a meta's update-app-env reply. */
export function decodeUpdateAppEnvReply(frame: Buffer): DecodedReply<DecodedUpdateAppEnv> {
  return decode(frame, updateAppEnv);
}
