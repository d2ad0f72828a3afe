/**
 * A table's app envs as the simulated meta keeps them, and the answers of
 * RPC_CM_UPDATE_APP_ENV (PROTOCOL.md §8), in the order a real meta checks:
 * the op, the request's shape, each value, then whether the table exists.
 * Only `replica.deny_client_request` has its value checked; the simulator
 * takes any other key as it is.
 */
import { APP_ENV_OP_CLEAR, APP_ENV_OP_DEL, APP_ENV_OP_SET, type UpdateAppEnvArgs } from './replicaWire.js';

export const DENY_CLIENT_REQUEST = 'replica.deny_client_request';

const DENY_HINT =
  'Invalid deny client args, valid include: timeout*all, timeout*write, timeout*read; ' +
  'reconfig*all, reconfig*write, reconfig*read';

export interface AppEnvAnswer {
  err: string;
  hint: string;
}

/** What replicas refuse while `replica.deny_client_request` is set, and how. */
export interface DenyClient {
  /** true: answer ERR_INVALID_STATE so the client re-queries; false: do not answer at all. */
  reconfig: boolean;
  read: boolean;
  write: boolean;
}

function denyParts(value: string): [string, string] | undefined {
  const parts = value.split('*').map((p) => p.trim());
  if (parts.length !== 2) return undefined;
  const [how, what] = parts as [string, string];
  if (how !== 'timeout' && how !== 'reconfig') return undefined;
  if (what !== 'all' && what !== 'write' && what !== 'read') return undefined;
  return [how, what];
}

/** The hint a meta answers for a value it refuses, or undefined when the value is fine. */
export function invalidAppEnv(key: string, value: string): string | undefined {
  if (key === DENY_CLIENT_REQUEST && !denyParts(value)) return DENY_HINT;
  return undefined;
}

/** How a replica reads the env when it applies a config sync; undefined when nothing is denied. */
export function denyClientOf(envs: ReadonlyMap<string, string> | undefined): DenyClient | undefined {
  const v = envs?.get(DENY_CLIENT_REQUEST);
  const parts = v === undefined ? undefined : denyParts(v);
  if (!parts) return undefined;
  const [how, what] = parts;
  return { reconfig: how === 'reconfig', read: what === 'read' || what === 'all', write: what === 'write' || what === 'all' };
}

function deletedKeys(keys: readonly string[]): string {
  return `deleted keys:${keys.map((k) => `\n    ${k}`).join('')}`;
}

/**
 * Applies one update to `envs` (undefined: no such table) in place.
 * `changed` tells whether anything a list-apps reply shows is different.
 */
export function updateAppEnvs(
  envs: Map<string, string> | undefined,
  a: UpdateAppEnvArgs,
): AppEnvAnswer & { changed: boolean } {
  const answer = (err: string, hint = '', changed = false) => ({ err, hint, changed });
  const noTable = () => answer('ERR_APP_NOT_EXIST', 'app cannot be found');
  switch (a.op) {
    case APP_ENV_OP_SET: {
      const { keys, values } = a;
      if (!keys || !values || keys.length !== values.length || keys.length === 0) {
        return answer('ERR_INVALID_PARAMETERS');
      }
      for (let i = 0; i < keys.length; i++) {
        const hint = invalidAppEnv(keys[i] as string, values[i] as string);
        if (hint !== undefined) return answer('ERR_INVALID_PARAMETERS', hint);
      }
      if (!envs) return noTable();
      for (let i = 0; i < keys.length; i++) envs.set(keys[i] as string, values[i] as string);
      return answer('ERR_OK', '', true);
    }
    case APP_ENV_OP_DEL: {
      if (!a.keys || a.keys.length === 0) return answer('ERR_INVALID_PARAMETERS');
      if (!envs) return noTable();
      const deleted = a.keys.filter((k) => envs.delete(k));
      if (deleted.length === 0) return answer('ERR_OK', 'no key needs to be deleted');
      return answer('ERR_OK', deletedKeys(deleted), true);
    }
    case APP_ENV_OP_CLEAR: {
      if (a.clearPrefix === undefined) return answer('ERR_INVALID_PARAMETERS');
      if (!envs) return noTable();
      const prefix = a.clearPrefix;
      // An empty prefix clears every env; otherwise only keys named `prefix.<something>`.
      const doomed = [...envs.keys()]
        .filter((k) => prefix === '' || (k.length > prefix.length + 1 && k.startsWith(prefix) && k[prefix.length] === '.'))
        .sort();
      if (doomed.length === 0) return answer('ERR_OK', 'no key needs to be deleted');
      for (const k of doomed) envs.delete(k);
      return answer('ERR_OK', deletedKeys(doomed), true);
    }
    default:
      return answer('ERR_INVALID_PARAMETERS', 'recv a invalid update_app_env request with op = APP_ENV_OP_INVALID');
  }
}
