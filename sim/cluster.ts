/**
 * A simulated Pegasus cluster: N MetaServers on real TCP ports, one of them the
 * leader, answering query-config and list-apps the way PROTOCOL.md §6 says a
 * real MetaServer does. Faults (kill, restart, slow, silent, garbage, a reply cut
 * in half, a leader still starting) are injected per meta.
 */
import net from 'node:net';
import {
  RPC_LIST,
  RPC_QUERY,
  handlerNotFound,
  listAppsReply,
  queryConfigError,
  queryConfigForward,
  queryConfigOk,
  stamp,
  type MetaAddress,
  type ReplyTemplate,
  type SimTable,
} from './replies.js';
import { readListAppsArgs, readQueryConfigArgs, readRequest, requestFrameLength, type SimRequest } from './wire.js';

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
  close(): Promise<void>;
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
      okCache.set(key, (t = queryConfigOk(name, app, indices, hostPort)));
    }
    return t;
  }

  function answerList(meta: SimMeta, req: SimRequest): ReplyTemplate {
    if (meta.index !== leader) return listAppsReply('ERR_FORWARD_TO_OTHERS', {});
    if (Date.now() < notActiveUntil) return listAppsReply('ERR_SERVICE_NOT_ACTIVE', {});
    readListAppsArgs(req);
    return (listCache ??= listAppsReply('ERR_OK', tables));
  }

  function answer(meta: SimMeta, req: SimRequest): Buffer | undefined {
    if (req.type === 4) return undefined; // ONEWAY: no reply
    let t: ReplyTemplate;
    if (req.name === RPC_QUERY) t = answerQuery(meta, req);
    else if (req.name === RPC_LIST) t = answerList(meta, req);
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
    socket.setNoDelay(true);
    let rest: Buffer | undefined;
    socket.on('close', () => meta.sockets.delete(socket));
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      const buf = rest ? Buffer.concat([rest, chunk]) : chunk;
      let off = 0;
      socket.cork();
      try {
        for (;;) {
          const len = requestFrameLength(buf, off);
          if (len === undefined || off + len > buf.length) break;
          const req = readRequest(buf.subarray(off, off + len));
          off += len;
          meta.requests++;
          meta.last = { name: req.name, version: req.version, seqid: req.seqid, clientTimeoutMs: req.clientTimeoutMs };
          const reply = answer(meta, req);
          if (reply) send(meta, socket, reply);
          if (socket.destroyed) return;
        }
      } catch {
        // A real meta closes a connection that sends bytes it cannot read.
        socket.destroy();
        return;
      } finally {
        socket.uncork();
      }
      rest = off < buf.length ? buf.subarray(off) : undefined;
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
  try {
    for (const m of metas) await listen(m);
  } catch (err) {
    await Promise.all(metas.map(shut));
    throw err;
  }
  const hostPart = host.includes(':') ? `[${host}]` : host;

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
      okCache.clear();
      listCache = undefined;
    },
    requestCount: (i) => at(i).requests,
    connectionCount: (i) => at(i).accepted,
    openConnectionCount: (i) => at(i).sockets.size,
    lastRequest: (i) => at(i).last,
    async close() {
      closed = true;
      await Promise.all(metas.map(shut));
    },
  };
}
