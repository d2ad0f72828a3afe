/**
 * Asking Pegasus clusters what they hold (and fencing their tables), the way the proxy asks them: through
 * the upstream pool and `askCluster`, so a follower's forward is followed and
 * a dead meta is skipped.
 */
import { asyncScheduler, firstValueFrom } from 'rxjs';
import type { Config } from '../config/types.js';
import { ProtocolError } from '../errors.js';
import { createUpstreamPool } from '../io/upstream.js';
import { RPC_LIST_APPS, RPC_QUERY_CONFIG } from '../protocol/errorCodes.js';
import { APP_STATUS_ANY, encodeListAppsArgs, readListApps, type AppInfo } from '../protocol/listApps.js';
import { encodeQueryConfigArgs } from '../protocol/request.js';
import { encodeUpdateAppEnvArgs, readUpdateAppEnv, RPC_UPDATE_APP_ENV, type UpdateAppEnvRequest, type UpdateAppEnvResponse } from '../protocol/updateAppEnv.js';
import type { LeaderFollowingCallDeps } from '../model/leaderFollowingCall.js';
import { askCluster } from '../streams/askCluster.js';
import { createLeaderBook } from '../model/leaderBook.js';
import { createSweep } from '../model/sweep.js';
import type { ClusterOutcome, MetaRequest } from '../model/upstream.js';

export interface ClusterRef {
  name: string;
  metas: string[];
}

/** A cluster's answer, or why there is none (unreachable, a malformed reply, an error in the body). */
export type Asked<T> = { ok: true; value: T; meta: string } | { ok: false; reason: string };

export interface ClusterAsker {
  /** Every table the cluster's leader lists (list-apps with status 0 = any). */
  listApps(cluster: ClusterRef): Promise<Asked<AppInfo[]>>;
  /** The body error the leader answers to a query-config of `table` (`ERR_OK`, `ERR_OBJECT_NOT_FOUND`, ...). */
  queryConfig(cluster: ClusterRef, table: string): Promise<Asked<string>>;
  /**
   * Sets, deletes or clears table envs through the leader. `ok` means the
   * leader answered; its `err` (ERR_OK, ERR_APP_NOT_EXIST, ...) is in the value.
   */
  updateAppEnv(cluster: ClusterRef, request: UpdateAppEnvRequest): Promise<Asked<UpdateAppEnvResponse>>;
  close(): void;
}

/** The part of the configuration used: the upstream timings. */
export type AskerConfig = Pick<Config, 'upstream'>;

export function createClusterAsker(config: AskerConfig): ClusterAsker {
  const upstream = config.upstream;
  const pool = createUpstreamPool({ connectTimeoutMs: upstream.connectTimeoutMs, maxPendingCalls: upstream.maxPendingCalls });
  const sweep = createSweep(asyncScheduler, 5);
  const deps: LeaderFollowingCallDeps = {
    dispatcher: pool,
    leaders: createLeaderBook(),
    sweep,
    backupDelayMs: upstream.backupRequestDelayMs,
    retryDelayMs: upstream.retryDelayMs,
    scheduler: asyncScheduler,
  };
  const deadlineMs = upstream.defaultTimeoutMs;

  const ask = (cluster: ClusterRef, request: Omit<MetaRequest, 'timeoutMs'>): Promise<ClusterOutcome> =>
    firstValueFrom(askCluster(deps, cluster, request, deadlineMs));

  const failed = (cluster: ClusterRef, outcome: Extract<ClusterOutcome, { kind: 'failed' }>): Asked<never> => ({
    ok: false,
    reason: `cluster ${cluster.name} (${cluster.metas.join(',')}) did not answer: ${outcome.error}, ${outcome.reason}`,
  });

  return {
    async listApps(cluster) {
      const outcome = await ask(cluster, { name: RPC_LIST_APPS, args: encodeListAppsArgs(APP_STATUS_ANY) });
      if (outcome.kind === 'failed') return failed(cluster, outcome);
      const { meta, reply, frame } = outcome.answer;
      if (reply.headerError !== 'ERR_OK') return { ok: false, reason: `cluster ${cluster.name}: ${meta} answered list-apps with ${reply.headerError}` };
      try {
        const listed = readListApps(frame, reply);
        if (listed.error !== 'ERR_OK') return { ok: false, reason: `cluster ${cluster.name}: ${meta} answered list-apps with ${listed.error}` };
        return { ok: true, value: listed.apps, meta };
      } catch (err) {
        if (!(err instanceof ProtocolError)) throw err;
        return { ok: false, reason: `cluster ${cluster.name}: ${meta} sent an unreadable list-apps reply (${err.message})` };
      }
    },
    async queryConfig(cluster, table) {
      // Partition 0 only: the answer's error is what matters, not the configuration.
      const outcome = await ask(cluster, { name: RPC_QUERY_CONFIG, args: encodeQueryConfigArgs(table, [0]) });
      if (outcome.kind === 'failed') return failed(cluster, outcome);
      const { meta, reply } = outcome.answer;
      if (reply.headerError !== 'ERR_OK') return { ok: false, reason: `cluster ${cluster.name}: ${meta} answered query-config with ${reply.headerError}` };
      return { ok: true, value: reply.bodyError ?? 'ERR_UNKNOWN', meta };
    },
    async updateAppEnv(cluster, request) {
      const outcome = await ask(cluster, { name: RPC_UPDATE_APP_ENV, args: encodeUpdateAppEnvArgs(request) });
      if (outcome.kind === 'failed') return failed(cluster, outcome);
      const { meta, reply, frame } = outcome.answer;
      if (reply.headerError !== 'ERR_OK') return { ok: false, reason: `cluster ${cluster.name}: ${meta} answered update-app-env with ${reply.headerError}` };
      try {
        return { ok: true, value: readUpdateAppEnv(frame, reply), meta };
      } catch (err) {
        if (!(err instanceof ProtocolError)) throw err;
        return { ok: false, reason: `cluster ${cluster.name}: ${meta} sent an unreadable update-app-env reply (${err.message})` };
      }
    },
    close() {
      sweep.close();
      pool.close();
    },
  };
}
