/**
 * What a switch waits for, read from every registered proxy instance's admin
 * endpoint: that each serves the new routes before the old cluster is fenced
 * (a laggard would hand fenced-away clients the old cluster again), and
 * afterwards that every client host that used a switched table has asked
 * again and been given the new cluster.
 */
import type { ClientHostList } from '../model/clientHostTypes.js';
import type { FleetInstance, InstanceAnswer } from './fleet.js';
import type { RouteTarget } from './routeStore.js';

/** How the command reaches the fleet; built from the configuration (ZooKeeper only). */
export interface FleetAccess {
  /** `zookeeper.instances_path`, for messages. */
  path: string;
  /** `zookeeper.root`: where this command writes the routes. */
  routesRoot: string;
  read(): Promise<FleetInstance[]>;
  ask(instance: FleetInstance, paths: readonly string[], timeoutMs: number): Promise<InstanceAnswer>;
}

/** One instance's answer to "do you serve the new routes?". */
export type InstanceRouteState =
  | { instance: string; status: 'serving'; afterMs: number; serving: string[]; notCached: string[] }
  | { instance: string; status: 'lagging'; stale: Array<{ table: string; serves: string }> }
  | { instance: string; status: 'unreachable'; reason: string }
  | { instance: string; status: 'elsewhere'; routesRoot: string };

/** Each asked path answers within this; the whole wait is bounded by its own limit. */
const ASK_TIMEOUT_MS = 2000;
const POLL_MS = 100;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

interface TableRowLike {
  table?: unknown;
  kind?: unknown;
  cluster?: unknown;
  metas?: unknown;
}

/** What a `/tables` row says an instance serves, in words. */
function served(row: TableRowLike): string {
  const metas = Array.isArray(row.metas) ? (row.metas as unknown[]).map(String) : [];
  return row.kind === 'route' ? `${String(row.cluster)} (${metas.join(',')})` : `no route (${String(row.kind)})`;
}

/**
 * Polls every instance until it serves `target` for each of `tables` it has
 * cached (a table it has not cached is read fresh at its next query), or
 * until `limitMs` has passed. Resolves one state per instance, in order.
 */
export async function waitForRoutes(
  fleet: FleetAccess,
  instances: readonly FleetInstance[],
  tables: readonly string[],
  target: RouteTarget,
  limitMs: number,
): Promise<InstanceRouteState[]> {
  const started = Date.now();
  const deadline = started + limitMs;
  const metas = target.metas.join(',');
  return Promise.all(
    instances.map(async (instance): Promise<InstanceRouteState> => {
      // It reads its routes elsewhere: it will never serve these, however long we wait.
      if (instance.routesRoot !== null && instance.routesRoot !== fleet.routesRoot) return { instance: instance.name, status: 'elsewhere', routesRoot: instance.routesRoot };
      // Nothing to poll: the instance serves no admin endpoint.
      if (instance.admin === null) return { instance: instance.name, status: 'unreachable', reason: 'no admin endpoint (admin.listen is off), so it cannot be asked' };
      for (;;) {
        const answer = await fleet.ask(instance, ['/tables'], Math.max(200, Math.min(ASK_TIMEOUT_MS, deadline - Date.now())));
        if (answer.reachable) {
          const rows = Array.isArray(answer.answers['/tables']) ? (answer.answers['/tables'] as TableRowLike[]) : [];
          const serving: string[] = [];
          const notCached: string[] = [];
          const stale: Array<{ table: string; serves: string }> = [];
          for (const table of tables) {
            const row = rows.find((r) => r.table === table);
            if (row === undefined) notCached.push(table);
            else if (row.kind === 'route' && row.cluster === target.cluster && Array.isArray(row.metas) && row.metas.join(',') === metas) serving.push(table);
            else stale.push({ table, serves: served(row) });
          }
          if (stale.length === 0) return { instance: instance.name, status: 'serving', afterMs: Date.now() - started, serving, notCached };
          if (Date.now() >= deadline) return { instance: instance.name, status: 'lagging', stale };
        } else if (Date.now() >= deadline) {
          return { instance: instance.name, status: 'unreachable', reason: answer.reason };
        }
        await sleep(Math.min(POLL_MS, Math.max(0, deadline - Date.now())));
      }
    }),
  );
}

