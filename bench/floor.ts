/**
 * The floor a meta proxy written in Node.js can reach: the same job as
 * meta-proxy's cached-route path, hand-written in one file with no RxJS and no
 * metrics. `node dist/bench/floor.js <routes.yaml>` prints `{"port":N}` once
 * listening on 127.0.0.1.
 *
 * Per request: decode the rDSN frame (v0 or v1), read the table name from the
 * args, look the table up (the routes file, read once), send the request to the
 * route's first meta on one multiplexed connection per meta under a seqid of
 * that connection, rewrite the answer's seqid back to the client's, and write
 * it. Writes to a socket are corked for the rest of the turn (one writev for
 * everything one chunk caused), as meta-proxy does. Deadlines: one sweep every
 * 50 ms answers requests past their budget with ERR_TIMEOUT. Not done: route
 * watching, forwards, backup requests, coalescing, metrics, flow control.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { load } from 'js-yaml';
import { encodeMetaRequest } from '../src/protocol/metaRequest.js';
import { encodeQueryConfigError } from '../src/protocol/response.js';

interface Pending {
  client: net.Socket;
  seqid: number;
  deadline: number;
}

interface Upstream {
  socket: net.Socket;
  pending: Map<number, Pending>;
  nextSeqid: number;
  rest: Buffer | undefined;
}

const routes = new Map<string, string>();
for (const [table, route] of Object.entries(load(readFileSync(process.argv[2]!, 'utf8')) as Record<string, { meta_addrs: string }>)) {
  routes.set(table, route.meta_addrs.split(',')[0]!.trim());
}
const upstreams = new Map<string, Upstream>();

/** Holds a socket's writes until the end of this turn of the event loop. */
const corked = new Set<net.Socket>();
const uncorkAll = (): void => {
  for (const socket of corked) socket.uncork();
  corked.clear();
};
function write(socket: net.Socket, frame: Buffer): void {
  if (!corked.has(socket)) {
    if (corked.size === 0) process.nextTick(uncorkAll);
    corked.add(socket);
    socket.cork();
  }
  socket.write(frame);
}

/** Calls `each` with every whole frame (4-byte length first) and returns the bytes of an incomplete one. */
function frames(rest: Buffer | undefined, chunk: Buffer, length: (buf: Buffer, at: number) => number, each: (frame: Buffer) => void): Buffer | undefined {
  const buf = rest === undefined ? chunk : Buffer.concat([rest, chunk]);
  let at = 0;
  while (buf.length - at >= 20) {
    const total = length(buf, at);
    if (buf.length - at < total) break;
    each(buf.subarray(at, at + total));
    at += total;
  }
  return at < buf.length ? Buffer.from(buf.subarray(at)) : undefined;
}

const requestLength = (buf: Buffer, at: number): number =>
  buf.readUInt32BE(at + 4) === 0 ? 48 + buf.readUInt32BE(at + 16) : 16 + buf.readUInt32BE(at + 8) + buf.readUInt32BE(at + 12);

function upstream(meta: string): Upstream {
  let up = upstreams.get(meta);
  if (up !== undefined) return up;
  const colon = meta.lastIndexOf(':');
  const socket = net.connect({ host: meta.slice(0, colon), port: Number(meta.slice(colon + 1)) });
  socket.setNoDelay(true);
  const created: Upstream = { socket, pending: new Map(), nextSeqid: 1, rest: undefined };
  socket.on('data', (chunk: Buffer) => {
    created.rest = frames(created.rest, chunk, (buf, at) => buf.readUInt32BE(at), (reply) => {
      // length, header error string, message begin, name string, seqid.
      const at = 8 + reply.readUInt32BE(4) + 4;
      const seqidAt = at + 4 + reply.readUInt32BE(at);
      const pending = created.pending.get(reply.readInt32BE(seqidAt));
      if (pending === undefined) return;
      created.pending.delete(reply.readInt32BE(seqidAt));
      reply.writeInt32BE(pending.seqid, seqidAt);
      if (!pending.client.destroyed) write(pending.client, reply);
    });
  });
  socket.on('error', () => socket.destroy());
  socket.on('close', () => upstreams.delete(meta));
  upstreams.set(meta, created);
  return created;
}

function onRequest(client: net.Socket, frame: Buffer): void {
  const v0 = frame.readUInt32BE(4) === 0;
  const body = frame.subarray(v0 ? 48 : 16 + frame.readUInt32BE(8));
  const timeout = v0 ? frame.readInt32BE(32) : 0;
  const nameLength = body.readUInt32BE(4);
  const name = body.toString('latin1', 8, 8 + nameLength);
  const seqid = body.readInt32BE(8 + nameLength);
  const args = body.subarray(12 + nameLength);
  // args { 1: query_cfg_request { 1: app_name (string), ... } }
  const table = args.toString('utf8', 10, 10 + args.readUInt32BE(6));
  const meta = routes.get(table);
  if (meta === undefined) return write(client, encodeQueryConfigError('ERR_OBJECT_NOT_FOUND', seqid));
  const up = upstream(meta);
  const upSeqid = up.nextSeqid;
  up.nextSeqid = upSeqid >= 0x7fffffff ? 1 : upSeqid + 1;
  const budget = timeout > 0 ? timeout : 5000;
  up.pending.set(upSeqid, { client, seqid, deadline: Date.now() + budget - Math.min(100, budget / 20) });
  write(up.socket, encodeMetaRequest(name, upSeqid, args, budget));
}

setInterval(() => {
  const now = Date.now();
  for (const up of upstreams.values()) {
    for (const [upSeqid, pending] of up.pending) {
      if (pending.deadline > now) continue;
      up.pending.delete(upSeqid);
      if (!pending.client.destroyed) write(pending.client, encodeQueryConfigError('ERR_TIMEOUT', pending.seqid));
    }
  }
}, 50).unref();

const server = net.createServer({ noDelay: true }, (client) => {
  let rest: Buffer | undefined;
  client.on('data', (chunk: Buffer) => {
    rest = frames(rest, chunk, requestLength, (frame) => onRequest(client, frame));
  });
  client.on('error', () => client.destroy());
});
server.listen({ host: '127.0.0.1', port: 0 }, () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as net.AddressInfo).port })}\n`);
});
process.once('SIGTERM', () => process.exit(0));
