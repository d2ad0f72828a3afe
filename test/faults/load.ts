/**
 * A steady query-config load against a proxy, with every request accounted
 * for: when it was sent, how many replies it got (exactly one is right), the
 * reply's code and latency. Requests alternate v0 (Go/Node.js/Python framing)
 * and v1 (Java framing), carry their own client timeout, and are spread
 * round-robin over several connections at a fixed rate.
 *
 *   const load = startLoad({ port, tables: [{ name: 'temp', appId: 2, partitionCount: 8 }] });
 *   await load.ready;
 *   ... inject a fault ...
 *   const summary = await load.stop();
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { queryFrame, readReply } from '../../sim/client.js';

export interface LoadTable {
  name: string;
  /** The app id an ERR_OK answer must carry (it proves the reply belongs to this table). */
  appId: number;
  partitionCount: number;
}

export interface LoadOptions {
  port: number;
  host?: string;
  /** Client connections, default 4. */
  connections?: number;
  /** Requests per second over all connections, default 300. */
  ratePerSecond?: number;
  /** The client timeout written into every frame, default 1500 ms. */
  timeoutMs?: number;
  /** Latency allowed beyond `timeoutMs` before a reply counts as late, default 1000 ms. */
  marginMs?: number;
  /** The table of the n-th request; default round-robin over `tables`. */
  pick?: (n: number) => LoadTable;
  tables?: LoadTable[];
  /**
   * Herds: every `everyMs`, `size` identical requests (the table `pick` gives
   * for the herd's number, one partition) sent at once over every connection,
   * on top of the steady rate; the proxy should ask the meta once for them.
   */
  herd?: { everyMs: number; size: number };
}

/** One request, as the load driver saw it. */
export interface RequestRecord {
  conn: number;
  seqid: number;
  table: LoadTable;
  version: 0 | 1;
  sentAt: number;
  replies: number;
  /** Body `err` of the first reply, or `header:<error>` when the header was not ERR_OK. */
  code?: string;
  latencyMs?: number;
  /** The first reply was ERR_OK but carried another table's app id. */
  wrongTable?: boolean;
}

export interface LoadSummary {
  sent: number;
  answered: number;
  /** Requests that never got a reply. */
  lost: number;
  /** Replies beyond the first for one request. */
  duplicates: number;
  /** Replies whose seqid matches no request sent on that connection. */
  unknownSeqids: number;
  /** ERR_OK replies carrying another table's answer. */
  wrongTable: number;
  /** Replies later than timeout + margin. */
  late: number;
  maxLatencyMs: number;
  p99LatencyMs: number;
  /** Count of each code over the answered requests. */
  codes: Record<string, number>;
  /** Connections the proxy closed under the load. */
  connectionsClosed: number;
}

export interface Load {
  /** Resolves once every connection is open (sending starts then). */
  readonly ready: Promise<void>;
  readonly records: RequestRecord[];
  /**
   * The requests sent in [fromMs, toMs) (performance.now() times), as a summary;
   * call it once their deadline has passed. Duplicates are those of these requests;
   * unknown seqids and closed connections count since the start.
   */
  window(fromMs: number, toMs: number): LoadSummary;
  /** Drops the records of requests sent before `beforeMs`, so a long run stays small. */
  forget(beforeMs: number): void;
  /** Stops sending, waits for the replies still due (at most timeout + margin), closes, summarises. */
  stop(): Promise<LoadSummary>;
}

interface Conn {
  index: number;
  socket: net.Socket | undefined;
  buffer: Buffer;
  nextSeqid: number;
  /** Requests sent on this socket, by seqid, not yet answered. */
  pending: Map<number, RequestRecord>;
  /** Every request sent on this socket, by seqid (duplicates are looked up here). */
  sent: Map<number, RequestRecord>;
}

const TICK_MS = 10;

