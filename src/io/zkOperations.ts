/**
 * The plain ZooKeeper operations the tooling and registration use (get,
 * children, create, exists, set, remove), as Promises over the session.
 */
import { ZNODEEXISTS, ZNONODE, ZOK, ZOO_EPHEMERAL, ZOO_PERSISTENT, ZooKeeperOperationError, assertPath, rcName, zkCodeName, type RawZk } from './zkNative.js';
import type { ZkSession } from './zkSession.js';

export interface ZkNodeData {
  data: Buffer;
  version: number;
}

export interface ZkNodeStat {
  version: number;
  /** An ephemeral node created by the current session (not an earlier one, not another client's). */
  ownedBySession: boolean;
}

export interface ZkOperations {
  /** Read a node once; null when it does not exist. */
  get(path: string): Promise<ZkNodeData | null>;
  /** Child names of a node; null when it does not exist. */
  children(path: string): Promise<string[] | null>;
  /**
   * Create a node (and, with `parents`, its missing ancestors, empty and persistent). Rejects with ZNODEEXISTS if
   * it exists. With `ephemeral`, the node lives as long as this session: ZooKeeper deletes it when the session ends.
   */
  create(path: string, data: Buffer | string, options?: { parents?: boolean; ephemeral?: boolean }): Promise<void>;
  /** A node's version, and whether it is an ephemeral node of this very session; null when it does not exist. */
  exists(path: string): Promise<ZkNodeStat | null>;
  /** Overwrite a node's data; with `version`, only if the node is still at that version. Resolves the new version. */
  set(path: string, data: Buffer | string, version?: number): Promise<number>;
  /** Delete a node; with `version`, only if it is still at that version. */
  remove(path: string, version?: number): Promise<void>;
}

export function createZkOperations(session: ZkSession): ZkOperations {
  /** Run one native call once a session is up; reject with the code unless it is ZOK or accepted. */
  const call = async <T>(
    what: string,
    start: (zk: RawZk, done: (rc: number, value: T) => void) => number,
    accept: readonly number[] = [],
  ): Promise<{ rc: number; value: T }> => {
    const live = await session.whenLive(what);
    return new Promise((resolve, reject) => {
      const failed = (rc: number): ZooKeeperOperationError => new ZooKeeperOperationError(rc, rcName(rc), `Cannot ${what}: ZooKeeper answered ${zkCodeName(rc)}.`);
      const rc = start(live.zk, (code, value) =>
        session.guard(what, () => {
          if (code === ZOK || accept.includes(code)) resolve({ rc: code, value });
          else reject(failed(code));
        }),
      );
      if (rc !== ZOK) reject(failed(rc));
    });
  };

  const get = async (path: string): Promise<ZkNodeData | null> => {
    assertPath(path);
    const r = await call<ZkNodeData | null>(
      `read ${path}`,
      (zk, done) => zk.a_get(path, false, (rc, _e, stat, data) => done(rc, rc === ZOK ? { data: data ?? Buffer.alloc(0), version: stat?.version ?? 0 } : null)),
      [ZNONODE],
    );
    return r.value;
  };

  const children = async (path: string): Promise<string[] | null> => {
    assertPath(path);
    const r = await call<string[] | null>(`list ${path}`, (zk, done) => zk.a_get_children(path, false, (rc, _e, names) => done(rc, rc === ZOK ? (names ?? []) : null)), [ZNONODE]);
    return r.value;
  };

  const create = async (path: string, data: Buffer | string, opts: { parents?: boolean; ephemeral?: boolean } = {}): Promise<void> => {
    assertPath(path);
    if (opts.parents) {
      const parts = path.split('/').filter(Boolean);
      for (let i = 1; i < parts.length; i++) {
        const parent = `/${parts.slice(0, i).join('/')}`;
        await call(`create ${parent}`, (zk, done) => zk.a_create(parent, '', ZOO_PERSISTENT, (rc) => done(rc, undefined)), [ZNODEEXISTS]);
      }
    }
    const flags = opts.ephemeral ? ZOO_EPHEMERAL : ZOO_PERSISTENT;
    await call(`create ${path}`, (zk, done) => zk.a_create(path, data, flags, (rc) => done(rc, undefined)));
  };

  const exists = async (path: string): Promise<ZkNodeStat | null> => {
    assertPath(path);
    const r = await call<ZkNodeStat | null>(
      `read ${path}`,
      (zk, done) =>
        zk.a_exists(path, false, (rc, _e, stat) => done(rc, rc === ZOK ? { version: stat?.version ?? 0, ownedBySession: stat?.createdInThisSession === true } : null)),
      [ZNONODE],
    );
    return r.value;
  };

  const set = async (path: string, data: Buffer | string, version = -1): Promise<number> => {
    assertPath(path);
    const r = await call<number>(`write ${path}`, (zk, done) => zk.a_set(path, data, version, (rc, _e, stat) => done(rc, stat?.version ?? -1)));
    return r.value;
  };

  const remove = async (path: string, version = -1): Promise<void> => {
    assertPath(path);
    await call(`delete ${path}`, (zk, done) => zk.a_delete_(path, version, (rc) => done(rc, undefined)));
  };

  return { get, children, create, exists, set, remove };
}
