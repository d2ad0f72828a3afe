/**
 * `check`: does every route point at a cluster that serves its table?
 * Each distinct cluster is listed once (list-apps), and each routed table is
 * asked for through query-config, as a client would.
 */
import { APP_STATUS_AVAILABLE, type AppInfo } from '../protocol/listApps.js';
import { DENY_CLIENT_ENV } from '../protocol/updateAppEnv.js';
import type { Asked, ClusterRef } from './clusters.js';
import { EXIT_FAILED, EXIT_OK, type CommandContext } from './context.js';
import type { StoredRoute } from './routeStore.js';

/** Cluster and table questions in flight at once. */
const CONCURRENCY = 8;

export type ProblemKind = 'unusable-route' | 'inconsistent-metas' | 'unreachable' | 'not-found' | 'table-error' | 'duplicate' | 'fenced-route' | 'unfenced-source';

export interface Finding {
  kind: ProblemKind;
  message: string;
  table?: string;
  cluster?: string;
}

export interface CheckReport {
  routes: number;
  clusters: number;
  problems: Finding[];
  /** Likely wrong, not certainly: e.g. a table routed away from a cluster that still serves it unfenced. */
  warnings: Finding[];
  /** Worth knowing, not wrong: e.g. the same table in two clusters while duplicating. */
  notes: Finding[];
}

/** What the clusters answered: each cluster's listing, each routed table's query-config error. */
export interface CheckAnswers {
  listings: Map<string, Asked<AppInfo[]>>;
  tables: Map<string, Asked<string>>;
}

/** The clusters the routes name, each with the metas of the first route naming it. */
export function clustersOf(routes: readonly StoredRoute[]): ClusterRef[] {
  const out = new Map<string, ClusterRef>();
  for (const r of routes) if (r.state.kind === 'route' && !out.has(r.state.cluster)) out.set(r.state.cluster, { name: r.state.cluster, metas: r.state.metas });
  return [...out.values()];
}

