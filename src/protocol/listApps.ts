/**
 * `RPC_CM_LIST_APPS` (docs/PROTOCOL.md §5): its args, and the
 * configuration_list_apps_response model and codec, for tooling and tests.
 *
 * Hand-written over ThriftReader/ThriftWriter like the rest of the codec:
 * `err` is an inline error_code, which a generic thrift reader cannot read.
 * Inside app_info there are no custom types, so its unknown fields go to the
 * `thrift` package's generic skip.
 */
import { ProtocolError } from '../errors.js';
import { enterResult } from './metaReply.js';
import { readErrorCode } from './queryConfig.js';
import {
  ThriftReader,
  ThriftWriter,
  T_BOOL,
  T_I32,
  T_I64,
  T_LIST,
  T_MAP,
  T_STOP,
  T_STRING,
  T_STRUCT,
} from './thrift.js';
import type { MetaReply } from './types.js';

/** app_status: 1 = available. 0 (AS_INVALID) in a list request means "any status". */
export const APP_STATUS_ANY = 0;
export const APP_STATUS_AVAILABLE = 1;

export interface AppInfo {
  status: number;
  appType: string;
  appName: string;
  appId: number;
  partitionCount: number;
  envs: Map<string, string>;
  isStateful: boolean;
  maxReplicaCount: number;
  expireSecond: bigint;
  createSecond: bigint;
  dropSecond: bigint;
  duplicating?: boolean;
  initPartitionCount: number;
  isBulkLoading?: boolean;
  atomicIdempotent?: boolean;
}

export interface ListAppsResponse {
  err: string;
  infos: AppInfo[];
  hintMessage?: string;
}

/** The list-apps args struct bytes: wrapper field 1 holding {1: i32 status}. */
export function encodeListAppsArgs(status: number = APP_STATUS_ANY): Buffer {
  const w = new ThriftWriter(16);
  w.field(T_STRUCT, 1);
  w.field(T_I32, 1).i32(status);
  w.stop();
  w.stop();
  return w.toBuffer();
}

/**
 * Reads the tables listed in a list-apps reply frame (`reply` from readMetaReply).
 *
 * @throws ProtocolError when the frame has no body or it is malformed.
 */
export function readListApps(frame: Buffer, reply: MetaReply): { error: string; apps: AppInfo[] } {
  if (reply.resultOffset === undefined) {
    throw new ProtocolError(`list-apps reply: there is no body (header error ${reply.headerError}).`);
  }
  const r = new ThriftReader(frame, reply.resultOffset, frame.length, 'list-apps reply');
  if (!enterResult(r)) r.fail('the reply has no result (field 0)');
  const value = readListAppsResponse(r);
  return { error: value.err, apps: value.infos };
}

function newAppInfo(): AppInfo {
  return {
    status: 0,
    appType: '',
    appName: '',
    appId: 0,
    partitionCount: 0,
    envs: new Map(),
    isStateful: false,
    maxReplicaCount: 0,
    expireSecond: 0n,
    createSecond: 0n,
    dropSecond: 0n,
    initPartitionCount: 0,
  };
}

function readEnvs(r: ThriftReader): Map<string, string> {
  const { keyType, valueType, size } = r.mapBegin();
  if (keyType !== T_STRING || valueType !== T_STRING) r.fail(`envs is a map<${keyType},${valueType}>, not map<string,string>`);
  const envs = new Map<string, string>();
  for (let i = 0; i < size; i++) {
    const key = r.string();
    envs.set(key, r.string());
  }
  return envs;
}

