/** `list`, `get`, `set`, `delete`: one route at a time, each write checked against the version read. */
import { ConflictError, CtlFailure } from './errors.js';
import { EXIT_OK, type CommandContext } from './context.js';
import { alignedTable, describeStored, describeTarget, routeJson } from './format.js';
import type { Expectation, RouteTarget } from './routeStore.js';
import { sameRoute } from './routeStore.js';

const RERUN = 'Re-run the command to act on what is there now (check it with "meta-proxy-ctl get"), or add --force to overwrite it.';

export async function listCommand(ctx: CommandContext, json: boolean): Promise<number> {
  const routes = await ctx.store.list();
  if (json) {
    ctx.out(`${JSON.stringify(routes.map(routeJson), null, 2)}\n`);
    return EXIT_OK;
  }
  if (routes.length === 0) {
    ctx.note(`No routes in ${ctx.store.where}.\n`);
    return EXIT_OK;
  }
  const rows = routes.map((r) => {
    const s = r.state;
    return s.kind === 'route' ? [r.table, s.cluster, s.metas.join(',')] : [r.table, '-', `(unusable: ${s.kind === 'invalid' ? s.reason : s.kind})`];
  });
  ctx.out(alignedTable([['TABLE', 'CLUSTER', 'METAS'], ...rows]));
  return EXIT_OK;
}

export async function getCommand(ctx: CommandContext, table: string, json: boolean): Promise<number> {
  const route = await ctx.store.get(table);
  if (!route) throw new CtlFailure(`There is no route for table ${JSON.stringify(table)} in ${ctx.store.where}. Create one with "meta-proxy-ctl set ${table} --cluster NAME --meta host:port".`);
  if (json) ctx.out(`${JSON.stringify(routeJson(route), null, 2)}\n`);
  else ctx.out(`${table}: ${describeStored(route)} [version ${route.version}]\n`);
  return EXIT_OK;
}

export async function setCommand(ctx: CommandContext, table: string, target: RouteTarget, force: boolean): Promise<number> {
  const current = await ctx.store.get(table);
  if (current && sameRoute(current.state, target)) {
    ctx.out(`${table}: already routed to ${describeTarget(target)}; nothing to do.\n`);
    return EXIT_OK;
  }
  const expect: Expectation = force ? 'any' : current ? { version: current.version } : 'absent';
  await ctx.beforeCommit('set', [table]);
  try {
    await ctx.store.commit([{ kind: 'put', table, route: target, expect }]);
  } catch (err) {
    if (err instanceof ConflictError) throw new CtlFailure(`${err.message} ${RERUN}`, { cause: err });
    throw err;
  }
  ctx.out(current ? `${table}: ${describeStored(current)} -> ${describeTarget(target)}\n` : `${table}: created -> ${describeTarget(target)}\n`);
  return EXIT_OK;
}

export async function deleteCommand(ctx: CommandContext, table: string, force: boolean): Promise<number> {
  const current = await ctx.store.get(table);
  if (!current) throw new CtlFailure(`There is no route for table ${JSON.stringify(table)} in ${ctx.store.where}: nothing to delete.`);
  await ctx.beforeCommit('delete', [table]);
  try {
    await ctx.store.commit([{ kind: 'delete', table, expect: force ? 'any' : { version: current.version } }]);
  } catch (err) {
    if (err instanceof ConflictError) throw new CtlFailure(`${err.message} ${RERUN}`, { cause: err });
    throw err;
  }
  ctx.out(`${table}: deleted (was ${describeStored(current)})\n`);
  return EXIT_OK;
}
