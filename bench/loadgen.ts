/**
 * The benchmark's load generator, run as its own process so it never shares
 * an event loop with what it measures:
 *
 *   node dist/bench/loadgen.js '<LoadOptions as JSON>'
 *
 * Opens `connections` sockets and keeps `depth` query-config requests in
 * flight on each (closed loop), or sends at a fixed total `rate` (open loop),
 * for `durationMs` after `warmupMs`. Every reply's seqid is checked against
 * the requests pending on its connection; latency goes into an HDR histogram.
 * Prints one JSON line (`LoadResult`) when done. While running it reads
 * JSON-line commands on stdin: `{"cmd":"mark"}` answers `{"mark": SwitchMark}`
 * (used to time route switches), `{"cmd":"stop"}` ends the run early.
 * `{"window":"start"}` and `{"window":"end"}` lines mark the measured window,
 * so the benchmark can read the CPU time of the process under test across it.
 *
 * Requests are written straight into one buffer per connection and flush:
 * the generator must cost far less per request than the proxy it drives.
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { build, type Histogram } from 'hdr-histogram-js';

const QUERY_NAME = Buffer.from('RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX');
/** The fixed v1 request meta: app -1, partition -1, timeout (patched per request), hash 0, not a backup. */
const V1_META = Buffer.from('080001ffffffff080002ffffffff08000300000000' + '0a00040000000000000000' + '020005000' + '0', 'hex');
const V1_META_TIMEOUT_OFFSET = 17;

export interface LoadOptions {
  host: string;
  port: number;
  connections: number;
  /** Requests kept in flight per connection (closed loop); the cap per connection in rate mode. */
  depth: number;
  durationMs: number;
  /** Replies before this are answered and checked but not counted in throughput or latency. */
  warmupMs: number;
  /** Tables queried: `tables` names, or `tablePrefix` + 0..`tableCount`-1. */
  tables?: string[];
  tablePrefix?: string;
  tableCount?: number;
  /**
   * Request n asks table n mod T for partition index (n div T) mod `indexSpace`,
   * so requests in flight together differ and none is coalesced. 0 = a herd:
   * every request asks the first table for all partitions (identical queries).
   */
  indexSpace: number;
  /** Each request asks a table and partition index chosen at random (uniformly) instead of in turn. */
  random?: boolean;
  /** Every `v1Every`-th request is a v1 (Java) frame, the rest v0; 0 = v0 only. */
  v1Every: number;
  /** Total requests per second (open loop); absent = closed loop. */
  rate?: number;
  /** Cluster names; each reply is attributed to one of them by its replica addresses (route switches). */
  identify?: Array<{ name: string; ip: number }>;
  /** Open the connections, ask one query on each, then hold them idle until stopped. */
  idle?: boolean;
  /** After the run, how long to wait for replies still pending before counting them unanswered. */
  graceMs?: number;
  /** client_timeout written into each request (ms). */
  clientTimeoutMs?: number;
}