export function readAppInfo(r: ThriftReader): AppInfo {
  const a = newAppInfo();
  for (;;) {
    const type = r.fieldType();
    if (type === T_STOP) return a;
    const id = r.fieldId();
    switch (id * 256 + type) {
      case 1 * 256 + T_I32:
        a.status = r.i32();
        break;
      case 2 * 256 + T_STRING:
        a.appType = r.string();
        break;
      case 3 * 256 + T_STRING:
        a.appName = r.string();
        break;
      case 4 * 256 + T_I32:
        a.appId = r.i32();
        break;
      case 5 * 256 + T_I32:
        a.partitionCount = r.i32();
        break;
      case 6 * 256 + T_MAP:
        a.envs = readEnvs(r);
        break;
      case 7 * 256 + T_BOOL:
        a.isStateful = r.bool();
        break;
      case 8 * 256 + T_I32:
        a.maxReplicaCount = r.i32();
        break;
      case 9 * 256 + T_I64:
        a.expireSecond = r.i64();
        break;
      case 10 * 256 + T_I64:
        a.createSecond = r.i64();
        break;
      case 11 * 256 + T_I64:
        a.dropSecond = r.i64();
        break;
      case 12 * 256 + T_BOOL:
        a.duplicating = r.bool();
        break;
      case 13 * 256 + T_I32:
        a.initPartitionCount = r.i32();
        break;
      case 14 * 256 + T_BOOL:
        a.isBulkLoading = r.bool();
        break;
      case 15 * 256 + T_BOOL:
        a.atomicIdempotent = r.bool();
        break;
      default:
        r.skip(type);
    }
  }
}

export function writeAppInfo(w: ThriftWriter, a: AppInfo): void {
  w.field(T_I32, 1).i32(a.status);
  w.field(T_STRING, 2).string(a.appType);
  w.field(T_STRING, 3).string(a.appName);
  w.field(T_I32, 4).i32(a.appId);
  w.field(T_I32, 5).i32(a.partitionCount);
  w.field(T_MAP, 6).mapBegin(T_STRING, T_STRING, a.envs.size);
  for (const [k, v] of a.envs) w.string(k).string(v);
  w.field(T_BOOL, 7).bool(a.isStateful);
  w.field(T_I32, 8).i32(a.maxReplicaCount);
  w.field(T_I64, 9).i64(a.expireSecond);
  w.field(T_I64, 10).i64(a.createSecond);
  w.field(T_I64, 11).i64(a.dropSecond);
  if (a.duplicating !== undefined) w.field(T_BOOL, 12).bool(a.duplicating);
  w.field(T_I32, 13).i32(a.initPartitionCount);
  if (a.isBulkLoading !== undefined) w.field(T_BOOL, 14).bool(a.isBulkLoading);
  if (a.atomicIdempotent !== undefined) w.field(T_BOOL, 15).bool(a.atomicIdempotent);
  w.stop();
}

export function readListAppsResponse(r: ThriftReader): ListAppsResponse {
  const out: ListAppsResponse = { err: '', infos: [] };
  for (;;) {
    const type = r.fieldType();
    if (type === T_STOP) return out;
    const id = r.fieldId();
    if (id === 1 && type === T_STRUCT) {
      out.err = readErrorCode(r);
    } else if (id === 2 && type === T_LIST) {
      const { size } = r.listBegin(T_STRUCT);
      const infos: AppInfo[] = [];
      for (let i = 0; i < size; i++) infos.push(readAppInfo(r));
      out.infos = infos;
    } else if (id === 3 && type === T_STRING) {
      out.hintMessage = r.string();
    } else {
      r.skip(type);
    }
  }
}

/** The configuration_list_apps_response struct bytes (field 1 through STOP). */
export function encodeListAppsResponse(v: ListAppsResponse): Buffer {
  const w = new ThriftWriter(64 + v.infos.length * 96);
  w.field(T_STRUCT, 1).string(v.err);
  w.field(T_LIST, 2).listBegin(T_STRUCT, v.infos.length);
  for (const a of v.infos) writeAppInfo(w, a);
  if (v.hintMessage !== undefined) w.field(T_STRING, 3).string(v.hintMessage);
  w.stop();
  return w.toBuffer();
}

/** Decodes a configuration_list_apps_response struct at `offset`; `end` is just past its STOP. */
export function decodeListAppsResponse(buf: Buffer, offset: number): { value: ListAppsResponse; end: number } {
  const r = new ThriftReader(buf, offset, buf.length, 'configuration_list_apps_response');
  const value = readListAppsResponse(r);
  return { value, end: r.pos };
}
