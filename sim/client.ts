/**
 * A minimal Pegasus client (for tests, the demo and the benchmark), written from PROTOCOL.md's byte dumps
 * independently of the proxy's codec: v0 (Go/Node.js/Python) and v1 (Java)
 * request frames, and a reply reader that finds the fields tests assert on.
 */
import net from 'node:net';

export const QUERY_CONFIG = 'RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX';

function str(s: string): Buffer {
  const b = Buffer.alloc(4 + Buffer.byteLength(s));
  b.writeUInt32BE(Buffer.byteLength(s), 0);
  b.write(s, 4);
  return b;
}

function i32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(v, 0);
  return b;
}

/** Strict message begin (CALL) + the args struct. */
export function requestBody(name: string, seqid: number, args: Buffer): Buffer {
  return Buffer.concat([i32(0x80010001 | 0), str(name), i32(seqid), args]);
}

/** query_cfg args as the Node.js client writes them (no partition_indices) or with a list (Java/Go/Python). */
export function queryConfigArgs(table: string, indices?: number[]): Buffer {
  const parts = [Buffer.from([0x0c, 0x00, 0x01]), Buffer.from([0x0b, 0x00, 0x01]), str(table)];
  if (indices !== undefined) {
    parts.push(Buffer.from([0x0f, 0x00, 0x02, 0x08]), i32(indices.length), ...indices.map(i32));
  }
  parts.push(Buffer.from([0x00, 0x00]));
  return Buffer.concat(parts);
}

export function v0Frame(body: Buffer, clientTimeoutMs = 0): Buffer {
  const h = Buffer.alloc(48);
  h.write('THFT', 0);
  h.writeUInt32BE(0, 4);
  h.writeUInt32BE(48, 8);
  h.writeUInt32BE(body.length, 16);
  h.writeInt32BE(clientTimeoutMs, 32);
  return Buffer.concat([h, body]);
}

export function v1Frame(body: Buffer, clientTimeoutMs = 5000): Buffer {
  const meta = Buffer.concat([
    Buffer.from([0x08, 0x00, 0x01]), i32(-1),
    Buffer.from([0x08, 0x00, 0x02]), i32(-1),
    Buffer.from([0x08, 0x00, 0x03]), i32(clientTimeoutMs),
    Buffer.from([0x0a, 0x00, 0x04]), Buffer.alloc(8),
    Buffer.from([0x02, 0x00, 0x05, 0x00]),
    Buffer.from([0x00]),
  ]);
  const h = Buffer.alloc(16);
  h.write('THFT', 0);
  h.writeUInt32BE(1, 4);
  h.writeUInt32BE(meta.length, 8);
  h.writeUInt32BE(body.length, 12);
  return Buffer.concat([h, meta, body]);
}

export function queryFrame(
  table: string,
  seqid: number,
  options: { version?: 0 | 1; indices?: number[]; timeoutMs?: number } = {},
): Buffer {
  const body = requestBody(QUERY_CONFIG, seqid, queryConfigArgs(table, options.indices));
  return options.version === 1 ? v1Frame(body, options.timeoutMs) : v0Frame(body, options.timeoutMs);
}

export interface Reply {
  frame: Buffer;
  headerError: string;
  name: string;
  seqid: number;
  /** query_cfg_response.err, when the reply has a body. */
  err?: string;
  appId?: number;
  partitionCount?: number;
  /** `partitions[0].primary` as ip:port, when present. */
  primary?: string;
}

