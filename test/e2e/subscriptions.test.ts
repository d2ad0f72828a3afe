/**
 * The shape of the routing core, held by a count: under steady load on cached
 * routes, answering a request subscribes to nothing and arms no timer. The
 * pipelines are built per connection and per table; a request is a value
 * flowing through them. Not timed: it counts calls.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Observable, asyncScheduler } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLoad } from '../../bench/loadgen.js';
import { parseConfig } from '../../src/config/load.js';
import { run, type RunningProxy } from '../../src/main.js';
import { startSimCluster, type SimCluster } from '../../sim/cluster.js';
import { captureLogger } from '../metrics/logCapture.js';

const TABLES = 50;

let sim: SimCluster;
let proxy: RunningProxy;

beforeAll(async () => {
  const tables = Object.fromEntries(Array.from({ length: TABLES }, (_, i) => [`t${i}`, { appId: i + 1, partitionCount: 16 }]));
  sim = await startSimCluster({ name: 'A', metas: 3, tables });
  const dir = mkdtempSync(join(tmpdir(), 'meta-proxy-subscriptions-'));
  const routes = join(dir, 'routes.yaml');
  writeFileSync(routes, Object.keys(tables).map((t) => `${t}: { cluster_name: A, meta_addrs: "${sim.metas.join(',')}" }`).join('\n'));
  const config = parseConfig(
    `registry: { file: ${routes} }\nmetric: { type: prometheus }\nserver: { listen: 127.0.0.1:0 }\nadmin: { listen: '' }\n`,
    join(dir, 'meta-proxy.yaml'),
  );
  proxy = await run(config, captureLogger().logger);
});

afterAll(async () => {
  await proxy?.dispose();
  await sim?.close();
});

describe('the cached-route path under steady load', () => {
  it('subscribes to fewer than 0.1 Observables and arms fewer than 0.1 timers per request', async () => {
    const load = (durationMs: number) =>
      startLoad({
        host: '127.0.0.1',
        port: proxy.address.port,
        connections: 8,
        depth: 16,
        durationMs,
        warmupMs: 0,
        tablePrefix: 't',
        tableCount: TABLES,
        indexSpace: 16,
        random: true,
        v1Every: 2,
      }).done;
    // Warm: every table's pipeline and every upstream connection exists.
    const warm = await load(600);
    expect(warm.codes).toEqual({ ERR_OK: warm.answered });

    const subscribe = Observable.prototype.subscribe;
    const schedule = asyncScheduler.schedule;
    let subscriptions = 0;
    let timers = 0;
    Observable.prototype.subscribe = function (this: Observable<unknown>, ...args: unknown[]) {
      subscriptions++;
      return subscribe.apply(this, args as never);
    } as typeof subscribe;
    asyncScheduler.schedule = function (this: typeof asyncScheduler, ...args: unknown[]) {
      timers++;
      return schedule.apply(this, args as never);
    } as typeof schedule;
    let result;
    try {
      result = await load(1500);
    } finally {
      Observable.prototype.subscribe = subscribe;
      asyncScheduler.schedule = schedule;
    }
    expect(result.unanswered).toBe(0);
    expect(result.seqidMismatches).toBe(0);
    expect(result.codes).toEqual({ ERR_OK: result.answered });
    expect(result.answered).toBeGreaterThan(1000);
    const perRequest = subscriptions / result.answered;
    // The load's own 8 connections are new: their pipelines subscribe a handful each.
    expect(perRequest, `${subscriptions} subscriptions for ${result.answered} requests`).toBeLessThan(0.1);
    expect(timers / result.answered, `${timers} timers for ${result.answered} requests`).toBeLessThan(0.1);
  });
});
