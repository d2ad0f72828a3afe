import net from 'node:net';
import { Observable, ReplaySubject, Subject, fromEvent, map, takeUntil } from 'rxjs';
import type { Logger } from 'pino';
import type { ClientConnection } from '../streams/connectionTypes.js';

export interface TcpServerOptions {
  host: string;
  port: number;
  maxConnections: number;
  logger?: Logger;
}

export interface TcpServer {
  /** Every accepted connection, in order. Connections over the limit are refused before they get here. */
  readonly connections$: Observable<ClientConnection>;
  /** The bound address (port resolved when 0 was asked). */
  readonly address: { host: string; port: number };
  /** Stop accepting; open connections stay. */
  stopAccepting(): Promise<void>;
}

/**
 * Builds the client-facing TCP server driver: listens once, then hands out
 * each accepted socket as a `ClientConnection` whose streams are cold views of
 * the socket's events.
 */
export async function startTcpServer(options: TcpServerOptions): Promise<TcpServer> {
  const { host, port, maxConnections, logger } = options;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`listen port must be an integer from 0 to 65535, got ${port}`);
  }
  const accepted = new Subject<ClientConnection>();
  let nextId = 1;
  // allowHalfOpen: a client that ends its side still gets the replies to what it sent.
  const server = net.createServer({ allowHalfOpen: true, noDelay: true });
  server.maxConnections = maxConnections;
  server.on('drop', (info) => {
    logger?.warn({ peer: `${info?.remoteAddress}:${info?.remotePort}`, maxConnections }, 'connection refused: connection limit reached');
  });
  server.on('connection', (socket) => {
    accepted.next(wrapSocket(socket, nextId++));
  });
  server.on('error', (error) => logger?.error({ err: error }, 'client listener error'));

  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    server.once('error', onError);
    server.listen({ host, port }, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const bound = server.address() as net.AddressInfo;

  return {
    connections$: accepted.asObservable(),
    address: { host: bound.address, port: bound.port },
    stopAccepting: () => {
      accepted.complete();
      // close() stops listening at once; its callback waits for every open
      // connection to end, which is the drain's business, not this call's.
      server.close();
      return Promise.resolve();
    },
  };
}

function wrapSocket(socket: net.Socket, id: number): ClientConnection {
  const peer = `${socket.remoteAddress}:${socket.remotePort}`;
  // A reset or other socket error ends the chunk stream like a close does: the
  // connection is simply gone, which is not an error of the proxy.
  socket.on('error', () => socket.destroy());
  const closed = new ReplaySubject<void>(1);
  socket.once('close', () => {
    closed.next();
    closed.complete();
  });
  const closed$ = closed.asObservable();
  const chunks$ = new Observable<Buffer>((subscriber) => {
    if (socket.destroyed) {
      subscriber.complete();
      return undefined;
    }
    const onData = (chunk: Buffer) => subscriber.next(chunk);
    const onEnd = () => subscriber.complete();
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('close', onEnd);
    return () => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
    };
  });
  const drain$ = fromEvent(socket, 'drain').pipe(
    map(() => undefined),
    takeUntil(closed$),
  );
  return {
    id,
    peer,
    chunks$,
    closed$,
    drain$,
    write: (frame) => (socket.writable ? socket.write(frame) : false),
    pause: () => socket.pause(),
    resume: () => socket.resume(),
    end: () => socket.end(),
    destroy: () => socket.destroy(),
  };
}
