/**
 * `fleet`: every registered instance, each asked in parallel for its status
 * (and with a table, for the route it serves for it).
 */
import type { Config } from '../config/types.js';
import { askInstance, readFleet, type FleetInstance, type InstanceAnswer } from './fleet.js';
import { EXIT_OK } from './context.js';
import { alignedTable } from './format.js';

export interface FleetOptions {
  table?: string;
  json: boolean;
  timeoutMs: number;
}

export interface FleetCommandEnv {
  config: Config;
  out(text: string): void;
  note(text: string): void;
  /** Replace how the instances are read (tests). */
  readFleet?: (config: Config) => Promise<FleetInstance[]>;
}

/** What an instance said about itself, from `/status.json`. */
interface InstanceStatus {
  version: string | null;
  uptimeSeconds: number | null;
  ready: boolean | null;
  zookeeper: string | null;
  routes: number | null;
}

/** What an instance serves for the asked table, from `/tables`. */
interface TableServed {
  kind: string;
  cluster: string | null;
  version: number | null;
  /** `{hosts, followed, since}` when the instance tracks which client hosts followed a switch. */
  clients?: { hosts: number; followed: number; since: string | null };
}

export interface FleetRow {
  name: string;
  listen: string;
  admin: string | null;
  pid: number | null;
  startedAt: string | null;
  reachable: boolean;
  reason?: string;
  status?: InstanceStatus;
  /** With --table: null when the instance has no cached route for it. */
  table?: TableServed | null;
}

const record = (value: unknown): Record<string, unknown> => (typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {});
const str = (value: unknown): string | null => (typeof value === 'string' ? value : null);
const num = (value: unknown): number | null => (typeof value === 'number' && Number.isFinite(value) ? value : null);

const STATUS_PATH = '/status.json?size=1';
const TABLES_PATH = '/tables';

function statusOf(body: unknown): InstanceStatus {
  const doc = record(body);
  const ready = record(doc.ready).ready;
  return {
    version: str(doc.version),
    uptimeSeconds: num(doc.uptimeSeconds),
    ready: typeof ready === 'boolean' ? ready : null,
    zookeeper: doc.zookeeper === null ? 'none (routes file)' : str(record(doc.zookeeper).state),
    routes: num(record(doc.routes).total),
  };
}

function tableOf(body: unknown, table: string): TableServed | null {
  const row = (Array.isArray(body) ? body : []).map(record).find((r) => r.table === table);
  if (row === undefined) return null;
  const clients = record(row.clients);
  const hosts = Array.isArray(clients.hosts) ? clients.hosts.length : num(clients.hosts);
  const followed = Array.isArray(clients.followed) ? clients.followed.length : num(clients.followed);
  return {
    kind: str(row.kind) ?? 'route',
    cluster: str(row.cluster),
    version: num(row.version),
    ...(hosts !== null && followed !== null && { clients: { hosts, followed, since: str(clients.since) } }),
  };
}

/** One instance's row from what it answered. Pure. */
export function fleetRow(instance: FleetInstance, answer: InstanceAnswer, table?: string): FleetRow {
  const base = { name: instance.name, listen: instance.listen, admin: instance.admin, pid: instance.pid, startedAt: instance.startedAt };
  if (!answer.reachable) return { ...base, reachable: false, reason: answer.reason };
  return {
    ...base,
    reachable: true,
    status: statusOf(answer.answers[STATUS_PATH]),
    ...(table !== undefined && { table: tableOf(answer.answers[TABLES_PATH], table) }),
  };
}

/** `3d4h`, `2h05m`, `7m09s`, `41s`. */
export function formatUptime(seconds: number | null): string {
  if (seconds === null) return '-';
  const s = Math.max(0, Math.floor(seconds));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n: number) => String(n).padStart(2, '0');
  if (d > 0) return `${d}d${h}h`;
  if (h > 0) return `${h}h${pad(m)}m`;
  if (m > 0) return `${m}m${pad(s % 60)}s`;
  return `${s}s`;
}

const yesNo = (value: boolean | null): string => (value === null ? '-' : value ? 'yes' : 'no');

/** The aligned text table. Pure. */
export function formatFleet(rows: readonly FleetRow[], table?: string): string {
  const header = ['INSTANCE', 'VERSION', 'UPTIME', 'READY', 'ZOOKEEPER', 'ROUTES'];
  if (table !== undefined) header.push('CLUSTER', 'ROUTE VERSION', 'FOLLOWED');
  const lines = rows.map((row) => {
    if (!row.reachable || row.status === undefined) return [row.name, `unreachable (${row.reason ?? 'no answer'})`] as const;
    const s = row.status;
    const cells = [row.name, s.version ?? '-', formatUptime(s.uptimeSeconds), yesNo(s.ready), s.zookeeper ?? '-', s.routes === null ? '-' : String(s.routes)];
    if (table !== undefined) {
      const t = row.table;
      if (t === null || t === undefined) cells.push('not cached', '-', '-');
      else {
        cells.push(t.kind === 'route' ? (t.cluster ?? '-') : t.kind, t.version === null ? '-' : String(t.version), t.clients ? `${t.clients.followed}/${t.clients.hosts}` : '-');
      }
    }
    return cells;
  });
  // An unreachable instance's reason runs across the columns it has no values for, widening none of them.
  const nameWidth = Math.max(header[0]!.length, ...rows.map((row) => row.name.length));
  const full = alignedTable([[header[0]!.padEnd(nameWidth), ...header.slice(1)], ...lines.filter((cells) => cells.length === header.length)]).split('\n');
  let next = 1;
  return [full[0], ...lines.map((cells) => (cells.length === header.length ? full[next++] : `${cells[0].padEnd(nameWidth)}  ${cells[1]}`)), ''].join('\n');
}

export async function fleetCommand(env: FleetCommandEnv, options: FleetOptions): Promise<number> {
  const instances = await (env.readFleet ?? readFleet)(env.config);
  const paths = options.table === undefined ? [STATUS_PATH] : [STATUS_PATH, TABLES_PATH];
  const answers = await Promise.all(instances.map((instance) => askInstance(instance, paths, options.timeoutMs)));
  const rows = instances.map((instance, i) => fleetRow(instance, answers[i] as InstanceAnswer, options.table));
  const path = env.config.zookeeper?.instancesPath;
  if (options.json) {
    env.out(`${JSON.stringify({ path, ...(options.table !== undefined && { table: options.table }), instances: rows }, null, 2)}\n`);
    return EXIT_OK;
  }
  if (rows.length === 0) {
    env.note(`No instance is registered under ${path}.\n`);
    return EXIT_OK;
  }
  env.out(formatFleet(rows, options.table));
  const unreachable = rows.filter((row) => !row.reachable).length;
  if (unreachable > 0) env.note(`${unreachable} of ${rows.length} registered instance${rows.length === 1 ? '' : 's'} unreachable.\n`);
  return EXIT_OK;
}
