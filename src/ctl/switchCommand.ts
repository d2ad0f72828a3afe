/**
 * `switch`: every table of one cluster (or the named ones) to another, in one
 * all-or-nothing write whose every route is checked against the version read;
 * then each table is lifted on the new cluster and fenced on the old one, so
 * clients holding the old cluster's configuration ask again and follow.
 */
import { DENY_CLIENT_ENV, FENCE_MODE } from '../protocol/updateAppEnv.js';
import { ConflictError, CtlFailure } from './errors.js';
import { EXIT_CLIENTS_PENDING, EXIT_OK, EXIT_UNFINISHED, type CommandContext } from './context.js';
import { describeRouteState, readFollowed, waitForRoutes, type FleetAccess } from './fleetWait.js';
import type { FleetInstance } from './fleet.js';
import { applyFenceStep, describeFenceResult, describePlannedStep, FENCE_CONCURRENCY, finishingCommands, mapLimited, type FenceResult, type FenceStep } from './fence.js';
import { alignedTable, describeTarget } from './format.js';
import { sameRoute, type RouteChange, type RouteTarget, type StoredRoute } from './routeStore.js';

export interface SwitchOptions {
  from: string;
  to: RouteTarget;
  tables?: string[];
  dryRun: boolean;
  /** Lift each table on the new cluster and fence it on the old one after the routes are written. */
  fence: boolean;
  /** How long replicas take to apply an env change (Pegasus's config_sync_interval_ms): waited after a lift that removed a fence. */
  configSyncMs: number;
  /** How long to wait for every registered proxy to serve the new routes before fencing; 0: do not wait. */
  fleetWaitMs?: number;
  /** After the fences, wait this long for every client host that used a switched table to follow. */
  waitClientsS?: number;
}

/** Per table: lift on the new cluster, then fence on the old one (with the metas its route named). */
export function planFences(moving: readonly StoredRoute[], options: SwitchOptions): Array<{ lift: FenceStep; fence: FenceStep }> {
  const to = { name: options.to.cluster, metas: options.to.metas };
  return moving.map((r) => {
    const old = r.state.kind === 'route' ? { name: r.state.cluster, metas: r.state.metas } : { name: options.from, metas: [] };
    return { lift: { action: 'lift', table: r.table, cluster: to }, fence: { action: 'fence', table: r.table, cluster: old, mode: FENCE_MODE } };
  });
}

/**
 * Which of the tables are fenced on the new cluster now (their lift will
 * remove a fence). Undefined when the cluster cannot be listed: then every
 * lift may remove one.
 */
async function fencedOnTarget(ctx: CommandContext, options: SwitchOptions): Promise<Set<string> | undefined> {
  const listed = await ctx.clusters().listApps({ name: options.to.cluster, metas: options.to.metas });
  if (!listed.ok) return undefined;
  return new Set(listed.value.filter((app) => app.envs.has(DENY_CLIENT_ENV)).map((app) => app.appName));
}

/**
 * Runs the plan: every lift, then, when a lift removed a fence, one config
 * sync so the new cluster's replicas serve again before the old cluster turns
 * clients towards them, then the fences. A table whose lift failed is not
 * fenced: fenced on both clusters it would be served by neither.
 */
