/**
 * One simulated replica server: a real TCP port that serves rrdb put and get
 * for the partitions it is primary of, the way replica_stub and replica
 * answer them. It knows each table's `replica.deny_client_request` only as of
 * its last config sync with the meta (`applyConfig`), like a real replica.
 */
import net from 'node:net';
import type { DenyClient } from './appEnvs.js';
import type { ReplicaOpLog, SimReplicaOutcome } from './replicaOps.js';
import {
  RPC_GET,
  RPC_PUT,
  STATUS_NOT_FOUND,
  STATUS_OK,
  getReply,
  headerErrorReply,
  putReply,
  readGetArgs,
  readPutArgs,
} from './replicaWire.js';
import { serveFrames } from './serveFrames.js';
import type { SimRequest } from './wire.js';

/** What a replica server asks of its cluster. */
export interface ReplicaCluster {
  /** The live table with this app id, or undefined. */
  table(appId: number): { name: string; partitionCount: number } | undefined;
  /** Index of the replica server that is primary of partition `pidx`. */
  primaryOf(pidx: number): number;
  /** Where a table's values live, shared by all replica servers of the cluster. */
  data(appId: number): Map<string, Buffer>;
  /** The next decree of partition (appId, pidx). */
  nextDecree(appId: number, pidx: number): bigint;
  readonly log: ReplicaOpLog;
}

export class SimReplicaServer {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  /** Deny state per app id, as of the last config sync. */
  private deny = new Map<number, DenyClient>();
  private hostPart: string;
  syncs = 0;

  constructor(
    readonly index: number,
    readonly host: string,
    public port: number,
    private readonly cluster: ReplicaCluster,
  ) {
    this.hostPart = host.includes(':') ? `[${host}]` : host;
  }

  get address(): string {
    return `${this.hostPart}:${this.port}`;
  }

  get listening(): boolean {
    return this.server !== undefined;
  }

  /** A config sync: the meta's current deny state per app id replaces what this server knew. */
  applyConfig(deny: Map<number, DenyClient>): void {
    this.deny = deny;
    this.syncs++;
  }

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      const server = net.createServer((s) => this.serve(s));
      server.once('error', reject);
      server.listen({ host: this.host, port: this.port, exclusive: true }, () => {
        server.off('error', reject);
        server.on('error', () => {});
        this.port = (server.address() as net.AddressInfo).port;
        this.server = server;
        resolve();
      });
    });
  }

  stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    if (!server) return Promise.resolve();
    return new Promise((resolve) => server.close(() => resolve()));
  }

  private serve(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    serveFrames(socket, (req) => {
      const reply = this.answer(req);
      if (reply) socket.write(reply);
    });
  }

  private answer(req: SimRequest): Buffer | undefined {
    const kind = req.name === RPC_PUT ? 'put' : req.name === RPC_GET ? 'get' : undefined;
    if (!kind) return req.type === 4 ? undefined : headerErrorReply('ERR_HANDLER_NOT_FOUND', req.name, req.seqid);
    const { appId, partitionIndex: pidx } = req;
    const table = this.cluster.table(appId);
    const log = (outcome: SimReplicaOutcome, error: string) =>
      this.cluster.log.record({
        t: Date.now(),
        table: table?.name ?? `#${appId}`,
        kind,
        outcome,
        error,
        replica: this.address,
      });
    const refuse = (error: string) => {
      log('refused', error);
      return req.type === 4 ? undefined : headerErrorReply(error, req.name, req.seqid);
    };
    // replica_stub: no replica of this gpid on this server.
    if (!table || pidx < 0 || pidx >= table.partitionCount) return refuse('ERR_OBJECT_NOT_FOUND');
    // replica::on_client_read / on_client_write: the deny env comes before the status check.
    const deny = this.deny.get(appId);
    if (deny && (kind === 'get' ? deny.read : deny.write)) {
      if (deny.reconfig) return refuse('ERR_INVALID_STATE');
      log('dropped', 'ERR_OK');
      return undefined;
    }
    // Every server holds every partition (as primary or secondary): a non-primary is in the wrong state.
    if (this.cluster.primaryOf(pidx) !== this.index) return refuse('ERR_INVALID_STATE');
    const info = { appId, partitionIndex: pidx, server: this.address };
    const data = this.cluster.data(appId);
    log('ok', 'ERR_OK');
    let reply: Buffer;
    if (kind === 'put') {
      const { key, value } = readPutArgs(req);
      data.set(key.toString('hex'), value);
      reply = putReply(req.seqid, STATUS_OK, this.cluster.nextDecree(appId, pidx), info);
    } else {
      const value = data.get(readGetArgs(req).toString('hex'));
      reply = getReply(req.seqid, value ? STATUS_OK : STATUS_NOT_FOUND, value ?? Buffer.alloc(0), info);
    }
    return req.type === 4 ? undefined : reply;
  }
}
