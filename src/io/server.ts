import net from 'node:net';
import { Observable, Subject } from 'rxjs';
import type { Logger } from 'pino';
import type { ClientConnection } from '../model/connectionTypes.js';
import { BatchedWriter } from './batchedWriter.js';

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
  // One writer for every client socket: one nextTick per turn however many sockets were written to.
  const batch = new BatchedWriter();
  server.on('connection', (socket) => {
    accepted.next(new SocketConnection(socket, nextId++, batch));
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

/**
 * One client socket as the streams see it. A class with lazily built streams
 * rather than an object of closures and Observables made up front: an idle
 * connection should cost little more than its socket (10 000 of them are a
 * benchmark target), so it holds a few fields and builds each stream only
 * when it is subscribed to.
 */
class SocketConnection implements ClientConnection {
  readonly peer: string;

  constructor(
    private readonly socket: net.Socket,
    readonly id: number,
    private readonly batch: BatchedWriter,
  ) {
    this.peer = `${socket.remoteAddress}:${socket.remotePort}`;
    // A reset or other socket error ends the chunk stream like a close does:
    // the connection is simply gone, which is not an error of the proxy.
    socket.on('error', destroyOnError);
  }

  get chunks$(): Observable<Buffer> {
    const socket = this.socket;
    return new Observable<Buffer>((subscriber) => {
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
  }

  get closed$(): Observable<void> {
    const socket = this.socket;
    return new Observable<void>((subscriber) => {
      const onClose = () => {
        subscriber.next();
        subscriber.complete();
      };
      if (socket.closed) {
        onClose();
        return undefined;
      }
      socket.once('close', onClose);
      return () => socket.off('close', onClose);
    });
  }

  get drain$(): Observable<void> {
    const socket = this.socket;
    return new Observable<void>((subscriber) => {
      if (socket.closed) {
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
  }

  write(frame: Buffer): boolean {
    if (!this.socket.writable) return false;
    return this.batch.write(this.socket, frame);
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }
}

function destroyOnError(this: net.Socket): void {
  this.destroy();
}
