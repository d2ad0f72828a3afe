import { describe, expect, it } from 'vitest';
import { applyFenceStep, finishingCommands, resolveCluster, type FenceStep } from '../../src/ctl/fence.js';
import type { ClusterAsker } from '../../src/ctl/clusters.js';
import { CtlFailure } from '../../src/ctl/errors.js';
import { planFences } from '../../src/ctl/switchCommand.js';
import type { StoredRoute } from '../../src/ctl/routeStore.js';
import { APP_ENV_OP_DEL, APP_ENV_OP_SET, type UpdateAppEnvRequest } from '../../src/protocol/updateAppEnv.js';

const route = (table: string, cluster: string, metas: string[]): StoredRoute => ({ table, state: { kind: 'route', table, cluster, metas, version: 0 }, version: 3 });

/** An asker that records what it was asked and answers with `answer`. */
function recordingAsker(answer: (request: UpdateAppEnvRequest) => Awaited<ReturnType<ClusterAsker['updateAppEnv']>>) {
  const asked: Array<{ cluster: string; request: UpdateAppEnvRequest }> = [];
  const asker: ClusterAsker = {
    listApps: async () => ({ ok: false, reason: 'unused' }),
    queryConfig: async () => ({ ok: false, reason: 'unused' }),
    updateAppEnv: async (cluster, request) => {
      asked.push({ cluster: cluster.name, request });
      return answer(request);
    },
    close: () => undefined,
  };
  return { asker, asked };
}

describe('planFences', () => {
  it('lifts each table on the new cluster and fences it on the old one with the metas its route named', () => {
    const plan = planFences([route('t1', 'A', ['a:1', 'a:2']), route('t2', 'A', ['a:3'])], { from: 'A', to: { cluster: 'B', metas: ['b:1'] }, dryRun: false, fence: true, configSyncMs: 0 });
    expect(plan).toEqual([
      { lift: { action: 'lift', table: 't1', cluster: { name: 'B', metas: ['b:1'] } }, fence: { action: 'fence', table: 't1', cluster: { name: 'A', metas: ['a:1', 'a:2'] }, mode: 'reconfig*all' } },
      { lift: { action: 'lift', table: 't2', cluster: { name: 'B', metas: ['b:1'] } }, fence: { action: 'fence', table: 't2', cluster: { name: 'A', metas: ['a:3'] }, mode: 'reconfig*all' } },
    ]);
  });
});

describe('applyFenceStep', () => {
  const A = { name: 'A', metas: ['a:1'] };
  it('sets the env to the mode for a fence and deletes it for a lift', async () => {
    const { asker, asked } = recordingAsker(() => ({ ok: true, value: { err: 'ERR_OK', hintMessage: '' }, meta: 'a:1' }));
    expect(await applyFenceStep(asker, { action: 'fence', table: 't', cluster: A, mode: 'timeout*write' })).toMatchObject({ status: 'done', meta: 'a:1' });
    expect(await applyFenceStep(asker, { action: 'lift', table: 't', cluster: A })).toMatchObject({ status: 'done' });
    expect(asked).toEqual([
      { cluster: 'A', request: { appName: 't', op: APP_ENV_OP_SET, keys: ['replica.deny_client_request'], values: ['timeout*write'] } },
      { cluster: 'A', request: { appName: 't', op: APP_ENV_OP_DEL, keys: ['replica.deny_client_request'] } },
    ]);
  });

  it('names the error the leader answered, and says what ERR_APP_NOT_EXIST means', async () => {
    const { asker } = recordingAsker(() => ({ ok: true, value: { err: 'ERR_APP_NOT_EXIST', hintMessage: 'app(t) not exist' }, meta: 'a:1' }));
    const result = await applyFenceStep(asker, { action: 'fence', table: 't', cluster: A, mode: 'reconfig*all' });
    expect(result).toMatchObject({ status: 'failed' });
    expect(result.status === 'failed' && result.reason).toBe('a:1 answered ERR_APP_NOT_EXIST: the cluster has no table "t" (app(t) not exist)');
  });

  it('fails with the reason when the cluster does not answer', async () => {
    const { asker } = recordingAsker(() => ({ ok: false, reason: 'cluster A (a:1) did not answer: ERR_TIMEOUT, connect refused' }));
    expect(await applyFenceStep(asker, { action: 'lift', table: 't', cluster: A })).toEqual({
      step: { action: 'lift', table: 't', cluster: A },
      status: 'failed',
      reason: 'cluster A (a:1) did not answer: ERR_TIMEOUT, connect refused',
    });
  });
});

describe('finishingCommands', () => {
  it('groups the undone steps per action and cluster, names the metas, and quotes what the shell would expand', () => {
    const A = { name: 'A', metas: ['a:1', 'a:2'] };
    const undone: FenceStep[] = [
      { action: 'lift', table: 't1', cluster: { name: 'B', metas: ['b:1'] } },
      { action: 'fence', table: 't1', cluster: A, mode: 'reconfig*all' },
      { action: 'fence', table: 't2', cluster: A, mode: 'reconfig*all' },
      { action: 'fence', table: 't3', cluster: A, mode: 'timeout*all' },
    ];
    expect(finishingCommands("meta-proxy-ctl --config '/etc/my proxy.yaml'", undone)).toEqual([
      "meta-proxy-ctl --config '/etc/my proxy.yaml' fence t1 --cluster B --meta b:1 --lift",
      "meta-proxy-ctl --config '/etc/my proxy.yaml' fence t1 t2 --cluster A --meta a:1,a:2",
      "meta-proxy-ctl --config '/etc/my proxy.yaml' fence t3 --cluster A --meta a:1,a:2 --mode 'timeout*all'",
    ]);
  });
});

describe('resolveCluster', () => {
  it('takes the metas given, or those of the first route naming the cluster', () => {
    const routes = [route('t1', 'A', ['a:1']), route('t2', 'A', ['a:9'])];
    expect(resolveCluster({ metas: ['x:1'] }, routes, 'here')).toEqual({ name: '', metas: ['x:1'] });
    expect(resolveCluster({ name: 'A' }, routes, 'here')).toEqual({ name: 'A', metas: ['a:1'] });
    expect(() => resolveCluster({ name: 'Z' }, routes, 'here')).toThrow(CtlFailure);
    expect(() => resolveCluster({ name: 'Z' }, routes, 'here')).toThrow(/give them with --meta/);
  });
});
