/**
 * `import`: a route for every available table of a cluster, as its MetaServer
 * leader lists them, written in one all-or-nothing step.
 */
import { APP_STATUS_AVAILABLE } from '../protocol/listApps.js';
import { tableNameProblem } from '../streams/parseRoute.js';
import { ConflictError, CtlFailure } from './errors.js';
import { EXIT_OK, type CommandContext } from './context.js';
import { alignedTable, describeStored, describeTarget } from './format.js';
import { sameRoute, type RouteChange, type RouteTarget, type StoredRoute } from './routeStore.js';

export interface ImportOptions {
  cluster: RouteTarget;
  dryRun: boolean;
  overwrite: boolean;
}

export type ImportAction =
  | { table: string; action: 'create' }
  | { table: string; action: 'unchanged' }
  | { table: string; action: 'overwrite' | 'keep'; current: StoredRoute }
  | { table: string; action: 'skip'; reason: string };

/** What to do with each listed table, in table order. */
export function planImport(tables: readonly string[], routes: readonly StoredRoute[], options: ImportOptions): ImportAction[] {
  const byTable = new Map(routes.map((r) => [r.table, r]));
  return [...new Set(tables)].sort().map((table): ImportAction => {
    const problem = tableNameProblem(table);
    if (problem !== undefined) return { table, action: 'skip', reason: problem };
    const current = byTable.get(table);
    if (!current) return { table, action: 'create' };
    if (sameRoute(current.state, options.cluster)) return { table, action: 'unchanged' };
    return { table, action: options.overwrite ? 'overwrite' : 'keep', current };
  });
}

export async function importCommand(ctx: CommandContext, options: ImportOptions): Promise<number> {
  const target = options.cluster;
  const listed = await ctx.clusters().listApps({ name: target.cluster, metas: target.metas });
  if (!listed.ok) throw new CtlFailure(`Cannot list the tables of ${describeTarget(target)}: ${listed.reason}. Check --meta and that the cluster is up.`);
  const available = listed.value.filter((app) => app.status === APP_STATUS_AVAILABLE).map((app) => app.appName);
  const plan = planImport(available, await ctx.store.list(), options);

  ctx.out(`Cluster ${describeTarget(target)} (leader ${listed.meta}) lists ${available.length} available table${available.length === 1 ? '' : 's'}.\n`);
  const rows = plan.map((p) => {
    switch (p.action) {
      case 'create':
        return [p.table, 'create', `-> ${target.cluster}`];
      case 'unchanged':
        return [p.table, 'unchanged', `already -> ${target.cluster}`];
      case 'overwrite':
        return [p.table, 'overwrite', `${describeStored(p.current)} -> ${target.cluster}`];
      case 'keep':
        return [p.table, 'keep', `routed to ${describeStored(p.current)} (--overwrite to re-point it)`];
      case 'skip':
        return [p.table, 'skip', p.reason];
    }
  });
  ctx.out(alignedTable(rows));

  const changes: RouteChange[] = plan.flatMap((p): RouteChange[] => {
    if (p.action === 'create') return [{ kind: 'put', table: p.table, route: target, expect: 'absent' }];
    if (p.action === 'overwrite') return [{ kind: 'put', table: p.table, route: target, expect: { version: p.current.version } }];
    return [];
  });
  const kept = plan.filter((p) => p.action === 'keep').length;
  if (kept > 0) ctx.note(`${kept} table${kept === 1 ? ' is' : 's are'} routed elsewhere and kept; use --overwrite to re-point them to ${target.cluster}.\n`);
  if (options.dryRun) {
    ctx.out(`Dry run: would write ${changes.length} route${changes.length === 1 ? '' : 's'}; nothing was changed.\n`);
    return EXIT_OK;
  }
  if (changes.length === 0) {
    ctx.out('Nothing to write.\n');
    return EXIT_OK;
  }
  await ctx.beforeCommit('import', changes.map((c) => c.table));
  try {
    await ctx.store.commit(changes);
  } catch (err) {
    if (err instanceof ConflictError) throw new CtlFailure(`${err.message} No route was imported. Re-run the command to plan again.`, { cause: err });
    throw err;
  }
  const created = changes.filter((c) => c.kind === 'put' && c.expect === 'absent').length;
  ctx.out(`Imported: ${created} created, ${changes.length - created} overwritten, ${kept} kept, in ${ctx.store.where}.\n`);
  return EXIT_OK;
}
