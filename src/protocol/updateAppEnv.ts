/**
 * `RPC_CM_UPDATE_APP_ENV` (docs/PROTOCOL.md §8): set, delete or clear a table's
 * envs through its cluster's MetaServer leader. The operator tool uses it to
 * fence a table (`replica.deny_client_request`) on the cluster a switch leaves.
 *
 * Hand-written over ThriftReader/ThriftWriter like the rest of the codec: the
 * response's `err` is an inline error_code, which a generic reader cannot read.
 */
import { ProtocolError } from '../errors.js';
import { enterResult } from './metaReply.js';
import { readErrorCode } from './queryConfig.js';
import { ThriftReader, ThriftWriter, T_I32, T_LIST, T_STOP, T_STRING, T_STRUCT } from './thrift.js';
import type { MetaReply } from './types.js';

export const RPC_UPDATE_APP_ENV = 'RPC_CM_UPDATE_APP_ENV';
export const RPC_UPDATE_APP_ENV_ACK = `${RPC_UPDATE_APP_ENV}_ACK`;

/** `app_env_operation`. */
export const APP_ENV_OP_SET = 1;
export const APP_ENV_OP_DEL = 2;
export const APP_ENV_OP_CLEAR = 3;

/** The table env that makes replicas turn clients away. */
export const DENY_CLIENT_ENV = 'replica.deny_client_request';
/** What a replica does with a denied op: `reconfig` answers ERR_INVALID_STATE (clients re-query), `timeout` answers nothing. */
export const DENY_MODES = ['reconfig*all', 'reconfig*write', 'reconfig*read', 'timeout*all', 'timeout*write', 'timeout*read'] as const;
export type DenyMode = (typeof DENY_MODES)[number];
/** The fence a switch sets: every read and write refused, so every client asks for its configuration again. */
export const FENCE_MODE: DenyMode = 'reconfig*all';

export function isDenyMode(value: string): value is DenyMode {
  return (DENY_MODES as readonly string[]).includes(value);
}

export type UpdateAppEnvRequest =
  | { appName: string; op: typeof APP_ENV_OP_SET; keys: string[]; values: string[] }
  | { appName: string; op: typeof APP_ENV_OP_DEL; keys: string[] }
  | { appName: string; op: typeof APP_ENV_OP_CLEAR; clearPrefix: string };

export interface UpdateAppEnvResponse {
  err: string;
  hintMessage: string;
}

function stringList(w: ThriftWriter, id: number, items: readonly string[]): void {
  w.field(T_LIST, id).listBegin(T_STRING, items.length);
  for (const item of items) w.string(item);
}

/** The args struct bytes: wrapper field 1 holding configuration_update_app_env_request. */
export function encodeUpdateAppEnvArgs(request: UpdateAppEnvRequest): Buffer {
  const w = new ThriftWriter(64 + request.appName.length);
  w.field(T_STRUCT, 1);
  w.field(T_STRING, 1).string(request.appName);
  w.field(T_I32, 2).i32(request.op);
  if (request.op === APP_ENV_OP_SET) {
    if (request.keys.length !== request.values.length) {
      throw new RangeError(`an env SET needs as many values as keys (${request.keys.length} keys, ${request.values.length} values)`);
    }
    stringList(w, 3, request.keys);
    stringList(w, 4, request.values);
  } else if (request.op === APP_ENV_OP_DEL) {
    stringList(w, 3, request.keys);
  } else {
    w.field(T_STRING, 5).string(request.clearPrefix);
  }
  w.stop();
  w.stop();
  return w.toBuffer();
}

export function readUpdateAppEnvResponse(r: ThriftReader): UpdateAppEnvResponse {
  const out: UpdateAppEnvResponse = { err: '', hintMessage: '' };
  let sawErr = false;
  for (;;) {
    const type = r.fieldType();
    if (type === T_STOP) break;
    const id = r.fieldId();
    if (id === 1 && type === T_STRUCT) {
      out.err = readErrorCode(r);
      sawErr = true;
    } else if (id === 2 && type === T_STRING) {
      out.hintMessage = r.string();
    } else {
      r.skip(type);
    }
  }
  if (!sawErr) r.fail('the update-app-env response has no err (field 1)');
  return out;
}

/**
 * Reads the answer of an update-app-env reply frame (`reply` from readMetaReply).
 *
 * @throws ProtocolError when the frame has no body or it is malformed.
 */
export function readUpdateAppEnv(frame: Buffer, reply: MetaReply): UpdateAppEnvResponse {
  if (reply.resultOffset === undefined) {
    throw new ProtocolError(`update-app-env reply: there is no body (header error ${reply.headerError}).`);
  }
  const r = new ThriftReader(frame, reply.resultOffset, frame.length, 'update-app-env reply');
  if (!enterResult(r)) r.fail('the reply has no result (field 0)');
  return readUpdateAppEnvResponse(r);
}

/** The configuration_update_app_env_response struct bytes (field 1 through STOP). */
export function encodeUpdateAppEnvResponse(v: UpdateAppEnvResponse): Buffer {
  const w = new ThriftWriter(32 + v.err.length + v.hintMessage.length);
  w.field(T_STRUCT, 1).string(v.err);
  w.field(T_STRING, 2).string(v.hintMessage);
  w.stop();
  return w.toBuffer();
}
