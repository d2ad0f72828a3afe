/**
 * A simulated Pegasus cluster: N MetaServers on real TCP ports, one of them the
 * leader, answering query-config, list-apps and update-app-env the way
 * PROTOCOL.md §6 and §8 say a real MetaServer does. Faults (kill, restart, slow,
 * silent, garbage, a reply cut in half, a leader still starting) are injected per meta.
 *
 * With `replicas: true` it also runs REPLICAS replica servers on real ports,
 * names them in its partition configurations, and syncs each table's envs to
 * them every `configSyncIntervalMs` (sim/replicaServer.ts).
 */
import net from 'node:net';
import { denyClientOf, updateAppEnvs, type AppEnvAnswer, type DenyClient } from './appEnvs.js';
import { REPLICAS } from './identify.js';
import {
  RPC_LIST,
  RPC_QUERY,
  handlerNotFound,
  listAppsReply,
  primaryOf,
  queryConfigError,
  queryConfigForward,
  queryConfigOk,
  stamp,
  type MetaAddress,
  type ReplicaEndpoints,
  type ReplyTemplate,
  type SimTable,
} from './replies.js';
import { ReplicaOpLog, type SimReplicaCounts, type SimReplicaOp } from './replicaOps.js';
import { SimReplicaServer } from './replicaServer.js';
import {
  APP_ENV_OP_DEL,
  APP_ENV_OP_SET,
  RPC_UPDATE_APP_ENV,
  readUpdateAppEnvArgs,
  updateAppEnvReply,
  type UpdateAppEnvArgs,
} from './replicaWire.js';
import { serveFrames } from './serveFrames.js';
import { readListAppsArgs, readQueryConfigArgs, type SimRequest } from './wire.js';

/** Pegasus's default `config_sync_interval_ms`. */
export const CONFIG_SYNC_INTERVAL_MS = 30_000;

export type SimMode = 'normal' | 'slow' | 'silent' | 'garbage' | 'close-mid-reply';

export interface SimBehavior {
  mode: SimMode;
  /** For `slow`: how long each reply is held back. */
  delayMs?: number;
}

export interface SimClusterOptions {
  name: string;
  /** Number of MetaServers, default 3. */
  metas?: number;
  tables?: Record<string, SimTable>;
  /** Index of the leader, default 0; -1 for none. */
  leader?: number;
  /** Write 2.6-style hp_* fields. */
  hostPort?: boolean;
  /** Address to listen on and to name in `metas` and hp_* fields; default 127.0.0.1. */
  host?: string;
  /** Fixed ports, one per meta; default 0 (any free port). */
  ports?: number[];
  /**
   * CPU the leader spends building each query-config answer, in µs (busy, not
   * sleeping): a real meta builds it under a lock, so answers cost it CPU and
   * a flood of identical queries is not free. Default 0.
   */
  answerCostUs?: number;
  /**
   * Run REPLICAS replica servers on real ports of `host` and name them in
   * query-config answers (instead of the fake 10.x addresses of sim/identify.ts).
   */
  replicas?: boolean;
  /** How often each replica server applies the meta's table envs; default CONFIG_SYNC_INTERVAL_MS. */
  configSyncIntervalMs?: number;
}

/** What the last request a meta received asked for. */
export interface SimRequestInfo {
  name: string;
  version: 0 | 1;
  seqid: number;
  clientTimeoutMs: number;
}

export interface SimCluster {
  readonly name: string;
  /** `host:port` of each meta, in index order. */
  readonly metas: string[];
  leader(): number;
  setLeader(i: number): void;
  kill(i: number): Promise<void>;
  restart(i: number): Promise<void>;
  setBehavior(i: number, behavior: SimBehavior): void;
  /** Sets the leader's CPU cost per query-config answer (µs, busy). */
  setAnswerCost(us: number): void;
  /** The leader answers ERR_SERVICE_NOT_ACTIVE for this long from now. */
  serviceNotActiveFor(ms: number): void;
  setTables(tables: Record<string, SimTable>): void;
  requestCount(i: number): number;
  /** Connections meta `i` has accepted since the start. */
  connectionCount(i: number): number;
  /** Connections to meta `i` open right now. */
  openConnectionCount(i: number): number;
  lastRequest(i: number): SimRequestInfo | undefined;
  /** `host:port` of each replica server (empty without `replicas: true`). */
  readonly replicas: string[];
  /** Stops every replica server: open connections are cut, new ones refused. */
  killReplicas(): Promise<void>;
  /** Starts the stopped replica servers again on their ports (data and envs kept). */
  restartReplicas(): Promise<void>;
  /** Config syncs each replica server has applied, the one at start included. */
  replicaSyncCounts(): number[];
  /** Replica op counts per table since the start. */
  replicaTotals(): Record<string, SimReplicaCounts>;
  /** Counts of the logged replica ops (bounded log) for `table` at or after `since` (Date.now() time). */
  replicaOps(filter?: { table?: string; since?: number }): SimReplicaCounts;
  /** The logged replica ops themselves, oldest first. */
  replicaOpLog(filter?: { table?: string; since?: number }): SimReplicaOp[];
  /** A table's envs as the meta holds them; undefined for an unknown table. */
  envs(table: string): Record<string, string> | undefined;
  /** RPC_CM_UPDATE_APP_ENV on the meta state, answered as the leader would answer it. */
  updateEnvs(request: UpdateAppEnvArgs): AppEnvAnswer;
  /** Sets envs of `table` (op SET); throws SimEnvError when the meta would refuse. */
  setEnvs(table: string, envs: Record<string, string>): void;
  /** Deletes envs of `table` (op DEL); throws SimEnvError when the meta would refuse. */
  delEnvs(table: string, keys: string[]): void;
  close(): Promise<void>;
}