export interface LatencySummary {
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

export interface LoadResult {
  /** Requests written, warm-up included. */
  sent: number;
  /** Replies matched to a pending request, warm-up included. */
  answered: number;
  /** Requests still pending when the run and its grace time were over, or lost with a closed connection. */
  unanswered: number;
  /** Replies whose seqid matched no request pending on that connection (a duplicate, a stranger). */
  seqidMismatches: number;
  /** Body `err` (or the header error when it is not ERR_OK) of each reply, warm-up included. */
  codes: Record<string, number>;
  /** Replies counted in the measured window, and per second. */
  measured: number;
  throughput: number;
  /** Microseconds, measured window only. */
  latencyUs: LatencySummary;
  connectErrors: number;
  /** Connections the server closed while the run went on. */
  closedByServer: number;
  /** Rate mode: sends skipped for want of a free slot on every connection. */
  deferred: number;
  /** Replies by cluster when `identify` is set; `?` for replies without partitions. */
  clusters?: Record<string, number>;
  /** Idle mode: connections that got their one answer. */
  idleConnections?: number;
  measuredMs: number;
}

/** What `{"cmd":"mark"}` reports: per cluster, the latest send time (epoch ms) of a request it answered since the last mark, and the failures since then. */
export interface SwitchMark {
  lastSentAnsweredBy: Record<string, number>;
  failures: number;
  answered: number;
}

export interface LoadControl {
  /** Ends the run early (idle mode runs until this). */
  stop(): void;
  mark(): SwitchMark;
  /** Resolves when every connection is open (and, idle mode, answered once). */
  readonly ready: Promise<void>;
  readonly done: Promise<LoadResult>;
}

interface Conn {
  socket: net.Socket;
  /** seqid → send time (performance.now() ms). */
  pending: Map<number, number>;
  nextSeqid: number;
  rest: Buffer | undefined;
  out: Buffer;
  outLength: number;
  open: boolean;
}

const OUT_BYTES = 64 * 1024;
const HEADER_V0 = 48;
const HEADER_V1 = 16;

/** Starts a run; the returned control ends it early and resolves its result. */
export function startLoad(options: LoadOptions, onWindow?: (edge: 'start' | 'end') => void): LoadControl {
  const tableNames =
    options.tables ?? Array.from({ length: options.tableCount ?? 1 }, (_, i) => `${options.tablePrefix ?? 't'}${i}`);
  const tables = tableNames.map((name) => Buffer.from(name));
  const herd = options.indexSpace === 0;
  const clientTimeoutMs = options.clientTimeoutMs ?? 5000;
  const histogram: Histogram = build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
  const identify = options.identify ?? [];
  const conns: Conn[] = [];
  const codes: Record<string, number> = {};
  const clusters: Record<string, number> = {};
  let sent = 0;
  let answered = 0;
  let mismatches = 0;
  let measured = 0;
  let connectErrors = 0;
  let closedByServer = 0;
  let deferred = 0;
  let lost = 0;
  let requestNo = 0;
  let sending = false;
  let stopped = false;
  let measureFrom = Infinity;
  let measureTo = Infinity;
  let idleAnswered = 0;
  let markLast: Record<string, number> = {};
  let markFailures = 0;
  let markAnswered = 0;
  const timeOrigin = performance.timeOrigin;

  let resolveReady!: () => void;
  const ready = new Promise<void>((r) => (resolveReady = r));
  let resolveDone!: (result: LoadResult) => void;
  const done = new Promise<LoadResult>((r) => (resolveDone = r));

  /** Appends request `n` to the connection's output buffer. */
  const enqueue = (conn: Conn): void => {
    const n = requestNo++;
    const table = herd ? tables[0]! : options.random ? tables[Math.floor(Math.random() * tables.length)]! : tables[n % tables.length]!;
    const index = herd ? -1 : options.random ? Math.floor(Math.random() * options.indexSpace) : Math.floor(n / tables.length) % options.indexSpace;
    const v1 = options.v1Every > 0 && n % options.v1Every === options.v1Every - 1;
    const seqid = conn.nextSeqid;
    conn.nextSeqid = conn.nextSeqid >= 0x7fffffff ? 1 : conn.nextSeqid + 1;
    // Body: strict CALL begin, name, seqid, args { 1: req { 1: app_name, [2: indices] } }.
    const argsBytes = 3 + 3 + 4 + table.length + (index >= 0 ? 3 + 1 + 4 + 4 : 0) + 2;
    const bodyBytes = 4 + 4 + QUERY_NAME.length + 4 + argsBytes;
    const headerBytes = v1 ? HEADER_V1 + V1_META.length : HEADER_V0;
    const total = headerBytes + bodyBytes;
    if (conn.outLength + total > conn.out.length) flush(conn);
    if (total > conn.out.length) conn.out = Buffer.allocUnsafe(total * 2);
    const b = conn.out;
    let o = conn.outLength;
    b.write('THFT', o, 'latin1');
    if (v1) {
      b.writeUInt32BE(1, o + 4);
      b.writeUInt32BE(V1_META.length, o + 8);
      b.writeUInt32BE(bodyBytes, o + 12);
      V1_META.copy(b, o + HEADER_V1);
      b.writeInt32BE(clientTimeoutMs, o + HEADER_V1 + V1_META_TIMEOUT_OFFSET);
    } else {
      b.fill(0, o + 4, o + HEADER_V0);
      b.writeUInt32BE(HEADER_V0, o + 8);
      b.writeUInt32BE(bodyBytes, o + 16);
      b.writeInt32BE(clientTimeoutMs, o + 32);
    }
    o += headerBytes;
    b.writeUInt32BE(0x80010001, o);
    b.writeUInt32BE(QUERY_NAME.length, o + 4);
    QUERY_NAME.copy(b, o + 8);
    o += 8 + QUERY_NAME.length;
    b.writeInt32BE(seqid, o);
    o += 4;
    b[o] = 0x0c;
    b.writeUInt16BE(1, o + 1);
    b[o + 3] = 0x0b;
    b.writeUInt16BE(1, o + 4);
    b.writeUInt32BE(table.length, o + 6);
    table.copy(b, o + 10);
    o += 10 + table.length;
    if (index >= 0) {
      b[o] = 0x0f;
      b.writeUInt16BE(2, o + 1);
      b[o + 3] = 0x08;
      b.writeInt32BE(1, o + 4);
      b.writeInt32BE(index, o + 8);
      o += 12;
    }
    b[o] = 0;
    b[o + 1] = 0;
    conn.outLength = o + 2;
    conn.pending.set(seqid, performance.now());
    sent++;
  };

  const flush = (conn: Conn): void => {
    if (conn.outLength === 0) return;
    // A copy: the socket may hold the buffer until it is written, and `out` is reused.
    if (conn.open) conn.socket.write(Buffer.from(conn.out.subarray(0, conn.outLength)));
    conn.outLength = 0;
  };

  const readString = (frame: Buffer, at: number): [string, number] => {
    const length = frame.readUInt32BE(at);
    return [frame.toString('latin1', at + 4, at + 4 + length), at + 4 + length];
  };

  /** Which `identify` cluster the reply's first partition primary belongs to. */
  const clusterOf = (frame: Buffer, at: number): string => {
    // Fields 2 app_id, 3 partition_count, 4 is_stateful, 5 partitions.
    while (at < frame.length) {
      const type = frame[at]!;
      if (type === 0) return '?';
      const id = frame.readInt16BE(at + 1);
      at += 3;
      if (id === 2 || id === 3) at += 4;
      else if (id === 4) at += 1;
      else if (id === 5) {
        if (frame.readInt32BE(at + 1) === 0) return '?';
        at += 5;
        // partition_configuration: 1 gpid (i64), 2 ballot (i64), 3 max_replica_count (i32), 4 primary (i64 ip|port|type).
        at += 3 + 8 + 3 + 8 + 3 + 4 + 3;
        const ip = frame.readUInt32BE(at);
        for (const c of identify) if (c.ip === ip) return c.name;
        return '?';
      } else return '?';
    }
    return '?';
  };

  const onReply = (conn: Conn, frame: Buffer): void => {
    let at = 4;
    let headerError: string;
    [headerError, at] = readString(frame, at);
    at += 4;
    const nameLength = frame.readUInt32BE(at);
    at += 4 + nameLength;
    const seqid = frame.readInt32BE(at);
    at += 4;
    const sentAt = conn.pending.get(seqid);
    if (sentAt === undefined) {
      mismatches++;
      return;
    }
    conn.pending.delete(seqid);
    answered++;
    const now = performance.now();
    let code = headerError;
    if (headerError === 'ERR_OK' && at + 3 < frame.length) {
      // Result wrapper field 0, then query_cfg_response field 1: err (inline string).
      at += 3;
      if (frame[at] === 0x0c && frame.readInt16BE(at + 1) === 1) {
        [code, at] = readString(frame, at + 3);
      }
    }
    codes[code] = (codes[code] ?? 0) + 1;
    if (code === 'ERR_OK') markAnswered++;
    else markFailures++;
    if (identify.length > 0 && code === 'ERR_OK') {
      const cluster = clusterOf(frame, at);
      clusters[cluster] = (clusters[cluster] ?? 0) + 1;
      const epochMs = timeOrigin + sentAt;
      if ((markLast[cluster] ?? 0) < epochMs) markLast[cluster] = epochMs;
    }
    if (options.idle) {
      idleAnswered++;
      if (idleAnswered === conns.length) resolveReady();
      return;
    }
    if (now >= measureFrom && now < measureTo) {
      measured++;
      histogram.recordValue(Math.max(1, Math.round((now - sentAt) * 1000)));
    }
    if (sending && options.rate === undefined) enqueue(conn);
  };

  const onData = (conn: Conn, chunk: Buffer): void => {
    let buf = chunk;
    if (conn.rest !== undefined) {
      buf = Buffer.concat([conn.rest, chunk]);
      conn.rest = undefined;
    }
    let off = 0;
    while (buf.length - off >= 4) {
      const length = buf.readUInt32BE(off);
      if (buf.length - off < length) break;
      onReply(conn, buf.subarray(off, off + length));
      off += length;
    }
    if (off < buf.length) conn.rest = Buffer.from(buf.subarray(off));
    flush(conn);
    if (stopped && pendingTotal() === 0) finish();
  };

  const pendingTotal = (): number => {
    let total = 0;
    for (const c of conns) total += c.pending.size;
    return total;
  };

  let finished = false;
  let graceTimer: NodeJS.Timeout | undefined;
  let runTimer: NodeJS.Timeout | undefined;
  let windowTimer: NodeJS.Timeout | undefined;
  let windowOpen = false;
  let ticker: NodeJS.Timeout | undefined;
  const finish = (): void => {
    if (finished) return;
    finished = true;
    clearTimeout(graceTimer);
    clearTimeout(runTimer);
    clearInterval(ticker);
    const unanswered = pendingTotal() + lost;
    for (const c of conns) {
      c.open = false;
      c.socket.destroy();
    }
    const windowMs = Math.max(0, Math.min(measureTo, performance.now()) - measureFrom);
    const round = (us: number) => Math.round(us * 10) / 10;
    resolveDone({
      sent,
      answered,
      unanswered,
      seqidMismatches: mismatches,
      codes,
      measured,
      throughput: windowMs > 0 ? Math.round((measured * 1000) / windowMs) : 0,
      latencyUs: {
        p50: round(histogram.getValueAtPercentile(50)),
        p90: round(histogram.getValueAtPercentile(90)),
        p99: round(histogram.getValueAtPercentile(99)),
        p999: round(histogram.getValueAtPercentile(99.9)),
        max: round(histogram.maxValue),
        mean: round(histogram.mean),
      },
      connectErrors,
      closedByServer,
      deferred,
      ...(identify.length > 0 && { clusters }),
      ...(options.idle && { idleConnections: idleAnswered }),
      measuredMs: Math.round(windowMs),
    });
  };

  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    sending = false;
    measureTo = Math.min(measureTo, performance.now());
    clearInterval(ticker);
    clearTimeout(runTimer);
    clearTimeout(windowTimer);
    if (windowOpen) {
      windowOpen = false;
      onWindow?.('end');
    }
    if (pendingTotal() === 0) finish();
    else graceTimer = setTimeout(finish, options.graceMs ?? 5000);
  };

