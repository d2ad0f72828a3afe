/**
 * The fleet's node layout, pure: what an instance writes into its node, how a
 * node reads back, which address an instance advertises.
 */
import { combineLatest, distinctUntilChanged, map, type Observable } from 'rxjs';
import { formatHostPort, type HostPort } from '../protocol/hostPort.js';
import type { FleetInstance, FleetStatus, InstanceRecord, NamedNode } from '../model/fleetTypes.js';

const ANY_HOST = new Set(['0.0.0.0', '::', '']);

/**
 * The address others dial: the configured `advertise`, else the bound address
 * with the wildcard host (0.0.0.0, ::) replaced by the machine's host name; an
 * advertised port 0 is the bound port.
 */
export function advertisedAddress(bound: HostPort, advertise: HostPort | undefined, hostname: string): HostPort {
  if (advertise !== undefined) return { host: advertise.host, port: advertise.port === 0 ? bound.port : advertise.port };
  return { host: ANY_HOST.has(bound.host) ? hostname : bound.host, port: bound.port };
}

/** The node's name for an advertised client address: `host:port` (IPv6 in brackets). */
export const instanceName = (listen: HostPort): string => formatHostPort(listen);

/** `http://host:port` of an advertised admin address. */
export const adminUrl = (admin: HostPort): string => `http://${formatHostPort(admin)}`;

/** The node data, as written. */
export function encodeInstanceRecord(record: InstanceRecord): string {
  return JSON.stringify(record);
}

/**
 * The node data to keep written: the record with `ready` as it is now. Emits
 * only when the data changes, so a readiness flicker back to the same value
 * costs no write.
 */
export function instanceRecord$(base: Omit<InstanceRecord, 'ready'>, ...ready: Array<Observable<boolean>>): Observable<string> {
  return combineLatest(ready).pipe(
    map((values) => values.every(Boolean)),
    distinctUntilChanged(),
    map((isReady) => encodeInstanceRecord({ ...base, ready: isReady })),
  );
}

const stringOr = (value: unknown): string | null => (typeof value === 'string' ? value : null);

/** A node read back; a node that is not an instance record keeps its name and says why. */
export function parseInstanceNode(node: NamedNode): FleetInstance {
  const blank: FleetInstance = { name: node.name, listen: node.name, admin: null, version: null, pid: null, startedAt: null, routesRoot: null, ready: null };
  let value: unknown;
  try {
    value = JSON.parse(node.data.toString('utf8'));
  } catch {
    return { ...blank, invalid: 'the node does not hold JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ...blank, invalid: 'the node does not hold a JSON object' };
  const record = value as Record<string, unknown>;
  const admin = stringOr(record.admin);
  return {
    name: node.name,
    listen: stringOr(record.listen) ?? node.name,
    admin: admin !== null && /^https?:\/\//.test(admin) ? admin : null,
    version: stringOr(record.version),
    pid: typeof record.pid === 'number' ? record.pid : null,
    startedAt: stringOr(record.startedAt),
    routesRoot: stringOr(record.routesRoot),
    ready: typeof record.ready === 'boolean' ? record.ready : null,
  };
}

/** Every registered instance, by name. */
export function parseFleet(nodes: readonly NamedNode[]): FleetInstance[] {
  return nodes.map(parseInstanceNode).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** `/status.json`'s `fleet` field. */
export function fleetStatus(path: string, self: string, instances: readonly FleetInstance[]): FleetStatus {
  return {
    path,
    self,
    instances: instances.map(({ routesRoot: _root, ...instance }) => ({ ...instance, self: instance.name === self })),
  };
}