async function runFences(ctx: CommandContext, plan: ReturnType<typeof planFences>, options: SwitchOptions, fenced: Set<string> | undefined): Promise<FenceResult[]> {
  const asker = ctx.clusters();
  const lifts = await mapLimited(plan, FENCE_CONCURRENCY, ({ lift }) => applyFenceStep(asker, lift));
  for (const r of lifts) ctx.out(`${describeFenceResult(r)}\n`);
  const removed = plan.filter(({ lift }, i) => lifts[i]!.status === 'done' && (fenced === undefined || fenced.has(lift.table)));
  if (removed.length > 0 && options.configSyncMs > 0) {
    ctx.out(
      `Waiting ${formatMs(options.configSyncMs)} for ${options.to.cluster}'s replicas to apply the lift (their config sync; --config-sync-ms) ` +
        `before fencing ${options.from}: ${removed.map((p) => p.lift.table).join(', ')} ${removed.length === 1 ? 'was' : 'were'} fenced on ${options.to.cluster}.\n`,
    );
    await ctx.sleep(options.configSyncMs);
  }
  const fences = await mapLimited(plan, FENCE_CONCURRENCY, async ({ lift, fence }, i): Promise<FenceResult> => {
    if (lifts[i]!.status !== 'done') {
      return { step: fence, status: 'skipped', reason: `skipped: the lift on ${lift.cluster.name} failed, and a table fenced on both clusters is served by neither` };
    }
    return applyFenceStep(asker, fence);
  });
  for (const r of fences) ctx.out(`${describeFenceResult(r)}\n`);
  return [...lifts, ...fences];
}

const formatMs = (ms: number): string => (ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`);

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
  // Moving a cluster to new MetaServer machines: its replicas keep serving, nothing to fence.
  const fencing = options.fence && options.from !== options.to.cluster;
  const plan = fencing ? planFences(moving, options) : [];
  const fenced = fencing ? await fencedOnTarget(ctx, options) : new Set<string>();
  if (options.dryRun) {
    for (const { lift, fence } of plan) ctx.out(`then ${describePlannedStep(lift)}\nthen ${describePlannedStep(fence)}\n`);
    const refencing = plan.filter(({ lift }) => fenced === undefined || fenced.has(lift.table));
    if (refencing.length > 0 && options.configSyncMs > 0) {
      ctx.out(`(${fenced === undefined ? `${options.to.cluster} cannot be listed now, so` : `${refencing.map((p) => p.lift.table).join(', ')} fenced on ${options.to.cluster}:`} it would wait ${formatMs(options.configSyncMs)} between the lifts and the fences)\n`);
    }
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
  const switchedAt = Date.now();
  ctx.out(`Switched ${moving.length} table${moving.length === 1 ? '' : 's'} from ${options.from} to ${describeTarget(options.to)}.\n`);
  const tables = moving.map((r) => r.table);
  const instances = await waitForFleet(ctx, tables, options);
  if (!fencing) {
    if (!options.fence) ctx.out(`Not fenced (--no-fence): clients that hold ${options.from}'s configuration stay on ${options.from} until its replicas turn them away.\n`);
    else ctx.out(`Same cluster on new MetaServers: nothing to fence.\n`);
    return EXIT_OK;
  }

  const results = await runFences(ctx, plan, options, fenced);
  const undone = results.filter((r) => r.status !== 'done');
  if (undone.length === 0) {
    ctx.out(`Clients move to ${options.to.cluster} at their next op once ${options.from}'s replicas apply the fence (their config sync, 30 s by default).\n`);
    if (options.waitClientsS === undefined) return EXIT_OK;
    if (ctx.fleet === undefined || instances === undefined) {
      ctx.note('--wait-clients needs the proxies registered in ZooKeeper; with the routes file there is no fleet to ask.\n');
      return EXIT_CLIENTS_PENDING;
    }
    return waitForClients(ctx, ctx.fleet, instances, tables, options, switchedAt);
  }
  ctx.note(
    `The routes are switched, but ${undone.length} fence or lift step${undone.length === 1 ? ' was' : 's were'} not done: ` +
      undone.map((r) => `${r.step.action} of ${r.step.table} on ${r.step.cluster.name}`).join(', ') +
      `.\n${options.from} must be fenced before it serves again, or clients still holding its configuration will write to it (split brain). ` +
      `When the cluster answers again, run:\n`,
  );
  // A lift must come before its table's fence, as above: lifts are listed first.
  const steps = undone.map((r) => r.step).sort((x, y) => (x.action === y.action ? 0 : x.action === 'lift' ? -1 : 1));
  for (const line of finishingCommands(ctx.invokedAs, steps)) ctx.note(`  ${line}\n`);
  return EXIT_UNFINISHED;
}

