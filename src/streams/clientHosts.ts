import type { SchedulerLike } from 'rxjs';
import { NO_CLIENTS, type ClientCounts, type ClientHostEntry, type ClientHostList, type ClientHostsReader } from '../model/clientHostTypes.js';
import type { ProxyHooks, QueryFinished } from '../model/proxyTypes.js';
import type { RouteInfo } from '../model/route.js';

/**
 * Which client hosts ask for which table, so that after a switch an operator
 * can see who has followed the table to its new cluster. Only the proxies
 * see this: a client host asks again only when a replica turns it away.
 *
 * Per table, one record per client host (its address without the port: a
 * host's connections come and go, the host stays), kept in a Map in
 * insertion order. A query costs a Map lookup and a few field writes; a
 * host seen before allocates nothing. Counting happens when read.
 *
 * A change is the table's cluster changing: seen by a query answered by
 * another cluster than the previous one, or at a read, in the registry's
 * route (a switch nobody has asked about yet). For the table's latest change
 * at T:
 * - `hosts`: records whose last query was in [T - window, T), or that were
 *   counted for the change when they asked again (their record remembers it
 *   before the query overwrites its time);
 * - `followed`: of those, the ones whose last query came after T and was
 *   answered by the new cluster.
 * Without a change, `hosts` is the hosts that asked in the last window.
 *
 * Bounded: at most `hostsPerTable` hosts per table (the least recently asking
 * one goes, found by a second-chance sweep rather than by reordering the Map
 * on every query) and `maxTables` tables; a host is forgotten a window after
 * its last query, unless it counts for the table's latest change.
 */

export interface ClientHostsOptions {
  scheduler: SchedulerLike;
  /** How far before a change (and, without one, before now) a host counts. Default one hour. */
  windowMs?: number;
  /** Hosts remembered per table. Default 1 000. */
  hostsPerTable?: number;
  /** Tables tracked; queries for tables beyond are not. Default 10 000 (the metrics' table label bound). */
  maxTables?: number;
}

export interface ClientHosts extends ClientHostsReader {
  /** Merge into the proxy hooks. */
  readonly hooks: Required<Pick<ProxyHooks, 'connectionOpened' | 'connectionClosed' | 'queryFinished'>>;
  /** The table left the route cache: its hosts are forgotten. */
  forget(table: string): void;
  /** Tables tracked. */
  readonly tableCount: number;
  /** Host records kept for a table (0 when it is not tracked). */
  hostCount(table: string): number;
}

class HostRecord {
  /** Set on every query, cleared by the eviction sweep: a second chance for a host that asked since. */
  touched = false;
  /** The change (the table's `epoch`) this host was counted for; 0 for none. */
  countedFor = 0;
  constructor(
    public lastAt: number,
    public lastCluster: string,
  ) {}
}

class TableHosts {
  readonly hosts = new Map<string, HostRecord>();
  /** Counts the table's changes; 0 until one is seen. */
  epoch = 0;
  /** Epoch ms of the latest change. */
  changeAt = 0;
  /** Grows with every write, so a count made since and within a second is reused. */
  writes = 0;
  memoWrites = -1;
  memoAt = 0;
  memo: ClientCounts = NO_CLIENTS;
  /**
   * The host that asked last and its record: a table is asked again and again
   * by the same few hosts, so most queries skip the Map. Cleared when that
   * record leaves the Map.
   */
  lastHost: string | undefined;
  lastRecord: HostRecord | undefined;
  constructor(public cluster: string) {}

  /** Drops a record from the table. */
  drop(host: string, record: HostRecord): void {
    this.hosts.delete(host);
    if (this.lastRecord === record) {
      this.lastHost = undefined;
      this.lastRecord = undefined;
    }
  }

  changed(cluster: string, at: number): void {
    this.cluster = cluster;
    this.epoch += 1;
    this.changeAt = at;
    this.writes += 1;
  }
}

const MEMO_MS = 1_000;

