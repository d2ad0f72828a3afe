import net from 'node:net';
import { Observable, Subject } from 'rxjs';
import type { Logger } from 'pino';
import type { ClientConnection } from '../streams/connectionTypes.js';

/** At most one summary line of refused connections per this long. */
const REFUSAL_LOG_INTERVAL_MS = 10_000;

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
  // No half-open connections: a client's FIN means it is gone (every Pegasus
  // client closes, none half-closes, and a close cannot be told from a
  // half-close), so its side ends too and its calls in flight are cancelled
  // rather than held, with backup requests, until their deadline.
  const server = net.createServer({ allowHalfOpen: false, noDelay: true });
  server.maxConnections = maxConnections;
  // A line per refused connection would let a connection flood fill the log:
  // the first refusal is logged at once, later ones are counted and summed up
  // once per interval while they go on.
  let refusedUnlogged = 0;
  let refusalTimer: NodeJS.Timeout | undefined;
  const logRefusals = (): boolean => {
    if (refusedUnlogged === 0) return false;
    logger?.warn({ refused: refusedUnlogged, maxConnections }, 'connections refused: connection limit reached');
    refusedUnlogged = 0;
    return true;
  };
  const onRefusalTimer = (): void => {
    refusalTimer = logRefusals() ? setTimeout(onRefusalTimer, REFUSAL_LOG_INTERVAL_MS).unref() : undefined;
  };
  server.on('drop', (info) => {
    if (refusalTimer !== undefined) {
      refusedUnlogged++;
      return;
    }
    logger?.warn({ peer: `${info?.remoteAddress}:${info?.remotePort}`, maxConnections }, 'connection refused: connection limit reached');
    refusalTimer = setTimeout(onRefusalTimer, REFUSAL_LOG_INTERVAL_MS).unref();
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
      clearTimeout(refusalTimer);
      logRefusals();
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
  // Plain listeners rather than a ReplaySubject and fromEvent/map/takeUntil:
  // each costs subscriber objects for the life of the connection, and an idle
  // connection should cost little more than its socket (BENCHMARKS.md).
  let gone = false;
  socket.once('close', () => (gone = true));
  const closed$ = new Observable<void>((subscriber) => {
    const onClose = () => {
      subscriber.next();
      subscriber.complete();
    };
    if (gone) {
      onClose();
      return undefined;
    }
    socket.once('close', onClose);
    return () => socket.off('close', onClose);
  });
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
  const drain$ = new Observable<void>((subscriber) => {
    if (gone) {
      subscriber.complete();
      return undefined;
    }
    const onDrain = () => subscriber.next();
    const onClose = () => subscriber.complete();
    socket.on('drain', onDrain);
    socket.once('close', onClose);
    return () => {
      socket.off('drain', onDrain);
      socket.off('close', onClose);
    };
  });
  // Replies finished in one turn of the event loop (one upstream chunk answers
  // many requests) leave in one writev: a syscall per reply dominated the profile.
  let corked = false;
  const uncork = (): void => {
    corked = false;
    socket.uncork();
  };
  const write = (frame: Buffer): boolean => {
    if (!socket.writable) return false;
    if (!corked) {
      corked = true;
      socket.cork();
      process.nextTick(uncork);
    }
    return socket.write(frame);
  };
  return {
    id,
    peer,
    chunks$,
    closed$,
    drain$,
    write,
    pause: () => socket.pause(),
    resume: () => socket.resume(),
    end: () => socket.end(),
    destroy: () => socket.destroy(),
  };
}
