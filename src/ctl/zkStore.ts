/**
 * Routes in ZooKeeper: `<root>/<table>` nodes. Reads and single-node writes go
 * through the ZooKeeper driver; a write of several nodes is one multi-op
 * transaction, so it lands whole or not at all.
 */
import type { Config } from '../config/types.js';
import { ZooKeeperError } from '../errors.js';
import { createZooKeeperDriver, ZooKeeperOperationError, type ZooKeeperDriver } from '../io/zookeeper.js';
import { createZkTransaction, type ZkTransaction, type ZkTxOp } from '../io/zkTransaction.js';
import { parseRoute } from '../streams/parseRoute.js';
import { ConflictError, CtlFailure, type ConflictKind } from './errors.js';
import { encodeRoute, type RouteChange, type RouteStore, type StoredRoute } from './routeStore.js';

type ZkSection = NonNullable<Config['zookeeper']>;

/** Reads at once: enough to list thousands of routes quickly without flooding the server. */
const READ_CONCURRENCY = 32;
/** `--force` re-reads and retries when a node appears or vanishes in between; this many times. */
const FORCE_ATTEMPTS = 3;

const conflictOf = (rcName: string): ConflictKind | undefined =>
  rcName.startsWith('ZBADVERSION') ? 'changed' : rcName.startsWith('ZNONODE') ? 'deleted' : rcName.startsWith('ZNODEEXISTS') ? 'created' : undefined;

export interface ZkStoreDeps {
  driver?: ZooKeeperDriver;
  transaction?: ZkTransaction;
}

export function openZkStore(zk: ZkSection, configFile: string, deps: ZkStoreDeps = {}): RouteStore {
  const auth = zk.auth ? { scheme: zk.auth.scheme, credential: zk.auth.credential } : undefined;
  const driver = deps.driver ?? createZooKeeperDriver({ address: zk.address, timeoutMs: zk.timeoutMs, ...(auth && { auth }), nativeLogLevel: 0 });
  const transaction = deps.transaction ?? createZkTransaction({ address: zk.address, timeoutMs: Math.max(zk.timeoutMs, 3000), ...(auth && { auth }) });
  const root = zk.root;
  const where = `ZooKeeper ${zk.address.join(',')} under ${root}`;
  const pathOf = (table: string): string => `${root}/${table}`;

  /** A driver failure that is not a conflict: say what to check. */
  const unreachable = (err: unknown): CtlFailure => {
    const reason = err instanceof Error ? err.message : String(err);
    if (err instanceof ZooKeeperOperationError) {
      const hint = err.rcName === 'ZNOAUTH' ? ` Check zookeeper.auth in ${configFile}: these credentials may not change ${root}; nothing was written.` : '';
      return new CtlFailure(`${reason}${hint}`, { cause: err });
    }
    return new CtlFailure(`${reason} Check that ZooKeeper is running and that zookeeper.address in ${configFile} points at it.`, { cause: err });
  };

  const read = async (table: string): Promise<StoredRoute | null> => {
    const node = await driver.get(pathOf(table));
    return node ? { table, state: parseRoute(table, node.data, node.version), version: node.version } : null;
  };

  const ensureRoot = async (): Promise<void> => {
    if (await driver.get(root)) return;
    try {
      await driver.create(root, '', { parents: true });
    } catch (err) {
      if (!(err instanceof ZooKeeperOperationError && err.rcName === 'ZNODEEXISTS')) throw err;
    }
  };

  /** The change as a transaction op; `--force` turns into "whatever is there now". */
  const toOp = async (change: RouteChange): Promise<ZkTxOp> => {
    const path = pathOf(change.table);
    let expect = change.expect;
    if (expect === 'any') {
      const now = await driver.get(path);
      expect = now ? { version: -1 } : 'absent';
    }
    if (change.kind === 'delete') {
      if (expect === 'absent') throw new CtlFailure(`There is no route for table ${JSON.stringify(change.table)} in ${where}: nothing to delete.`);
      return { kind: 'delete', path, version: expect.version };
    }
    const data = encodeRoute(change.route);
    return expect === 'absent' ? { kind: 'create', path, data } : { kind: 'set', path, data, version: expect.version };
  };

  const applyOne = async (op: ZkTxOp): Promise<void> => {
    if (op.kind === 'create') await driver.create(op.path, op.data);
    else if (op.kind === 'set') await driver.set(op.path, op.data, op.version);
    else if (op.kind === 'delete') await driver.remove(op.path, op.version);
  };

  const commitOnce = async (changes: readonly RouteChange[]): Promise<void> => {
    if (changes.some((c) => c.kind === 'put')) await ensureRoot();
    const ops: ZkTxOp[] = [];
    for (const change of changes) ops.push(await toOp(change));
    if (ops.length === 1) {
      try {
        await applyOne(ops[0] as ZkTxOp);
      } catch (err) {
        const kind = err instanceof ZooKeeperOperationError ? conflictOf(err.rcName) : undefined;
        if (kind) throw new ConflictError((changes[0] as RouteChange).table, kind, where);
        throw err;
      }
      return;
    }
    const outcome = await transaction(ops);
    if (outcome.committed) return;
    const failed = changes[outcome.failed] as RouteChange;
    const rcName = outcome.results[outcome.failed]?.rcName ?? 'ZUNKNOWN';
    const kind = conflictOf(rcName);
    if (kind) throw new ConflictError(failed.table, kind, where);
    const hint = rcName.startsWith('ZNOAUTH') ? ` Check zookeeper.auth in ${configFile}: these credentials may not change ${root}.` : '';
    throw new CtlFailure(`ZooKeeper refused the write of table ${JSON.stringify(failed.table)}: ${rcName}; nothing was written.${hint}`);
  };

  return {
    where,
    async list() {
      try {
        const names = (await driver.children(root)) ?? [];
        names.sort();
        const out: StoredRoute[] = [];
        for (let i = 0; i < names.length; i += READ_CONCURRENCY) {
          const batch = await Promise.all(names.slice(i, i + READ_CONCURRENCY).map(read));
          // A node deleted between the listing and its read is simply gone.
          for (const route of batch) if (route) out.push(route);
        }
        return out;
      } catch (err) {
        throw unreachable(err);
      }
    },
    async get(table) {
      try {
        return await read(table);
      } catch (err) {
        throw unreachable(err);
      }
    },
    async commit(changes) {
      if (changes.length === 0) return;
      const forced = changes.every((c) => c.expect === 'any');
      for (let attempt = 1; ; attempt++) {
        try {
          await commitOnce(changes);
          return;
        } catch (err) {
          if (err instanceof ConflictError && forced && attempt < FORCE_ATTEMPTS) continue;
          if (err instanceof CtlFailure) throw err;
          if (err instanceof ZooKeeperError) throw unreachable(err);
          throw err;
        }
      }
    },
    close() {
      driver.close();
    },
  };
}