export function createClientHosts(options: ClientHostsOptions): ClientHosts {
  const { scheduler } = options;
  const windowMs = options.windowMs ?? 3_600_000;
  const hostsPerTable = Math.max(1, options.hostsPerTable ?? 1_000);
  const maxTables = options.maxTables ?? 10_000;
  const tables = new Map<string, TableHosts>();
  /** Each open connection's host, worked out once when it opens. */
  const peers = new Map<string, string>();

  /** Records older than this are dropped: a window before now, or before the latest change. */
  const keepFrom = (table: TableHosts, now: number) => (table.epoch === 0 ? now - windowMs : Math.min(now, table.changeAt) - windowMs);

  const evictOne = (table: TableHosts, now: number): void => {
    const from = keepFrom(table, now);
    // Each pass clears the flags it passes over, so the sweep ends within two passes.
    for (const [host, record] of table.hosts) {
      if (record.touched && record.lastAt >= from) {
        record.touched = false;
        table.hosts.delete(host);
        table.hosts.set(host, record);
        continue;
      }
      table.drop(host, record);
      return;
    }
  };

  const queryFinished = (event: QueryFinished): void => {
    const cluster = event.cluster;
    // No route, no cluster to follow; such names are the clients' free choice and stay untracked.
    if (cluster === undefined) return;
    const now = scheduler.now();
    let table = tables.get(event.table);
    if (table === undefined) {
      if (tables.size >= maxTables) return;
      table = new TableHosts(cluster);
      tables.set(event.table, table);
    } else if (table.cluster !== cluster) {
      table.changed(cluster, now);
    }
    const host = peers.get(event.peer) ?? peerHost(event.peer);
    const record = host === table.lastHost ? table.lastRecord : table.hosts.get(host);
    if (record === undefined) {
      if (table.hosts.size >= hostsPerTable) evictOne(table, now);
      const added = new HostRecord(now, cluster);
      table.hosts.set(host, added);
      table.lastHost = host;
      table.lastRecord = added;
    } else {
      table.lastHost = host;
      table.lastRecord = record;
      // Asked before the change and now again: counted for it, before the time is overwritten.
      if (table.epoch !== 0 && record.countedFor !== table.epoch && record.lastAt < table.changeAt && record.lastAt >= table.changeAt - windowMs) {
        record.countedFor = table.epoch;
      }
      record.lastAt = now;
      record.lastCluster = cluster;
      record.touched = true;
    }
    table.writes += 1;
  };

  /** Brings the table's change up to date with the registry's route (a switch nobody has asked about yet). */
  const catchUp = (table: TableHosts, info: RouteInfo): void => {
    const state = info.state;
    if (state.kind === 'route') {
      if (state.cluster !== table.cluster) {
        // Switched, and nobody has asked since: the registry knows when.
        table.changed(state.cluster, info.changedAt);
      } else if (table.epoch !== 0 && info.changedAt < table.changeAt) {
        // The change was first seen in a query's answer; the registry saw it earlier.
        table.changeAt = info.changedAt;
        table.writes += 1;
      }
    }
  };

  /** Whether a record counts in `hosts`, and in `followed`, for the table's latest change. */
  const classify = (table: TableHosts, record: HostRecord): 0 | 1 | 2 => {
    const at = table.changeAt;
    if (table.epoch === 0) return 1;
    if (record.countedFor === table.epoch) return record.lastAt >= at && record.lastCluster === table.cluster ? 2 : 1;
    return record.lastAt < at && record.lastAt >= at - windowMs ? 1 : 0;
  };

  const counts = (info: RouteInfo): ClientCounts => {
    const table = tables.get(info.table);
    if (table === undefined) return NO_CLIENTS;
    catchUp(table, info);
    const now = scheduler.now();
    if (table.memoWrites === table.writes && now - table.memoAt < MEMO_MS && now >= table.memoAt) return table.memo;

    const from = keepFrom(table, now);
    const at = table.changeAt;
    let hosts = 0;
    let followed = 0;
    for (const [host, record] of table.hosts) {
      if (record.lastAt < from) {
        table.drop(host, record);
        continue;
      }
      const kind = classify(table, record);
      if (kind > 0) hosts += 1;
      if (kind === 2) followed += 1;
    }
    table.memo =
      table.epoch === 0
        ? { hosts, followed: null, since: null }
        : { hosts, followed, since: new Date(at).toISOString() };
    table.memoWrites = table.writes;
    table.memoAt = now;
    return table.memo;
  };

  const list = (info: RouteInfo): ClientHostList | null => {
    const table = tables.get(info.table);
    if (table === undefined) return null;
    catchUp(table, info);
    const from = keepFrom(table, scheduler.now());
    const hosts: ClientHostEntry[] = [];
    for (const [host, record] of table.hosts) {
      if (record.lastAt < from) continue;
      const kind = classify(table, record);
      hosts.push({ host, lastAt: new Date(record.lastAt).toISOString(), cluster: record.lastCluster, counted: kind > 0, followed: kind === 2 });
    }
    return { table: info.table, cluster: table.cluster, since: table.epoch === 0 ? null : new Date(table.changeAt).toISOString(), hosts };
  };

  return {
    list,
    hooks: {
      connectionOpened: (peer) => {
        peers.set(peer, peerHost(peer));
      },
      connectionClosed: (peer) => {
        peers.delete(peer);
      },
      queryFinished,
    },
    counts,
    forget: (table) => {
      tables.delete(table);
    },
    get tableCount() {
      return tables.size;
    },
    hostCount: (table) => tables.get(table)?.hosts.size ?? 0,
  };
}

/**
 * The client host of a peer `address:port` (what the connection reports):
 * the address alone, with an IPv4 address mapped into IPv6 (`::ffff:10.0.0.1`,
 * what a dual-stack listener reports) written as IPv4, so one host is one key
 * whichever way it connected.
 */
export function peerHost(peer: string): string {
  let address = peer;
  if (peer.startsWith('[')) {
    const close = peer.indexOf(']');
    address = close === -1 ? peer.slice(1) : peer.slice(1, close);
  } else {
    const colon = peer.lastIndexOf(':');
    // The connection reports `address:port` for IPv4 and IPv6 alike: the port follows the last colon.
    if (colon !== -1 && /^\d+$/.test(peer.slice(colon + 1))) address = peer.slice(0, colon);
  }
  const lower = address.toLowerCase();
  if (lower.startsWith('::ffff:') && lower.indexOf('.') !== -1) return address.slice(7);
  return address;
}