export function startLoad(options: LoadOptions): Load {
  const host = options.host ?? '127.0.0.1';
  const connectionCount = options.connections ?? 4;
  const rate = options.ratePerSecond ?? 300;
  const timeoutMs = options.timeoutMs ?? 1500;
  const marginMs = options.marginMs ?? 1000;
  const tables = options.tables ?? [];
  const pick = options.pick ?? ((n: number) => tables[n % tables.length]!);
  if (options.pick === undefined && tables.length === 0) throw new Error('startLoad needs tables or pick');

  const records: RequestRecord[] = [];
  const conns: Conn[] = [];
  let stopped = false;
  let closing = false;
  let duplicates = 0;
  let unknownSeqids = 0;
  let connectionsClosed = 0;
  let startedAt = 0;
  let lastSentAt = 0;
  let ticker: NodeJS.Timeout | undefined;

  const onData = (conn: Conn, chunk: Buffer): void => {
    conn.buffer = conn.buffer.length === 0 ? chunk : Buffer.concat([conn.buffer, chunk]);
    while (conn.buffer.length >= 4) {
      const total = conn.buffer.readUInt32BE(0);
      if (conn.buffer.length < total) break;
      const frame = conn.buffer.subarray(0, total);
      conn.buffer = conn.buffer.subarray(total);
      const at = performance.now();
      const reply = readReply(frame);
      const record = conn.sent.get(reply.seqid);
      if (record === undefined) {
        unknownSeqids++;
        continue;
      }
      record.replies++;
      if (record.replies > 1) {
        duplicates++;
        continue;
      }
      conn.pending.delete(reply.seqid);
      record.latencyMs = at - record.sentAt;
      record.code = reply.headerError === 'ERR_OK' ? (reply.err ?? 'ERR_OK') : `header:${reply.headerError}`;
      if (record.code === 'ERR_OK' && reply.appId !== record.table.appId) record.wrongTable = true;
    }
  };

  const open = (conn: Conn): Promise<void> =>
    new Promise((resolve, reject) => {
      const socket = net.connect({ host, port: options.port });
      socket.setNoDelay(true);
      socket.once('connect', () => {
        conn.socket = socket;
        conn.buffer = Buffer.alloc(0);
        conn.pending = new Map();
        conn.sent = new Map();
        resolve();
      });
      socket.on('data', (chunk: Buffer) => onData(conn, chunk));
      socket.on('error', (error) => {
        if (conn.socket !== socket) reject(error);
      });
      socket.once('close', () => {
        if (conn.socket !== socket) return;
        conn.socket = undefined;
        if (closing) return;
        // The proxy closed a well-behaved connection: what was pending on it is lost
        // (stays unanswered in the records); reconnect so the load goes on.
        connectionsClosed++;
        if (!stopped) void open(conn).catch(() => undefined);
      });
    });

  const send = (n: number, herd?: { table: LoadTable; index: number }): void => {
    const live = conns.filter((c) => c.socket !== undefined);
    if (live.length === 0) return;
    const conn = live[n % live.length]!;
    const table = herd?.table ?? pick(n);
    const version = (n % 2) as 0 | 1;
    const seqid = conn.nextSeqid++;
    // Every third request is Node.js-style (no indices); the others ask for one partition.
    const indices = herd ? [herd.index] : n % 3 === 0 ? undefined : [n % table.partitionCount];
    const frame = queryFrame(table.name, seqid, { version, timeoutMs: timeoutMs, ...(indices && { indices }) });
    const record: RequestRecord = { conn: conn.index, seqid, table, version, sentAt: performance.now(), replies: 0 };
    records.push(record);
    conn.pending.set(seqid, record);
    conn.sent.set(seqid, record);
    lastSentAt = record.sentAt;
    conn.socket!.write(frame);
  };

  for (let i = 0; i < connectionCount; i++) {
    conns.push({ index: i, socket: undefined, buffer: Buffer.alloc(0), nextSeqid: 1, pending: new Map(), sent: new Map() });
  }
  const ready = Promise.all(conns.map(open)).then(() => {
    startedAt = performance.now();
    let n = 0;
    let herds = 0;
    ticker = setInterval(() => {
      if (stopped) return;
      const elapsed = performance.now() - startedAt;
      const due = Math.floor((elapsed * rate) / 1000);
      while (n < due) send(n++);
      if (options.herd !== undefined && elapsed >= (herds + 1) * options.herd.everyMs) {
        const table = pick(herds);
        const herd = { table, index: herds % table.partitionCount };
        herds++;
        for (let i = 0; i < options.herd.size; i++) send(i, herd);
      }
    }, TICK_MS);
  });

  const stop = async (): Promise<LoadSummary> => {
    await ready;
    stopped = true;
    clearInterval(ticker);
    const waitUntil = lastSentAt + timeoutMs + marginMs + 500;
    while (performance.now() < waitUntil && conns.some((c) => c.pending.size > 0)) {
      await new Promise((r) => setTimeout(r, 20));
    }
    // Late duplicates would show up right after the last answer.
    await new Promise((r) => setTimeout(r, 100));
    closing = true;
    for (const c of conns) c.socket?.destroy();
    return summarize(records, { duplicates, unknownSeqids, connectionsClosed, limitMs: timeoutMs + marginMs });
  };

  const window = (fromMs: number, toMs: number): LoadSummary => {
    const inWindow = records.filter((r) => r.sentAt >= fromMs && r.sentAt < toMs);
    const windowDuplicates = inWindow.reduce((sum, r) => sum + Math.max(0, r.replies - 1), 0);
    return summarize(inWindow, { duplicates: windowDuplicates, unknownSeqids, connectionsClosed, limitMs: timeoutMs + marginMs });
  };

  const forget = (beforeMs: number): void => {
    let kept = 0;
    for (const r of records) if (r.sentAt >= beforeMs) records[kept++] = r;
    records.length = kept;
    for (const conn of conns) {
      for (const [seqid, r] of conn.sent) {
        if (r.sentAt < beforeMs) {
          conn.sent.delete(seqid);
          conn.pending.delete(seqid);
        }
      }
    }
  };

  return { ready, records, stop, window, forget };
}

function summarize(
  records: RequestRecord[],
  extra: { duplicates: number; unknownSeqids: number; connectionsClosed: number; limitMs: number },
): LoadSummary {
  const codes: Record<string, number> = {};
  const latencies: number[] = [];
  let answered = 0;
  let wrongTable = 0;
  let late = 0;
  for (const r of records) {
    if (r.replies === 0) continue;
    answered++;
    codes[r.code!] = (codes[r.code!] ?? 0) + 1;
    latencies.push(r.latencyMs!);
    if (r.wrongTable) wrongTable++;
    if (r.latencyMs! > extra.limitMs) late++;
  }
  latencies.sort((x, y) => x - y);
  return {
    sent: records.length,
    answered,
    lost: records.length - answered,
    duplicates: extra.duplicates,
    unknownSeqids: extra.unknownSeqids,
    wrongTable,
    late,
    maxLatencyMs: Math.round(latencies.at(-1) ?? 0),
    p99LatencyMs: Math.round(latencies[Math.floor(latencies.length * 0.99)] ?? 0),
    codes,
    connectionsClosed: extra.connectionsClosed,
  };
}