/** Reads a reply frame: header, message begin, and the leading query_cfg_response fields. */
export function readReply(frame: Buffer): Reply {
  let o = 4;
  const readStr = () => {
    const n = frame.readUInt32BE(o);
    const s = frame.toString('utf8', o + 4, o + 4 + n);
    o += 4 + n;
    return s;
  };
  const headerError = readStr();
  o += 4; // 0x80010002
  const name = readStr();
  const seqid = frame.readInt32BE(o);
  o += 4;
  const reply: Reply = { frame, headerError, name, seqid };
  if (o >= frame.length) return reply;
  // result wrapper: field 0 STRUCT
  o += 3;
  // query_cfg_response fields in order: 1 err (STRUCT, inline string), 2 app_id, 3 partition_count, 4 is_stateful, 5 list
  while (o < frame.length) {
    const type = frame[o]!;
    if (type === 0) break;
    const id = frame.readInt16BE(o + 1);
    o += 3;
    if (id === 1) reply.err = readStr();
    else if (id === 2) (reply.appId = frame.readInt32BE(o)), (o += 4);
    else if (id === 3) (reply.partitionCount = frame.readInt32BE(o)), (o += 4);
    else if (id === 4) o += 1;
    else if (id === 5) {
      const count = frame.readInt32BE(o + 1);
      o += 5;
      if (count > 0) {
        // partition_configuration: 1 gpid (i64 inline), 2 ballot i64, 3 max_replica i32, 4 primary rpc_address (i64 inline)
        for (let f = 0; f < 4; f++) {
          const t = frame[o]!;
          const fid = frame.readInt16BE(o + 1);
          o += 3;
          if (fid === 4 && t === 12) {
            const ip = frame.readUInt32BE(o);
            const port = frame.readUInt16BE(o + 4);
            reply.primary = `${ip >>> 24}.${(ip >>> 16) & 255}.${(ip >>> 8) & 255}.${ip & 255}:${port}`;
            break;
          }
          o += t === 8 ? 4 : 8;
        }
      }
      break;
    } else break;
  }
  return reply;
}

/** A connection that sends frames and collects replies by seqid. */
export class TestClient {
  private buffer: Buffer = Buffer.alloc(0);
  private waiters = new Map<number, (reply: Reply) => void>();
  readonly replies: Reply[] = [];
  closed = false;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk) => this.onData(chunk));
    socket.on('close', () => (this.closed = true));
    socket.on('error', () => undefined);
  }

  /** `localAddress` binds the client's end (127.0.0.2, ...: a distinct client host on one machine). */
  static connect(port: number, host = '127.0.0.1', localAddress?: string): Promise<TestClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host, ...(localAddress !== undefined && { localAddress }) }, () => resolve(new TestClient(socket)));
      socket.once('error', reject);
    });
  }

  private onData(chunk: Buffer) {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    while (this.buffer.length >= 4) {
      const total = this.buffer.readUInt32BE(0);
      if (this.buffer.length < total) break;
      const frame = Buffer.from(this.buffer.subarray(0, total));
      this.buffer = this.buffer.subarray(total);
      const reply = readReply(frame);
      this.replies.push(reply);
      const waiter = this.waiters.get(reply.seqid);
      if (waiter) {
        this.waiters.delete(reply.seqid);
        waiter(reply);
      }
    }
  }

  send(frame: Buffer): void {
    this.socket.write(frame);
  }

  /** Sends a frame and waits for the reply with `seqid`. */
  request(frame: Buffer, seqid: number, timeoutMs = 10_000): Promise<Reply> {
    const done = this.reply(seqid, timeoutMs);
    this.send(frame);
    return done;
  }

  reply(seqid: number, timeoutMs = 10_000): Promise<Reply> {
    const seen = this.replies.find((r) => r.seqid === seqid);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(seqid);
        reject(new Error(`no reply for seqid ${seqid} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.set(seqid, (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
    });
  }

  query(table: string, seqid: number, options: { version?: 0 | 1; indices?: number[]; timeoutMs?: number } = {}) {
    return this.request(queryFrame(table, seqid, options), seqid);
  }

  /** Resolves when the server closes the connection. */
  waitClosed(timeoutMs = 5000): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('connection still open')), timeoutMs);
      this.socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  close(): void {
    this.socket.destroy();
  }
}