  const startSending = (): void => {
    if (stopped) return;
    const startedAt = performance.now();
    measureFrom = startedAt + options.warmupMs;
    measureTo = measureFrom + options.durationMs;
    sending = true;
    if (options.rate === undefined) {
      for (const c of conns) {
        for (let i = 0; i < options.depth; i++) enqueue(c);
        flush(c);
      }
    } else {
      const rate = options.rate;
      let issued = 0;
      let next = 0;
      ticker = setInterval(() => {
        const due = Math.floor(((performance.now() - startedAt) * rate) / 1000) - issued;
        for (let i = 0; i < due; i++) {
          let placed = false;
          for (let tries = 0; tries < conns.length; tries++) {
            const c = conns[next]!;
            next = (next + 1) % conns.length;
            if (c.open && c.pending.size < options.depth) {
              enqueue(c);
              placed = true;
              break;
            }
          }
          if (!placed) deferred++;
          issued++;
        }
        for (const c of conns) flush(c);
      }, 1);
    }
    runTimer = setTimeout(stop, options.warmupMs + options.durationMs);
    windowTimer = setTimeout(() => {
      windowOpen = true;
      onWindow?.('start');
    }, options.warmupMs);
  };

  // Connect in batches: thousands of SYNs at once overflow the listen backlog.
  const connectAll = async (): Promise<void> => {
    const batch = 256;
    for (let i = 0; i < options.connections && !stopped; i += batch) {
      const opening: Array<Promise<void>> = [];
      for (let j = i; j < Math.min(options.connections, i + batch); j++) opening.push(open());
      await Promise.all(opening);
    }
  };

