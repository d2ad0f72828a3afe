/**
 * Reply frames a simulated MetaServer sends, built as reusable templates (bytes
 * plus the seqid's offset) so a hot query costs one copy and one int write.
 */
import { REPLICAS, REPLICA_BASE_PORT, replicaHost, replicaIp } from './identify.js';
import { T_BOOL, T_I32, T_I64, T_LIST, T_MAP, T_STRING, T_STRUCT, Writer, replyTemplate } from './wire.js';

export interface ReplyTemplate {
  bytes: Buffer;
  seqidOffset: number;
}

export interface SimTable {
  appId: number;
  partitionCount: number;
}

/** Where replica server `i` of a cluster listens, as both wire forms name it. */
export type ReplicaEndpoints = (i: number) => MetaAddress;

/** A MetaServer's address as both wire forms need it. */
export interface MetaAddress {
  /** IPv4 as u32, 0 when the host is not an IPv4 literal. */
  ip: number;
  port: number;
  host: string;
}

export const RPC_QUERY = 'RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX';
export const RPC_LIST = 'RPC_CM_LIST_APPS';

/** A template filled in with a request's seqid. */
export function stamp(t: ReplyTemplate, seqid: number): Buffer {
  const out = Buffer.allocUnsafe(t.bytes.length);
  t.bytes.copy(out);
  out.writeInt32BE(seqid, t.seqidOffset);
  return out;
}

function rpcAddress(ip: number, port: number): bigint {
  if (ip === 0 && port === 0) return 0n;
  return (BigInt(ip >>> 0) << 32n) | (BigInt(port & 0xffff) << 16n) | 1n;
}

function writeHostPort(w: Writer, host: string, port: number): void {
  w.string(host).u16(port).i8(1);
}

/** The default endpoints: fake 10.x addresses and host names derived from the cluster name (sim/identify.ts). */
function namedEndpoints(cluster: string): ReplicaEndpoints {
  const ip = replicaIp(cluster);
  return (i) => ({ ip, port: REPLICA_BASE_PORT + i, host: replicaHost(cluster, i) });
}

function writeAddressList(w: Writer, id: number, at: ReplicaEndpoints, replicas: number[]): void {
  w.field(T_LIST, id).i8(T_STRUCT).i32(replicas.length);
  for (const i of replicas) {
    const a = at(i);
    w.i64(rpcAddress(a.ip, a.port));
  }
}

function writeHostPortList(w: Writer, id: number, at: ReplicaEndpoints, replicas: number[]): void {
  w.field(T_LIST, id).i8(T_STRUCT).i32(replicas.length);
  for (const i of replicas) {
    const a = at(i);
    writeHostPort(w, a.host, a.port);
  }
}

/** Replica server that is primary of partition `pidx` (the others hold it as secondaries). */
export function primaryOf(pidx: number): number {
  return pidx % REPLICAS;
}

/** One partition_configuration of a simulated table. */
function writePartition(w: Writer, at: ReplicaEndpoints, appId: number, pidx: number, hostPort: boolean): void {
  const primary = primaryOf(pidx);
  const secondaries = [(pidx + 1) % REPLICAS, (pidx + 2) % REPLICAS];
  const lastDrops = [(pidx + 2) % REPLICAS];
  const p = at(primary);
  w.field(T_STRUCT, 1).i64((BigInt(pidx) << 32n) | BigInt(appId >>> 0));
  w.field(T_I64, 2).i64(BigInt(3 + pidx));
  w.field(T_I32, 3).i32(REPLICAS);
  w.field(T_STRUCT, 4).i64(rpcAddress(p.ip, p.port));
  writeAddressList(w, 5, at, secondaries);
  writeAddressList(w, 6, at, lastDrops);
  w.field(T_I64, 7).i64(BigInt(1000 + pidx * 7));
  w.field(T_I32, 8).i32(0);
  if (hostPort) {
    w.field(T_STRUCT, 9);
    writeHostPort(w, p.host, p.port);
    writeHostPortList(w, 10, at, secondaries);
    writeHostPortList(w, 11, at, lastDrops);
  }
  w.stop();
}

function queryResponse(
  err: string,
  appId: number,
  count: number,
  stateful: boolean,
  partitions: number,
  writeEach: (w: Writer, i: number) => void,
): (w: Writer) => void {
  return (w) => {
    w.field(T_STRUCT, 1).string(err);
    w.field(T_I32, 2).i32(appId);
    w.field(T_I32, 3).i32(count);
    w.field(T_BOOL, 4).i8(stateful ? 1 : 0);
    w.field(T_LIST, 5).i8(T_STRUCT).i32(partitions);
    for (let i = 0; i < partitions; i++) writeEach(w, i);
    w.stop();
  };
}

