/**
 * The native ZooKeeper client as the driver sees it: the part of its API used
 * here, its constants, and the names of its return codes. Shared by the
 * session, the watches and the operations.
 */
import ZooKeeper from 'zookeeper';
import { ZooKeeperError } from '../errors.js';

/** The part of the native client used here; its bundled typings are loose. */
export interface RawZk {
  init(config: object): unknown;
  close(): unknown;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  readonly state: number;
  readonly client_id: string;
  readonly client_password: string;
  add_auth(scheme: string, credential: string, cb: (rc: number) => void): number;
  aw_get(path: string, watch: WatchCb, cb: (rc: number, err: string, stat: { version: number } | undefined, data: Buffer | null | undefined) => void): number;
  aw_exists(path: string, watch: WatchCb, cb: (rc: number, err: string, stat: unknown) => void): number;
  aw_get_children(path: string, watch: WatchCb, cb: (rc: number, err: string, children: string[] | undefined) => void): number;
  a_get(path: string, watch: boolean, cb: (rc: number, err: string, stat: { version: number } | undefined, data: Buffer | null | undefined) => void): number;
  a_exists(path: string, watch: boolean, cb: (rc: number, err: string, stat: { version: number; createdInThisSession?: boolean } | undefined) => void): number;
  a_get_children(path: string, watch: boolean, cb: (rc: number, err: string, children: string[] | undefined) => void): number;
  a_create(path: string, data: Buffer | string, flags: number, cb: (rc: number, err: string, path: string) => void): number;
  a_set(path: string, data: Buffer | string, version: number, cb: (rc: number, err: string, stat: { version: number } | undefined) => void): number;
  a_delete_(path: string, version: number, cb: (rc: number, err: string) => void): number;
}
export type WatchCb = (type: number, state: number, path: string) => void;

export const RawZkClient = ZooKeeper as unknown as new (config: object) => RawZk;

const constants = (ZooKeeper as unknown as { constants: Record<string, unknown> }).constants;
const num = (name: string, fallback: number): number => {
  const v = constants[name];
  return typeof v === 'number' ? v : fallback;
};
export const ZOK = num('ZOK', 0);
export const ZNONODE = num('ZNONODE', -101);
export const ZNODEEXISTS = num('ZNODEEXISTS', -110);
export const ZOO_SESSION_EVENT = num('ZOO_SESSION_EVENT', -1);
export const ZOO_CHILD_EVENT = num('ZOO_CHILD_EVENT', 4);
export const ZOO_DELETED_EVENT = num('ZOO_DELETED_EVENT', 2);
export const ZOO_AUTH_FAILED_STATE = num('ZOO_AUTH_FAILED_STATE', -113);
export const ZOO_PERSISTENT = num('ZOO_PERSISTENT', 0);
export const ZOO_EPHEMERAL = num('ZOO_EPHEMERAL', 1);

const rcNames = new Map<number, string>();
for (const [name, value] of Object.entries(constants)) {
  if (typeof value === 'number' && /^Z[A-Z]+$/.test(name) && !rcNames.has(value)) rcNames.set(value, name);
}
rcNames.set(ZOK, 'ZOK');

/** The C client's bare name for a return code (`ZNONODE`). */
export function rcName(rc: number): string {
  return rcNames.get(rc) ?? 'ZUNKNOWN';
}

/** `ZNONODE (-101)`: the C client's name for a return code. */
export function zkCodeName(rc: number): string {
  return `${rcName(rc)} (${rc})`;
}

/** A ZooKeeper call returned an error code: `rcName` is the C client's name for it (ZNONODE, ZBADVERSION, ...). */
export class ZooKeeperOperationError extends ZooKeeperError {
  constructor(
    readonly rc: number,
    readonly rcName: string,
    message: string,
  ) {
    super(message);
  }
}

export function assertPath(path: string): void {
  const ok = typeof path === 'string' && path.startsWith('/') && (path === '/' || (!path.endsWith('/') && !path.includes('//'))) && !path.includes('\u0000');
  if (!ok) throw new ZooKeeperError(`${JSON.stringify(path)} is not a ZooKeeper path (absolute, no empty segment).`);
}