/**
 * Waits until every registered proxy serves the new routes (or the limit
 * passes), printing a line per instance. Resolves the instances read, or
 * undefined without a fleet (routes file, or the wait switched off).
 */
async function waitForFleet(ctx: CommandContext, tables: readonly string[], options: SwitchOptions): Promise<FleetInstance[] | undefined> {
  const fleet = ctx.fleet;
  if (fleet === undefined) return undefined;
  let instances: FleetInstance[];
  try {
    instances = await fleet.read();
  } catch (error) {
    ctx.note(`Cannot list the proxy instances (${error instanceof Error ? error.message : String(error)}); not waiting for them.\n`);
    return undefined;
  }
  const limitMs = options.fleetWaitMs ?? 0;
  if (limitMs === 0) return instances;
  if (instances.length === 0) {
    ctx.out(`No proxy instance is registered under ${fleet.path}: none to wait for.\n`);
    return instances;
  }
  ctx.out(`Waiting up to ${formatMs(limitMs)} for ${instances.length} proxy instance${instances.length === 1 ? '' : 's'} to serve the new routes (--fleet-wait-ms):\n`);
  const states = await waitForRoutes(fleet, instances, tables, options.to, limitMs);
  for (const state of states) ctx.out(`${describeRouteState(state, options.to)}\n`);
  const laggards = states.filter((s) => s.status !== 'serving').map((s) => s.instance);
  if (laggards.length > 0) {
    ctx.note(
      `${laggards.length} of ${states.length} instance${states.length === 1 ? '' : 's'} did not show the new routes within ${formatMs(limitMs)}: ${laggards.join(', ')}. ` +
        `Clients asking ${laggards.length === 1 ? 'it' : 'them'} may be handed ${options.from} again; check ${laggards.length === 1 ? 'its' : 'their'} ZooKeeper session ("meta-proxy-ctl fleet --table ${tables[0]}"). Going on.\n`,
    );
  }
  return instances;
}

/** Polls the fleet once a second until every client host that used a switched table has followed, or the time is up. */
async function waitForClients(
  ctx: CommandContext,
  fleet: FleetAccess,
  instances: readonly FleetInstance[],
  tables: readonly string[],
  options: SwitchOptions,
  switchedAt: number,
): Promise<number> {
  const deadline = Date.now() + (options.waitClientsS ?? 0) * 1000;
  ctx.out(`Waiting up to ${options.waitClientsS} s for the client hosts of the last hour to follow to ${options.to.cluster} (--wait-clients):\n`);
  let last = '';
  for (;;) {
    const { tables: followed, unreachable } = await readFollowed(fleet, instances, tables, options.to.cluster, switchedAt);
    const progress = followed.map((t) => `${t.table}: ${t.followed.length} of ${t.hosts.length} host${t.hosts.length === 1 ? '' : 's'} followed`).join('; ');
    const line = unreachable.length === 0 ? progress : `${progress} (not heard: ${unreachable.join(', ')})`;
    if (line !== last) ctx.out(`  ${line}\n`);
    last = line;
    const pending = followed.filter((t) => t.pending.length > 0);
    if (pending.length === 0 && unreachable.length === 0) {
      ctx.out(`Every client host that used ${tables.length === 1 ? 'the table' : 'these tables'} has followed to ${options.to.cluster}.\n`);
      return EXIT_OK;
    }
    if (Date.now() >= deadline) {
      for (const t of pending) ctx.note(`${t.table}: ${t.pending.length} host${t.pending.length === 1 ? ' has' : 's have'} not asked again since the switch: ${t.pending.join(', ')}\n`);
      if (unreachable.length > 0) ctx.note(`Not heard from: ${unreachable.join(', ')}: hosts only they saw are not counted.\n`);
      ctx.note(`Hosts that have not followed are idle since the switch or still on ${options.from} (is the fence applied? "meta-proxy-ctl fences --cluster ${options.from}").\n`);
      return EXIT_CLIENTS_PENDING;
    }
    await ctx.sleep(Math.min(1000, Math.max(0, deadline - Date.now())));
  }
}