  const open = (): Promise<void> =>
    new Promise((resolve) => {
      const socket = net.connect({ host: options.host, port: options.port });
      socket.setNoDelay(true);
      const conn: Conn = { socket, pending: new Map(), nextSeqid: 1, rest: undefined, out: Buffer.allocUnsafe(OUT_BYTES), outLength: 0, open: false };
      socket.once('connect', () => {
        conn.open = true;
        conns.push(conn);
        resolve();
      });
      socket.on('data', (chunk: Buffer) => onData(conn, chunk));
      socket.on('error', () => {
        if (!conn.open) {
          connectErrors++;
          resolve();
        }
      });
      socket.on('close', () => {
        if (!conn.open) return;
        conn.open = false;
        if (!finished) {
          closedByServer++;
          lost += conn.pending.size;
          conn.pending.clear();
        }
      });
    });

  void connectAll().then(() => {
    if (options.idle) {
      if (conns.length === 0) resolveReady();
      for (const c of conns) {
        enqueue(c);
        flush(c);
      }
      return;
    }
    resolveReady();
    startSending();
  });

  return {
    stop,
    ready,
    done,
    mark: () => {
      const mark: SwitchMark = { lastSentAnsweredBy: markLast, failures: markFailures, answered: markAnswered };
      markLast = {};
      markFailures = 0;
      markAnswered = 0;
      return mark;
    },
  };
}

async function main(): Promise<void> {
  const options = JSON.parse(process.argv[2] ?? '{}') as LoadOptions;
  const write = (value: unknown) => process.stdout.write(`${JSON.stringify(value)}\n`);
  const control = startLoad(options, (edge) => write({ window: edge }));
  void control.ready.then(() => write({ ready: true }));
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    const command = JSON.parse(line) as { cmd: string };
    if (command.cmd === 'mark') write({ mark: control.mark() });
    else if (command.cmd === 'stop') control.stop();
  });
  const result = await control.done;
  write({ result });
  lines.close();
  process.exit(0);
}

if (import.meta.url === `file://${process.argv[1]}`) void main();
