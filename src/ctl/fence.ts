/**
 * Fencing a table on a cluster (docs/PROTOCOL.md §8): the table env
 * `replica.deny_client_request`, set or deleted through the cluster's
 * MetaServer leader. A fenced table's replicas turn clients away, and a client
 * turned away asks the proxies for the table again: that is how a route
 * change reaches clients that already hold a configuration.
 */
import { APP_ENV_OP_DEL, APP_ENV_OP_SET, DENY_CLIENT_ENV, type DenyMode } from '../protocol/updateAppEnv.js';
import type { ClusterChoice } from './args.js';
import type { ClusterAsker, ClusterRef } from './clusters.js';
import { CtlFailure } from './errors.js';
import { shellWord } from './format.js';
import type { StoredRoute } from './routeStore.js';

/** One env change of one table on one cluster. */
export type FenceStep = { action: 'fence'; table: string; cluster: ClusterRef; mode: DenyMode } | { action: 'lift'; table: string; cluster: ClusterRef };

/** What became of a step: done (with the leader's hint, if any), failed, or not tried because an earlier step failed. */
export type FenceResult =
  | { step: FenceStep; status: 'done'; meta: string; hint: string }
  | { step: FenceStep; status: 'failed'; reason: string }
  | { step: FenceStep; status: 'skipped'; reason: string };

/** Env changes in flight at once. */
export const FENCE_CONCURRENCY = 8;

/** `A (a1:p,a2:p)`, or the metas alone for a cluster given only by them. */
export function describeCluster(cluster: ClusterRef): string {
  return cluster.name === '' ? cluster.metas.join(',') : `${cluster.name} (${cluster.metas.join(',')})`;
}

/**
 * The cluster a command line names. By name alone, its metas come from the
 * first route that names it (as `check` asks it).
 *
 * @throws CtlFailure when no route names the cluster.
 */
export function resolveCluster(choice: ClusterChoice, routes: readonly StoredRoute[], where: string): ClusterRef {
  if (choice.metas !== undefined) return { name: choice.name ?? '', metas: choice.metas };
  const name = choice.name as string;
  for (const r of routes) if (r.state.kind === 'route' && r.state.cluster === name) return { name, metas: r.state.metas };
  throw new CtlFailure(`No route in ${where} names cluster ${JSON.stringify(name)}, so its MetaServers are not known: give them with --meta host:port,...`);
}

/** Does one step: one update-app-env call to the cluster's leader. */
export async function applyFenceStep(asker: ClusterAsker, step: FenceStep): Promise<FenceResult> {
  const answer =
    step.action === 'fence'
      ? await asker.updateAppEnv(step.cluster, { appName: step.table, op: APP_ENV_OP_SET, keys: [DENY_CLIENT_ENV], values: [step.mode] })
      : await asker.updateAppEnv(step.cluster, { appName: step.table, op: APP_ENV_OP_DEL, keys: [DENY_CLIENT_ENV] });
  if (!answer.ok) return { step, status: 'failed', reason: answer.reason };
  const { err, hintMessage } = answer.value;
  if (err !== 'ERR_OK') {
    const what = err === 'ERR_APP_NOT_EXIST' ? `${err}: the cluster has no table ${JSON.stringify(step.table)}` : err;
    const hint = hintMessage.replace(/\s+/g, ' ').trim();
    return { step, status: 'failed', reason: `${answer.meta} answered ${what}${hint === '' ? '' : ` (${hint})`}` };
  }
  // A meta's hint may span lines ("deleted keys:\n    k"): one line per step here.
  return { step, status: 'done', meta: answer.meta, hint: hintMessage.replace(/\s+/g, ' ').trim() };
}

/** Runs `work` over `items`, at most `limit` at once, results in item order. */
export async function mapLimited<T, R>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await work(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** One line saying what a step did (or would do, with `planned`). */
export function describeFenceResult(result: FenceResult): string {
  const { step } = result;
  const where = `${step.table} on ${describeCluster(step.cluster)}`;
  if (result.status === 'done') {
    const hint = result.hint === '' ? '' : ` (${result.hint})`;
    return step.action === 'fence'
      ? `fenced   ${where}: ${DENY_CLIENT_ENV} = ${step.mode}${hint}`
      : `lifted   ${where}: ${DENY_CLIENT_ENV} deleted${hint}`;
  }
  const verb = step.action === 'fence' ? 'NOT fenced' : 'NOT lifted';
  return `${verb} ${where}: ${result.reason}`;
}

export function describePlannedStep(step: FenceStep): string {
  const where = `${step.table} on ${describeCluster(step.cluster)}`;
  return step.action === 'fence' ? `would fence ${where}: ${DENY_CLIENT_ENV} = ${step.mode}` : `would lift  ${where}: delete ${DENY_CLIENT_ENV}`;
}

/**
 * The commands that finish the steps that were not done: one per action and
 * cluster, naming the tables, the cluster and its metas.
 */
export function finishingCommands(invokedAs: string, undone: readonly FenceStep[]): string[] {
  const groups = new Map<string, { step: FenceStep; tables: string[] }>();
  for (const step of undone) {
    const mode = step.action === 'fence' ? step.mode : '';
    const key = `${step.action}\0${mode}\0${step.cluster.name}\0${step.cluster.metas.join(',')}`;
    const group = groups.get(key);
    if (group) group.tables.push(step.table);
    else groups.set(key, { step, tables: [step.table] });
  }
  return [...groups.values()].map(({ step, tables }) => {
    const words = [invokedAs, 'fence', ...tables.map(shellWord)];
    if (step.cluster.name !== '') words.push('--cluster', shellWord(step.cluster.name));
    words.push('--meta', step.cluster.metas.join(','));
    if (step.action === 'lift') words.push('--lift');
    else if (step.mode !== 'reconfig*all') words.push('--mode', shellWord(step.mode));
    return words.join(' ');
  });
}
