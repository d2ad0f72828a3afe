/**
 * The read loop every simulated server (meta or replica) runs on a client
 * connection: whole request frames out of the byte stream, each handed to
 * `onRequest`, replies written corked per chunk. Bytes that are not a request
 * close the connection, as a real Pegasus server does.
 */
import type net from 'node:net';
import { readRequest, requestFrameLength, type SimRequest } from './wire.js';

export function serveFrames(socket: net.Socket, onRequest: (request: SimRequest) => void): void {
  socket.setNoDelay(true);
  socket.on('error', () => {});
  let rest: Buffer | undefined;
  socket.on('data', (chunk: Buffer) => {
    const buf = rest ? Buffer.concat([rest, chunk]) : chunk;
    let off = 0;
    socket.cork();
    try {
      for (;;) {
        const len = requestFrameLength(buf, off);
        if (len === undefined || off + len > buf.length) break;
        const request = readRequest(buf.subarray(off, off + len));
        off += len;
        onRequest(request);
        if (socket.destroyed) return;
      }
    } catch {
      socket.destroy();
      return;
    } finally {
      socket.uncork();
    }
    // A copy: the chunk's buffer is not ours to keep.
    rest = off < buf.length ? Buffer.from(buf.subarray(off)) : undefined;
  });
}