/** A meta refused an env update a test asked for. */
export class SimEnvError extends Error {
  override name = 'SimEnvError';
}

interface SimMeta {
  index: number;
  port: number;
  server: net.Server | undefined;
  sockets: Set<net.Socket>;
  behavior: SimBehavior;
  requests: number;
  accepted: number;
  last: SimRequestInfo | undefined;
}

function ipv4(host: string): number {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(host);
  if (!m) return 0;
  return ((Number(m[1]) << 24) | (Number(m[2]) << 16) | (Number(m[3]) << 8) | Number(m[4])) >>> 0;
}

/** Bytes that are not a reply frame: a plausible length, then a string length no reader accepts. */
const GARBAGE = Buffer.from('0000001800ffffffdeadbeefcafebabe0123456789abcdef', 'hex');

export async function startSimCluster(options: SimClusterOptions): Promise<SimCluster> {
  const name = options.name;
  const count = options.metas ?? 3;
  const host = options.host ?? '127.0.0.1';
  const hostPort = options.hostPort ?? false;
  let tables: Record<string, SimTable> = { ...(options.tables ?? {}) };
  let leader = options.leader ?? 0;
  let notActiveUntil = 0;
  let answerCostNs = BigInt(Math.round((options.answerCostUs ?? 0) * 1000));
  let closed = false;
  const metas: SimMeta[] = [];
  // Reply templates by (table, indices): hot queries are one copy + one seqid write.
  const okCache = new Map<string, ReplyTemplate>();
  const forwardCache = new Map<number, ReplyTemplate>();
  const errorCache = new Map<string, ReplyTemplate>();
  let listCache: ReplyTemplate | undefined;
  const envs = new Map<string, Map<string, string>>();
  for (const t of Object.keys(tables)) envs.set(t, new Map());
  const syncIntervalMs = options.configSyncIntervalMs ?? CONFIG_SYNC_INTERVAL_MS;
  if (!(syncIntervalMs > 0)) throw new RangeError(`configSyncIntervalMs must be > 0, got ${syncIntervalMs}`);
  const opLog = new ReplicaOpLog();
  const data = new Map<number, Map<string, Buffer>>();
  const decrees = new Map<string, bigint>();
  const replicaServers: SimReplicaServer[] = [];
  let syncTimer: ReturnType<typeof setInterval> | undefined;
  const replicaEndpoints: ReplicaEndpoints = (i) => {
    const r = replicaServers[i] as SimReplicaServer;
    return { ip: ipv4(host), port: r.port, host };
  };

  function tableByAppId(appId: number): { name: string; partitionCount: number } | undefined {
    for (const [n, t] of Object.entries(tables)) if (t.appId === appId) return { name: n, partitionCount: t.partitionCount };
    return undefined;
  }

  /** What a replica server learns at a config sync: the deny env of every table, by app id. */
  function denySnapshot(): Map<number, DenyClient> {
    const out = new Map<number, DenyClient>();
    for (const [n, t] of Object.entries(tables)) {
      const d = denyClientOf(envs.get(n));
      if (d) out.set(t.appId, d);
    }
    return out;
  }

  function updateEnvs(request: UpdateAppEnvArgs): AppEnvAnswer {
    const table = Object.hasOwn(tables, request.appName) ? envs.get(request.appName) : undefined;
    const { err, hint, changed } = updateAppEnvs(table, request);
    if (changed) listCache = undefined;
    return { err, hint };
  }

  function errorTemplate(err: string): ReplyTemplate {
    let t = errorCache.get(err);
    if (!t) errorCache.set(err, (t = queryConfigError(err)));
    return t;
  }

  function forwardTemplate(): ReplyTemplate {
    let t = forwardCache.get(leader);
    if (!t) {
      const l = leader >= 0 && leader < metas.length ? (metas[leader] as SimMeta) : undefined;
      const addr: MetaAddress | undefined = l && { ip: ipv4(host), port: l.port, host };
      forwardCache.set(leader, (t = queryConfigForward(addr, hostPort)));
    }
    return t;
  }

  function answerQuery(meta: SimMeta, req: SimRequest): ReplyTemplate {
    if (meta.index !== leader) return forwardTemplate();
    if (Date.now() < notActiveUntil) return errorTemplate('ERR_SERVICE_NOT_ACTIVE');
    if (answerCostNs > 0n) {
      const until = process.hrtime.bigint() + answerCostNs;
      while (process.hrtime.bigint() < until);
    }
    const { table, indices } = readQueryConfigArgs(req);
    const key = `${table}\0${indices.join(',')}`;
    let t = okCache.get(key);
    if (!t) {
      const app = Object.hasOwn(tables, table) ? tables[table] : undefined;
      if (!app) return errorTemplate('ERR_OBJECT_NOT_FOUND');
      okCache.set(key, (t = queryConfigOk(name, app, indices, hostPort, replicaServers.length ? replicaEndpoints : undefined)));
    }
    return t;
  }

  function answerList(meta: SimMeta, req: SimRequest): ReplyTemplate {
    if (meta.index !== leader) return listAppsReply('ERR_FORWARD_TO_OTHERS', {});
    if (Date.now() < notActiveUntil) return listAppsReply('ERR_SERVICE_NOT_ACTIVE', {});
    readListAppsArgs(req);
    return (listCache ??= listAppsReply('ERR_OK', tables, (t) => envs.get(t)));
  }

  function answerUpdateEnv(meta: SimMeta, req: SimRequest): ReplyTemplate {
    if (meta.index !== leader) return updateAppEnvReply('ERR_FORWARD_TO_OTHERS', '');
    if (Date.now() < notActiveUntil) return updateAppEnvReply('ERR_SERVICE_NOT_ACTIVE', '');
    const { err, hint } = updateEnvs(readUpdateAppEnvArgs(req));
    return updateAppEnvReply(err, hint);
  }

  function answer(meta: SimMeta, req: SimRequest): Buffer | undefined {
    if (req.type === 4) return undefined; // ONEWAY: no reply
    let t: ReplyTemplate;
    if (req.name === RPC_QUERY) t = answerQuery(meta, req);
    else if (req.name === RPC_LIST) t = answerList(meta, req);
    else if (req.name === RPC_UPDATE_APP_ENV) t = answerUpdateEnv(meta, req);
    else t = handlerNotFound(req.name);
    return stamp(t, req.seqid);
  }

  function send(meta: SimMeta, socket: net.Socket, reply: Buffer): void {
    const b = meta.behavior;
    switch (b.mode) {
      case 'normal':
        socket.write(reply);
        return;
      case 'slow':
        setTimeout(() => {
          if (!socket.destroyed) socket.write(reply);
        }, b.delayMs ?? 1000).unref();
        return;
      case 'silent':
        return;
      case 'garbage':
        socket.write(GARBAGE);
        return;
      case 'close-mid-reply':
        socket.write(reply.subarray(0, reply.length >> 1), () => socket.destroy());
        return;
    }
  }

  function serve(meta: SimMeta, socket: net.Socket): void {
    meta.sockets.add(socket);
    meta.accepted++;
    socket.on('close', () => meta.sockets.delete(socket));
    serveFrames(socket, (req) => {
      meta.requests++;
      meta.last = { name: req.name, version: req.version, seqid: req.seqid, clientTimeoutMs: req.clientTimeoutMs };
      const reply = answer(meta, req);
      if (reply) send(meta, socket, reply);
    });
  }

  function listen(meta: SimMeta): Promise<void> {
    return new Promise((resolve, reject) => {
      const server = net.createServer((s) => serve(meta, s));
      server.once('error', reject);
      server.listen({ host, port: meta.port, exclusive: true }, () => {
        server.off('error', reject);
        server.on('error', () => {});
        meta.port = (server.address() as net.AddressInfo).port;
        meta.server = server;
        resolve();
      });
    });
  }

  function shut(meta: SimMeta): Promise<void> {
    const server = meta.server;
    meta.server = undefined;
    for (const s of meta.sockets) s.destroy();
    meta.sockets.clear();
    if (!server) return Promise.resolve();
    return new Promise((resolve) => server.close(() => resolve()));
  }

  function at(i: number): SimMeta {
    const m = metas[i];
    if (!m) throw new RangeError(`cluster ${name} has no meta ${i} (it has ${metas.length})`);
    return m;
  }

  for (let i = 0; i < count; i++) {
    metas.push({
      index: i,
      port: options.ports?.[i] ?? 0,
      server: undefined,
      sockets: new Set(),
      behavior: { mode: 'normal' },
      requests: 0,
      accepted: 0,
      last: undefined,
    });
  }
  if (options.replicas) {
    const cluster = {
      table: tableByAppId,
      primaryOf,
      data(appId: number) {
        let d = data.get(appId);
        if (!d) data.set(appId, (d = new Map()));
        return d;
      },
      nextDecree(appId: number, pidx: number) {
        const key = `${appId}.${pidx}`;
        const next = (decrees.get(key) ?? 0n) + 1n;
        decrees.set(key, next);
        return next;
      },
      log: opLog,
    };
    for (let i = 0; i < REPLICAS; i++) replicaServers.push(new SimReplicaServer(i, host, 0, cluster));
  }
  try {
    for (const m of metas) await listen(m);
    for (const r of replicaServers) await r.start();
  } catch (err) {
    await Promise.all([...metas.map(shut), ...replicaServers.map((r) => r.stop())]);
    throw err;
  }
  if (replicaServers.length) {
    // A replica opens its partitions with the envs the meta has now; later changes arrive with config syncs.
    const first = denySnapshot();
    for (const r of replicaServers) r.applyConfig(first);
    // One tick per replica server per interval, in turn: each server syncs every interval, each in its own phase.
    let tick = 0;
    syncTimer = setInterval(() => {
      const r = replicaServers[tick++ % replicaServers.length] as SimReplicaServer;
      r.applyConfig(denySnapshot());
    }, syncIntervalMs / replicaServers.length);
    syncTimer.unref();
  }
  const hostPart = host.includes(':') ? `[${host}]` : host;

  function checked(answer: AppEnvAnswer, what: string): void {
    if (answer.err !== 'ERR_OK') throw new SimEnvError(`cluster ${name}: ${what}: ${answer.err} ${answer.hint}`.trim());
  }

  return {
    name,
    metas: metas.map((m) => `${hostPart}:${m.port}`),
    leader: () => leader,
    setLeader(i) {
      if (i !== -1) at(i);
      leader = i;
    },
    kill: (i) => shut(at(i)),
    async restart(i) {
      const m = at(i);
      if (!m.server && !closed) await listen(m);
    },
    setBehavior(i, behavior) {
      at(i).behavior = { ...behavior };
    },
    setAnswerCost(us) {
      if (!(us >= 0)) throw new RangeError(`answer cost must be a number of µs ≥ 0, got ${us}`);
      answerCostNs = BigInt(Math.round(us * 1000));
    },
    serviceNotActiveFor(ms) {
      notActiveUntil = Date.now() + ms;
    },
    setTables(next) {
      tables = { ...next };
      for (const t of [...envs.keys()]) if (!Object.hasOwn(tables, t)) envs.delete(t);
      for (const t of Object.keys(tables)) if (!envs.has(t)) envs.set(t, new Map());
      okCache.clear();
      listCache = undefined;
    },
    requestCount: (i) => at(i).requests,
    connectionCount: (i) => at(i).accepted,
    openConnectionCount: (i) => at(i).sockets.size,
    lastRequest: (i) => at(i).last,
    replicas: replicaServers.map((r) => r.address),
    killReplicas: async () => {
      await Promise.all(replicaServers.map((r) => r.stop()));
    },
    async restartReplicas() {
      if (closed) return;
      for (const r of replicaServers) {
        if (r.listening) continue;
        await r.start();
        r.applyConfig(denySnapshot());
      }
    },
    replicaSyncCounts: () => replicaServers.map((r) => r.syncs),
    replicaTotals: () => opLog.totalsByTable(),
    replicaOps: (filter) => opLog.count(filter),
    replicaOpLog: (filter) => opLog.entries(filter),
    envs(table) {
      const e = Object.hasOwn(tables, table) ? envs.get(table) : undefined;
      return e && Object.fromEntries([...e].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    },
    updateEnvs,
    setEnvs(table, kv) {
      const keys = Object.keys(kv);
      checked(updateEnvs({ appName: table, op: APP_ENV_OP_SET, keys, values: keys.map((k) => kv[k] as string) }), `set envs of ${table}`);
    },
    delEnvs(table, keys) {
      checked(updateEnvs({ appName: table, op: APP_ENV_OP_DEL, keys }), `delete envs of ${table}`);
    },
    async close() {
      closed = true;
      if (syncTimer) clearInterval(syncTimer);
      syncTimer = undefined;
      await Promise.all([...metas.map(shut), ...replicaServers.map((r) => r.stop())]);
    },
  };
}