/** Builds the report from the routes and the answers. Pure. */
export function analyzeCheck(routes: readonly StoredRoute[], answers: CheckAnswers): CheckReport {
  const problems: Finding[] = [];
  const warnings: Finding[] = [];
  const notes: Finding[] = [];
  const clusters = clustersOf(routes);
  const metasOf = new Map(clusters.map((c) => [c.name, c.metas.join(',')]));

  for (const r of routes) {
    const s = r.state;
    if (s.kind === 'invalid') problems.push({ kind: 'unusable-route', table: r.table, message: `table ${r.table}: the route is not usable: ${s.reason}` });
  }

  const disagreeing = new Map<string, Set<string>>();
  for (const r of routes) {
    if (r.state.kind !== 'route') continue;
    const metas = r.state.metas.join(',');
    if (metas !== metasOf.get(r.state.cluster)) {
      const set = disagreeing.get(r.state.cluster) ?? new Set<string>();
      set.add(`${r.table} lists ${metas}`);
      disagreeing.set(r.state.cluster, set);
    }
  }
  for (const [cluster, lines] of disagreeing) {
    problems.push({
      kind: 'inconsistent-metas',
      cluster,
      message: `cluster ${cluster}: routes disagree on its metas (checked with ${metasOf.get(cluster)}; ${[...lines].join('; ')})`,
    });
  }

  for (const c of clusters) {
    const listing = answers.listings.get(c.name);
    if (listing && !listing.ok) {
      const tables = routes.filter((r) => r.state.kind === 'route' && r.state.cluster === c.name).map((r) => r.table);
      problems.push({ kind: 'unreachable', cluster: c.name, message: `${listing.reason} (routes to it: ${tables.join(', ')})` });
    }
  }

  for (const r of routes) {
    if (r.state.kind !== 'route') continue;
    const answer = answers.tables.get(r.table);
    if (!answer) continue;
    const cluster = r.state.cluster;
    if (!answer.ok) problems.push({ kind: 'unreachable', table: r.table, cluster, message: `table ${r.table}: ${answer.reason}` });
    else if (answer.value === 'ERR_OBJECT_NOT_FOUND') {
      problems.push({ kind: 'not-found', table: r.table, cluster, message: `table ${r.table}: cluster ${cluster} does not have it (ERR_OBJECT_NOT_FOUND)` });
    } else if (answer.value !== 'ERR_OK') {
      problems.push({ kind: 'table-error', table: r.table, cluster, message: `table ${r.table}: cluster ${cluster} answered ${answer.value}` });
    }
  }

  const holders = new Map<string, Array<{ cluster: string; duplicating: boolean }>>();
  for (const [cluster, listing] of answers.listings) {
    if (!listing.ok) continue;
    for (const app of listing.value) {
      if (app.status !== APP_STATUS_AVAILABLE) continue;
      const list = holders.get(app.appName) ?? [];
      list.push({ cluster, duplicating: app.duplicating === true });
      holders.set(app.appName, list);
    }
  }
  const routedTo = new Map(routes.flatMap((r) => (r.state.kind === 'route' ? [[r.table, r.state.cluster] as const] : [])));
  for (const table of [...holders.keys()].sort()) {
    const list = holders.get(table) as Array<{ cluster: string; duplicating: boolean }>;
    if (list.length < 2) continue;
    const names = list.map((h) => h.cluster).sort();
    const where = routedTo.has(table) ? `routed to ${routedTo.get(table)}` : 'not routed';
    const finding: Finding = { kind: 'duplicate', table, message: `table ${table} is available in clusters ${names.join(', ')} (${where})` };
    // Duplication keeps a copy of a table in the backup cluster on purpose.
    if (list.some((h) => h.duplicating)) notes.push({ ...finding, message: `${finding.message}; duplicating, as expected for a backup copy` });
    else problems.push(finding);
  }

  // Fences (docs/PROTOCOL.md §8): a route into a fenced table fails every client; a table left unfenced
  // on a cluster it was routed away from keeps serving clients that still hold that cluster's configuration.
  for (const [cluster, listing] of answers.listings) {
    if (!listing.ok) continue;
    for (const app of listing.value) {
      if (app.status !== APP_STATUS_AVAILABLE) continue;
      const routed = routedTo.get(app.appName);
      if (routed === undefined) continue;
      const fence = app.envs.get(DENY_CLIENT_ENV);
      if (routed === cluster && fence !== undefined) {
        problems.push({
          kind: 'fenced-route',
          table: app.appName,
          cluster,
          message: `table ${app.appName}: routed to cluster ${cluster}, where it is fenced (${DENY_CLIENT_ENV}=${fence}): every client is turned away; lift it with "meta-proxy-ctl fence ${app.appName} --cluster ${cluster} --lift"`,
        });
      } else if (routed !== cluster && fence === undefined) {
        warnings.push({
          kind: 'unfenced-source',
          table: app.appName,
          cluster,
          message: `table ${app.appName}: routed to ${routed}, but cluster ${cluster} still serves it unfenced: clients holding ${cluster}'s configuration keep using it; fence it with "meta-proxy-ctl fence ${app.appName} --cluster ${cluster}"`,
        });
      }
    }
  }

  return { routes: routes.length, clusters: clusters.length, problems, warnings, notes };
}

async function eachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await work(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

export async function checkCommand(ctx: CommandContext, json: boolean): Promise<number> {
  const routes = await ctx.store.list();
  const clusters = clustersOf(routes);
  const asker = ctx.clusters();
  const answers: CheckAnswers = { listings: new Map(), tables: new Map() };
  await eachLimited(clusters, CONCURRENCY, async (c) => {
    answers.listings.set(c.name, await asker.listApps(c));
  });
  // Tables of a cluster that did not answer its listing are not asked again one by one.
  const reachable = new Map(clusters.filter((c) => answers.listings.get(c.name)?.ok).map((c) => [c.name, c]));
  const asked = routes.filter((r) => r.state.kind === 'route' && reachable.has(r.state.cluster));
  await eachLimited(asked, CONCURRENCY, async (r) => {
    const cluster = reachable.get((r.state as { cluster: string }).cluster) as ClusterRef;
    answers.tables.set(r.table, await asker.queryConfig(cluster, r.table));
  });

  const report = analyzeCheck(routes, answers);
  if (json) {
    ctx.out(`${JSON.stringify({ ok: report.problems.length === 0, ...report }, null, 2)}\n`);
  } else {
    ctx.out(`Checked ${report.routes} route${report.routes === 1 ? '' : 's'} to ${report.clusters} cluster${report.clusters === 1 ? '' : 's'} in ${ctx.store.where}.\n`);
    for (const n of report.notes) ctx.out(`note: ${n.message}\n`);
    for (const w of report.warnings) ctx.out(`warning: ${w.message}\n`);
    for (const p of report.problems) ctx.out(`problem: ${p.message}\n`);
    ctx.out(report.problems.length === 0 ? 'No problems found.\n' : `${report.problems.length} problem${report.problems.length === 1 ? '' : 's'} found.\n`);
  }
  return report.problems.length === 0 ? EXIT_OK : EXIT_FAILED;
}
