/**
 * `switch`: every table of one cluster (or the named ones) to another, in one
 * all-or-nothing write whose every route is checked against the version read.
 */
import { ConflictError, CtlFailure } from './errors.js';
import { EXIT_OK, type CommandContext } from './context.js';
import { alignedTable, describeTarget } from './format.js';
import { sameRoute, type RouteChange, type RouteTarget, type StoredRoute } from './routeStore.js';

export interface SwitchOptions {
  from: string;
  to: RouteTarget;
  tables?: string[];
  dryRun: boolean;
}

/** The routes to move; throws a `CtlFailure` naming every table that cannot be moved as asked. */
export function planSwitch(routes: readonly StoredRoute[], options: SwitchOptions, where: string): StoredRoute[] {
  const ofSource = routes.filter((r) => r.state.kind === 'route' && r.state.cluster === options.from);
  if (options.tables === undefined) {
    if (ofSource.length === 0) {
      const clusters = [...new Set(routes.flatMap((r) => (r.state.kind === 'route' ? [r.state.cluster] : [])))].sort();
      throw new CtlFailure(`No table is routed to cluster ${JSON.stringify(options.from)} in ${where} (clusters routed to: ${clusters.join(', ') || 'none'}).`);
    }
    return ofSource;
  }
  const byTable = new Map(routes.map((r) => [r.table, r]));
  const wrong: string[] = [];
  for (const table of options.tables) {
    const route = byTable.get(table);
    if (!route) wrong.push(`${table} has no route`);
    else if (route.state.kind !== 'route') wrong.push(`${table} has an unusable route`);
    else if (route.state.cluster !== options.from) wrong.push(`${table} is routed to ${route.state.cluster}`);
  }
  if (wrong.length > 0) {
    throw new CtlFailure(`Cannot switch from ${options.from}: ${wrong.join('; ')}. Name only tables routed to ${options.from}, or fix those routes with "meta-proxy-ctl set" first.`);
  }
  return options.tables.map((t) => byTable.get(t) as StoredRoute);
}

export async function switchCommand(ctx: CommandContext, options: SwitchOptions): Promise<number> {
  const planned = planSwitch(await ctx.store.list(), options, ctx.store.where);
  const moving = planned.filter((r) => !sameRoute(r.state, options.to));
  const rows = moving.map((r) => [r.table, r.state.kind === 'route' ? describeTarget(r.state) : '-', '->', describeTarget(options.to)]);
  if (moving.length === 0) {
    ctx.out(`Every selected table is already routed to ${describeTarget(options.to)}; nothing to do.\n`);
    return EXIT_OK;
  }
  ctx.out(`${options.dryRun ? 'Would switch' : 'Switching'} ${moving.length} table${moving.length === 1 ? '' : 's'} in ${ctx.store.where}:\n`);
  ctx.out(alignedTable(rows));
  if (options.dryRun) {
    ctx.out('Dry run: nothing was changed.\n');
    return EXIT_OK;
  }
  const changes: RouteChange[] = moving.map((r) => ({ kind: 'put', table: r.table, route: options.to, expect: { version: r.version } }));
  await ctx.beforeCommit('switch', moving.map((r) => r.table));
  try {
    await ctx.store.commit(changes);
  } catch (err) {
    if (err instanceof ConflictError) {
      throw new CtlFailure(`${err.message} No table was switched. Re-run the command to plan again from the current routes.`, { cause: err });
    }
    throw err;
  }
  ctx.out(`Switched ${moving.length} table${moving.length === 1 ? '' : 's'} from ${options.from} to ${describeTarget(options.to)}.\n`);
  return EXIT_OK;
}
