import net from 'node:net';
import { replyFrameLengthSim } from '../../sim/wire.js';

/** A bare TCP client that writes whatever bytes a test gives it and splits reply frames. */
export interface RawClient {
  socket: net.Socket;
  send(bytes: Buffer): void;
  /** The next reply frame; rejects if none arrives within `ms` or the socket closes first. */
  next(ms?: number): Promise<Buffer>;
  /** Resolves when the server closes the connection. */
  closed: Promise<void>;
  close(): void;
}

export function rawConnect(address: string): Promise<RawClient> {
  const colon = address.lastIndexOf(':');
  const socket = net.connect({ host: address.slice(0, colon), port: Number(address.slice(colon + 1)) });
  const frames: Buffer[] = [];
  const waiters: { resolve(b: Buffer): void; reject(e: Error): void }[] = [];
  let rest = Buffer.alloc(0);
  let ended = false;
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('error', () => {});
  socket.on('data', (chunk: Buffer) => {
    rest = Buffer.concat([rest, chunk]);
    for (;;) {
      const n = replyFrameLengthSim(rest, 0);
      if (n === undefined) break;
      const frame = rest.subarray(0, n);
      rest = rest.subarray(n);
      const w = waiters.shift();
      if (w) w.resolve(frame);
      else frames.push(frame);
    }
  });
  socket.once('close', () => {
    ended = true;
    for (const w of waiters.splice(0)) w.reject(new Error('connection closed'));
  });
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.once('connect', () =>
      resolve({
        socket,
        closed,
        send: (bytes) => socket.write(bytes),
        next(ms = 2000) {
          const f = frames.shift();
          if (f) return Promise.resolve(f);
          if (ended) return Promise.reject(new Error('connection closed'));
          return new Promise<Buffer>((res, rej) => {
            const waiter = {
              resolve: (b: Buffer) => {
                clearTimeout(timer);
                res(b);
              },
              reject: (e: Error) => {
                clearTimeout(timer);
                rej(e);
              },
            };
            const timer = setTimeout(() => {
              waiters.splice(waiters.indexOf(waiter), 1);
              rej(new Error(`no reply within ${ms} ms`));
            }, ms);
            waiters.push(waiter);
          });
        },
        close: () => socket.destroy(),
      }),
    );
  });
}
