/**
 * The replica RPCs the simulator speaks (rrdb put and get) and the meta's
 * update-app-env RPC: their args, as clients write them, and their replies, as
 * a replica or meta writes them (idl/rrdb.thrift, idl/meta_admin.thrift).
 */
import { T_I32, T_I64, T_LIST, T_STRING, T_STRUCT, Writer, readArgs, replyTemplate, type SimRequest } from './wire.js';
import type { ReplyTemplate } from './replies.js';

export const RPC_PUT = 'RPC_RRDB_RRDB_PUT';
export const RPC_GET = 'RPC_RRDB_RRDB_GET';
export const RPC_UPDATE_APP_ENV = 'RPC_CM_UPDATE_APP_ENV';

/** `app_env_operation` */
export const APP_ENV_OP_SET = 1;
export const APP_ENV_OP_DEL = 2;
export const APP_ENV_OP_CLEAR = 3;

/** rocksdb::Status codes a replica puts in `error` of its responses. */
export const STATUS_OK = 0;
export const STATUS_NOT_FOUND = 1;

export interface PutArgs {
  key: Buffer;
  value: Buffer;
  expireTsSeconds: number;
}

export interface UpdateAppEnvArgs {
  appName: string;
  op: number;
  keys?: string[];
  values?: string[];
  clearPrefix?: string;
}

/** Args of `put(1: update_request update)`; the blobs are inline, tagged STRUCT (PROTOCOL.md §4). */
export function putArgs(key: Buffer, value: Buffer, expireTsSeconds = 0): Buffer {
  const w = new Writer(32 + key.length + value.length).field(T_STRUCT, 1);
  w.field(T_STRUCT, 1).i32(key.length).bytes(key);
  w.field(T_STRUCT, 2).i32(value.length).bytes(value);
  w.field(T_I32, 3).i32(expireTsSeconds);
  return w.stop().stop().finish();
}

/** Args of `get(1: blob key)`: the blob is inline, so the field's type is STRUCT (PROTOCOL.md §4). */
export function getArgs(key: Buffer): Buffer {
  return new Writer(16 + key.length).field(T_STRUCT, 1).i32(key.length).bytes(key).stop().finish();
}

function stringList(w: Writer, id: number, items: readonly string[]): void {
  w.field(T_LIST, id).i8(T_STRING).i32(items.length);
  for (const s of items) w.string(s);
}

/** Args of `update_app_env(1: configuration_update_app_env_request)`. */
export function updateAppEnvArgs(a: UpdateAppEnvArgs): Buffer {
  const w = new Writer().field(T_STRUCT, 1);
  w.field(T_STRING, 1).string(a.appName);
  w.field(T_I32, 2).i32(a.op);
  if (a.keys) stringList(w, 3, a.keys);
  if (a.values) stringList(w, 4, a.values);
  if (a.clearPrefix !== undefined) w.field(T_STRING, 5).string(a.clearPrefix);
  return w.stop().stop().finish();
}

/** `update_request`: key and value are blobs; accept them tagged STRUCT (as clients write them) or STRING. */
export function readPutArgs(req: SimRequest): PutArgs {
  const out: PutArgs = { key: Buffer.alloc(0), value: Buffer.alloc(0), expireTsSeconds: 0 };
  readArgs(req.body, req.argsOffset, (r, t, id) => {
    if (id === 1 && (t === T_STRING || t === T_STRUCT)) out.key = Buffer.from(r.binary());
    else if (id === 2 && (t === T_STRING || t === T_STRUCT)) out.value = Buffer.from(r.binary());
    else if (id === 3 && t === T_I32) out.expireTsSeconds = r.i32();
    else return false;
    return true;
  });
  return out;
}

/**
 * `get`'s args hold the blob itself as field 1, not a struct around it, so
 * the generic args walker does not fit: read the one field by hand.
 */
export function readGetArgs(req: SimRequest): Buffer {
  const body = req.body;
  let o = req.argsOffset;
  const t = body.readInt8(o);
  if (t !== T_STRUCT && t !== T_STRING) throw new RangeError(`get args field has thrift type ${t}`);
  o += 3;
  const n = body.readInt32BE(o);
  if (n < 0 || o + 4 + n > body.length) throw new RangeError(`get key length ${n} runs past the body`);
  return Buffer.from(body.subarray(o + 4, o + 4 + n));
}

export function readUpdateAppEnvArgs(req: SimRequest): UpdateAppEnvArgs {
  const out: UpdateAppEnvArgs = { appName: '', op: 0 };
  readArgs(req.body, req.argsOffset, (r, t, id) => {
    if (id === 1 && t === T_STRING) out.appName = r.string();
    else if (id === 2 && t === T_I32) out.op = r.i32();
    else if ((id === 3 || id === 4) && t === T_LIST) {
      const et = r.i8();
      const n = r.count();
      const items: string[] = [];
      for (let i = 0; i < n; i++) {
        if (et === T_STRING) items.push(r.string());
        else r.skip(et);
      }
      if (id === 3) out.keys = items;
      else out.values = items;
    } else if (id === 5 && t === T_STRING) out.clearPrefix = r.string();
    else return false;
    return true;
  });
  return out;
}

export interface ReplicaReplyInfo {
  appId: number;
  partitionIndex: number;
  /** `host:port` of the serving replica, what a replica names itself in `server`. */
  server: string;
}

/** `update_response` as the primary writes it after a put. */
export function putReply(seqid: number, status: number, decree: bigint, info: ReplicaReplyInfo): Buffer {
  const t = replyTemplate('ERR_OK', RPC_PUT, (w) => {
    w.field(T_I32, 1).i32(status);
    w.field(T_I32, 2).i32(info.appId);
    w.field(T_I32, 3).i32(info.partitionIndex);
    w.field(T_I64, 4).i64(decree);
    w.field(T_STRING, 5).string(info.server);
    w.stop();
  });
  t.bytes.writeInt32BE(seqid, t.seqidOffset);
  return t.bytes;
}

/** `read_response`: the value (an empty blob when not found), no field 5. */
export function getReply(seqid: number, status: number, value: Buffer, info: ReplicaReplyInfo): Buffer {
  const t = replyTemplate('ERR_OK', RPC_GET, (w) => {
    w.field(T_I32, 1).i32(status);
    w.field(T_STRUCT, 2).i32(value.length).bytes(value);
    w.field(T_I32, 3).i32(info.appId);
    w.field(T_I32, 4).i32(info.partitionIndex);
    w.field(T_STRING, 6).string(info.server);
    w.stop();
  });
  t.bytes.writeInt32BE(seqid, t.seqidOffset);
  return t.bytes;
}

/** A header error (the replica's `dsn_rpc_reply(create_response(), err)`): `_ACK` message begin, no body. */
export function headerErrorReply(error: string, rpcName: string, seqid: number): Buffer {
  const t = replyTemplate(error, rpcName);
  t.bytes.writeInt32BE(seqid, t.seqidOffset);
  return t.bytes;
}

/** `configuration_update_app_env_response`. */
export function updateAppEnvReply(err: string, hint: string): ReplyTemplate {
  return replyTemplate('ERR_OK', RPC_UPDATE_APP_ENV, (w) => {
    w.field(T_STRUCT, 1).string(err);
    w.field(T_STRING, 2).string(hint);
    w.stop();
  });
}