/**
 * ERR_OK with the requested partitions (all of them when `indices` is empty); out-of-range indices are left out.
 * Replicas are named by `replicas`, or by the fake addresses derived from the cluster's name.
 */
export function queryConfigOk(
  cluster: string,
  table: SimTable,
  indices: readonly number[],
  hostPort: boolean,
  replicas?: ReplicaEndpoints,
): ReplyTemplate {
  const at = replicas ?? namedEndpoints(cluster);
  const wanted =
    indices.length === 0
      ? Array.from({ length: table.partitionCount }, (_, i) => i)
      : indices.filter((i) => i >= 0 && i < table.partitionCount);
  return replyTemplate(
    'ERR_OK',
    RPC_QUERY,
    queryResponse('ERR_OK', table.appId, table.partitionCount, true, wanted.length, (w, i) =>
      writePartition(w, at, table.appId, wanted[i] as number, hostPort),
    ),
  );
}

/** A body error with no partitions (OBJECT_NOT_FOUND, SERVICE_NOT_ACTIVE, ...). */
export function queryConfigError(err: string): ReplyTemplate {
  return replyTemplate('ERR_OK', RPC_QUERY, queryResponse(err, 0, 0, false, 0, () => {}));
}

/** ERR_FORWARD_TO_OTHERS naming `leader`, or with an empty list when there is none. */
export function queryConfigForward(leader: MetaAddress | undefined, hostPort: boolean): ReplyTemplate {
  return replyTemplate(
    'ERR_OK',
    RPC_QUERY,
    queryResponse('ERR_FORWARD_TO_OTHERS', 0, 0, false, leader ? 1 : 0, (w) => {
      const l = leader as MetaAddress;
      w.field(T_STRUCT, 1).i64(0n);
      w.field(T_I64, 2).i64(0n);
      w.field(T_I32, 3).i32(0);
      w.field(T_STRUCT, 4).i64(rpcAddress(l.ip, l.port));
      w.field(T_LIST, 5).i8(T_STRUCT).i32(0);
      w.field(T_LIST, 6).i8(T_STRUCT).i32(0);
      w.field(T_I64, 7).i64(0n);
      w.field(T_I32, 8).i32(0);
      if (hostPort) {
        w.field(T_STRUCT, 9);
        writeHostPort(w, l.host, l.port);
      }
      w.stop();
    }),
  );
}

/** `configuration_list_apps_response` with one available app_info per table, its envs in field 6. */
export function listAppsReply(
  err: string,
  tables: Record<string, SimTable>,
  envs?: (table: string) => ReadonlyMap<string, string> | undefined,
): ReplyTemplate {
  const names = err === 'ERR_OK' ? Object.keys(tables).sort() : [];
  return replyTemplate('ERR_OK', RPC_LIST, (w) => {
    w.field(T_STRUCT, 1).string(err);
    w.field(T_LIST, 2).i8(T_STRUCT).i32(names.length);
    for (const name of names) {
      const t = tables[name] as SimTable;
      w.field(T_I32, 1).i32(1);
      w.field(T_STRING, 2).string('pegasus');
      w.field(T_STRING, 3).string(name);
      w.field(T_I32, 4).i32(t.appId);
      w.field(T_I32, 5).i32(t.partitionCount);
      const kv = [...(envs?.(name) ?? [])].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      w.field(T_MAP, 6).i8(T_STRING).i8(T_STRING).i32(kv.length);
      for (const [k, v] of kv) w.string(k).string(v);
      w.field(T_BOOL, 7).i8(1);
      w.field(T_I32, 8).i32(REPLICAS);
      w.field(T_I64, 9).i64(0n);
      w.field(T_I64, 10).i64(1_700_000_000n);
      w.field(T_I64, 11).i64(0n);
      w.field(T_BOOL, 12).i8(0);
      w.field(T_I32, 13).i32(t.partitionCount);
      w.stop();
    }
    w.stop();
  });
}

/** Header ERR_HANDLER_NOT_FOUND, the `_ACK` message begin and no body. */
export function handlerNotFound(rpcName: string): ReplyTemplate {
  return replyTemplate('ERR_HANDLER_NOT_FOUND', rpcName);
}
