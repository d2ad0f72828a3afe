/**
 * `fence`: set or lift `replica.deny_client_request` on tables of one cluster
 * by hand; `fences`: the tables fenced on the clusters the routes name.
 */
import { DENY_CLIENT_ENV, type DenyMode } from '../protocol/updateAppEnv.js';
import type { ClusterChoice } from './args.js';
import type { ClusterRef } from './clusters.js';
import { clustersOf } from './checkCommand.js';
import { EXIT_FAILED, EXIT_OK, EXIT_UNFINISHED, type CommandContext } from './context.js';
import { applyFenceStep, describeCluster, describeFenceResult, describePlannedStep, FENCE_CONCURRENCY, finishingCommands, mapLimited, resolveCluster, type FenceStep } from './fence.js';
import { alignedTable } from './format.js';

export interface FenceOptions {
  tables: string[];
  cluster: ClusterChoice;
  lift: boolean;
  mode: DenyMode;
  dryRun: boolean;
}

export async function fenceCommand(ctx: CommandContext, options: FenceOptions): Promise<number> {
  const cluster = resolveCluster(options.cluster, options.cluster.metas === undefined ? await ctx.store.list() : [], ctx.store.where);
  const steps: FenceStep[] = options.tables.map((table) => (options.lift ? { action: 'lift', table, cluster } : { action: 'fence', table, cluster, mode: options.mode }));
  if (options.dryRun) {
    for (const step of steps) ctx.out(`${describePlannedStep(step)}\n`);
    ctx.out('Dry run: nothing was changed.\n');
    return EXIT_OK;
  }
  const asker = ctx.clusters();
  const results = await mapLimited(steps, FENCE_CONCURRENCY, (step) => applyFenceStep(asker, step));
  for (const r of results) ctx.out(`${describeFenceResult(r)}\n`);
  const undone = results.filter((r) => r.status !== 'done').map((r) => r.step);
  if (undone.length === 0) {
    if (!options.lift) ctx.out(`Replicas apply it at their next config sync (config_sync_interval_ms, 30 s by default).\n`);
    return EXIT_OK;
  }
  ctx.note(`${undone.length} of ${steps.length} table${steps.length === 1 ? '' : 's'} not ${options.lift ? 'lifted' : 'fenced'} on ${describeCluster(cluster)}. When the cluster answers again, run:\n`);
  for (const line of finishingCommands(ctx.invokedAs, undone)) ctx.note(`  ${line}\n`);
  return EXIT_UNFINISHED;
}

export interface FencesOptions {
  cluster?: ClusterChoice;
  json: boolean;
}

/** One fenced table as `fences` reports it. */
export interface FencedTable {
  table: string;
  cluster: string;
  metas: string[];
  value: string;
  /** A route points the table at this cluster: its clients are being turned away. */
  routedHere: boolean;
}

export async function fencesCommand(ctx: CommandContext, options: FencesOptions): Promise<number> {
  const routes = await ctx.store.list();
  const clusters: ClusterRef[] = options.cluster === undefined ? clustersOf(routes) : [resolveCluster(options.cluster, routes, ctx.store.where)];
  if (clusters.length === 0) {
    ctx.out(`No route in ${ctx.store.where} names a cluster; give one with --meta.\n`);
    return EXIT_OK;
  }
  const asker = ctx.clusters();
  const listings = await mapLimited(clusters, FENCE_CONCURRENCY, (c) => asker.listApps(c));
  const routedTo = new Map(routes.flatMap((r) => (r.state.kind === 'route' ? [[r.table, r.state.cluster] as const] : [])));
  const fenced: FencedTable[] = [];
  const unreachable: string[] = [];
  clusters.forEach((cluster, i) => {
    const listing = listings[i]!;
    if (!listing.ok) {
      unreachable.push(listing.reason);
      return;
    }
    for (const app of listing.value) {
      const value = app.envs.get(DENY_CLIENT_ENV);
      if (value === undefined) continue;
      fenced.push({ table: app.appName, cluster: cluster.name, metas: cluster.metas, value, routedHere: cluster.name !== '' && routedTo.get(app.appName) === cluster.name });
    }
  });
  fenced.sort((x, y) => x.table.localeCompare(y.table) || x.cluster.localeCompare(y.cluster));

  if (options.json) {
    ctx.out(`${JSON.stringify({ clusters: clusters.map((c) => ({ name: c.name, metas: c.metas })), fenced, unreachable }, null, 2)}\n`);
  } else {
    if (fenced.length === 0) ctx.out(`No table is fenced on ${clusters.map(describeCluster).join(', ')}.\n`);
    else {
      ctx.out(
        alignedTable(
          fenced.map((f) => {
            const row = [f.table, describeCluster({ name: f.cluster, metas: f.metas }), `${DENY_CLIENT_ENV}=${f.value}`];
            return f.routedHere ? [...row, 'ROUTED HERE: every client of it is turned away'] : row;
          }),
        ),
      );
    }
    for (const reason of unreachable) ctx.note(`cannot list: ${reason}\n`);
  }
  return unreachable.length === 0 ? EXIT_OK : EXIT_FAILED;
}