export function describeRouteState(state: InstanceRouteState, target: RouteTarget): string {
  switch (state.status) {
    case 'serving': {
      const parts: string[] = [];
      if (state.serving.length > 0) parts.push(`serves ${target.cluster} for ${state.serving.join(', ')}`);
      if (state.notCached.length > 0) parts.push(`${state.notCached.join(', ')} not cached (read afresh at the next query)`);
      return `instance ${state.instance}: ${parts.join('; ')} (after ${state.afterMs} ms)`;
    }
    case 'lagging':
      return `LAGGING instance ${state.instance}: still serves ${state.stale.map((s) => `${s.serves} for ${s.table}`).join(', ')}`;
    case 'unreachable':
      return `UNREACHABLE instance ${state.instance}: ${state.reason}`;
    case 'elsewhere':
      return `LAGGING instance ${state.instance}: reads its routes under ${state.routesRoot}, not where this switch wrote them`;
  }
}

/** Per switched table: the client hosts that used it before the switch, and which of them have followed. */
export interface FollowedTable {
  table: string;
  hosts: string[];
  followed: string[];
  pending: string[];
}

/**
 * Joins the instances' host lists for one table. A host used the table before
 * the switch when an instance counted it for its latest change, or saw its
 * last query before `switchedAt`; it followed when an instance saw it follow,
 * or saw its last query after `switchedAt` answered by the new cluster. One
 * host may talk to several instances: any of them is enough.
 */
export function joinHostLists(table: string, lists: ReadonlyArray<ClientHostList | null>, target: string, switchedAt: number, windowMs: number): FollowedTable {
  const before = new Set<string>();
  const after = new Set<string>();
  for (const list of lists) {
    if (list === null) continue;
    for (const entry of list.hosts) {
      const at = Date.parse(entry.lastAt);
      if ((list.since !== null && entry.counted) || (at < switchedAt && at >= switchedAt - windowMs)) before.add(entry.host);
      if (entry.followed || (at >= switchedAt && entry.cluster === target)) after.add(entry.host);
    }
  }
  const hosts = [...before].sort();
  return { table, hosts, followed: hosts.filter((h) => after.has(h)), pending: hosts.filter((h) => !after.has(h)) };
}

/** The window the proxies count hosts in: an hour. */
export const CLIENT_WINDOW_MS = 3_600_000;

/** Reads every instance's host lists for each table once. Unreachable instances are named in `unreachable`. */
export async function readFollowed(
  fleet: FleetAccess,
  instances: readonly FleetInstance[],
  tables: readonly string[],
  target: string,
  switchedAt: number,
): Promise<{ tables: FollowedTable[]; unreachable: string[] }> {
  const paths = tables.map((t) => `/clients?table=${encodeURIComponent(t)}`);
  const answers = await Promise.all(instances.map((instance) => askLists(fleet, instance, paths)));
  const unreachable = instances.filter((_, i) => answers[i] === undefined).map((i) => i.name);
  return {
    tables: tables.map((table, t) => joinHostLists(table, answers.map((a) => a?.[t] ?? null), target, switchedAt, CLIENT_WINDOW_MS)),
    unreachable,
  };
}

/** Each path's host list (null where the instance does not track the table); undefined when the instance cannot be heard. */
async function askLists(fleet: FleetAccess, instance: FleetInstance, paths: readonly string[]): Promise<Array<ClientHostList | null> | undefined> {
  // /clients answers 404 for a table nobody asked this instance for: ask each path alone so one 404 is not a failure.
  const out: Array<ClientHostList | null> = [];
  let heard = false;
  for (const path of paths) {
    const answer = await fleet.ask(instance, [path], ASK_TIMEOUT_MS);
    if (answer.reachable) {
      heard = true;
      const list = answer.answers[path] as ClientHostList;
      out.push(Array.isArray(list?.hosts) ? list : null);
    } else if (/HTTP 404/.test(answer.reason)) {
      heard = true;
      out.push(null);
    } else {
      return undefined;
    }
  }
  return heard || paths.length === 0 ? out : undefined;
}
