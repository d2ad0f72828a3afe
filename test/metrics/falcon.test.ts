import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/types.js';
import type { FalconItem } from '../../src/io/falcon.js';
import { createMetrics } from '../../src/io/metrics/createMetrics.js';
import type { Metrics } from '../../src/model/metricsTypes.js';
import { captureLogger } from './logCapture.js';

interface Agent {
  server: Server;
  port: number;
  pushes: Array<{ request: IncomingMessage; items: FalconItem[] }>;
  nextPush(): Promise<FalconItem[]>;
  close(): Promise<void>;
}

/** A stand-in for the Open-Falcon agent's /v1/push, on a real socket. */
async function startAgent(port = 0): Promise<Agent> {
  const pushes: Agent['pushes'] = [];
  const waiting: Array<(items: FalconItem[]) => void> = [];
  const server = createServer((request, response) => {
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => (body += chunk));
    request.on('end', () => {
      const items = JSON.parse(body) as FalconItem[];
      pushes.push({ request, items });
      response.end('success');
      waiting.shift()?.(items);
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    server,
    port: (server.address() as AddressInfo).port,
    pushes,
    nextPush: () => new Promise((resolve) => waiting.push(resolve)),
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function falconConfig(port: number, stepSeconds: number): Config['metric'] {
  return {
    type: 'falcon',
    tags: { region: 'local_tst', service: 'meta_proxy' },
    falcon: { agentUrl: `http://127.0.0.1:${port}/v1/push`, stepSeconds, endpoint: 'proxy-host-1' },
    custom: [],
  };
}

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function track(metrics: Metrics): Metrics {
  cleanups.push(() => metrics.close());
  return metrics;
}

describe('Falcon push', () => {
  it('pushes the registry values as Falcon items: endpoint, names, COUNTER/GAUGE, step, tags', async () => {
    const agent = await startAgent();
    cleanups.push(() => agent.close());
    const metrics = track(createMetrics({ config: falconConfig(agent.port, 30), logger: captureLogger().logger, processMetrics: false }));
    metrics.proxyHooks.connectionOpened!('p1');
    metrics.proxyHooks.queryReceived!('temp');
    metrics.proxyHooks.queryFinished!({ table: 'temp', cluster: 'c1', code: 'ERR_OK', latencyMs: 4, peer: 'p1' });
    metrics.proxyHooks.queryReceived!('temp');
    metrics.proxyHooks.queryReceived!('temp');
    metrics.registryHooks.zkRead!('temp');

    const before = Math.floor(Date.now() / 1000);
    expect(await metrics.falcon!.pushNow()).toBe(true);
    expect(agent.pushes).toHaveLength(1);
    const { request, items } = agent.pushes[0]!;
    expect(request.method).toBe('POST');
    expect(request.url).toBe('/v1/push');
    expect(request.headers['content-type']).toBe('application/json');

    for (const item of items) {
      expect(item.endpoint).toBe('proxy-host-1');
      expect(item.step).toBe(30);
      expect(item.timestamp).toBeGreaterThanOrEqual(before);
      expect(item.timestamp).toBeLessThan(before + 5);
      expect(item.tags).toMatch(/(^|,)region=local_tst,service=meta_proxy(,|$)/);
    }
    const byName = (metric: string, tags: string) => items.filter((item) => item.metric === metric && item.tags === tags);
    expect(byName('client_connection_count', 'region=local_tst,service=meta_proxy')).toEqual([
      expect.objectContaining({ value: 1, counterType: 'GAUGE' }),
    ]);
    // The first query's count waited for its answer, then went to `temp`.
    expect(byName('client_query_config_count', 'region=local_tst,service=meta_proxy,table=temp')).toEqual([
      expect.objectContaining({ value: 3, counterType: 'COUNTER' }),
    ]);
    expect(byName('client_query_config_count', 'region=local_tst,service=meta_proxy,table=other')).toEqual([]);
    expect(byName('zk_request_count', 'region=local_tst,service=meta_proxy,table=temp')).toEqual([
      expect.objectContaining({ value: 1, counterType: 'COUNTER' }),
    ]);
    const latencyTags = 'cluster=c1,code=ERR_OK,region=local_tst,service=meta_proxy,table=temp';
    expect(byName('query_config_latency_seconds_count', latencyTags)).toEqual([
      expect.objectContaining({ value: 1, counterType: 'COUNTER' }),
    ]);
    expect(byName('query_config_latency_seconds_sum', latencyTags)).toEqual([
      expect.objectContaining({ value: 0.004, counterType: 'COUNTER' }),
    ]);
    expect(items.some((item) => item.metric.endsWith('_bucket'))).toBe(false);
  });

  it('logs a push to a down agent and pushes again at the next step', async () => {
    // Find a free port, then leave nothing listening on it.
    const probe = await startAgent();
    const port = probe.port;
    await probe.close();
    const { logger, lines } = captureLogger();
    const metrics = track(createMetrics({ config: falconConfig(port, 3600), logger, processMetrics: false }));
    metrics.proxyHooks.connectionOpened!('p1');

    expect(await metrics.falcon!.pushNow()).toBe(false);
    const warning = lines.find((line) => line.msg === 'Falcon push failed; the next step pushes again');
    expect(warning).toMatchObject({ level: 40, agentUrl: `http://127.0.0.1:${port}/v1/push`, failures: 1 });

    const agent = await startAgent(port);
    cleanups.push(() => agent.close());
    expect(await metrics.falcon!.pushNow()).toBe(true);
    expect(agent.pushes[0]!.items.find((item) => item.metric === 'client_connection_count')?.value).toBe(1);
    expect(lines.some((line) => line.msg === 'Falcon agent accepts pushes again')).toBe(true);
  });

  it('pushes on its own every step, including process metrics', async () => {
    const agent = await startAgent();
    cleanups.push(() => agent.close());
    const pushed = agent.nextPush();
    track(createMetrics({ config: falconConfig(agent.port, 1), logger: captureLogger().logger }));
    const items = await pushed;
    expect(items.find((item) => item.metric === 'process_cpu_user_seconds_total')?.counterType).toBe('COUNTER');
    expect(items.find((item) => item.metric === 'client_connection_count')?.counterType).toBe('GAUGE');
  });

  it('counts an HTTP error from the agent as a failed push, without throwing', async () => {
    const server = createServer((_request, response) => {
      response.statusCode = 500;
      response.end('agent broken');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(
      () =>
        new Promise((resolve) => {
          server.close(resolve);
          server.closeAllConnections();
        }),
    );
    const { logger, lines } = captureLogger();
    const metrics = track(
      createMetrics({ config: falconConfig((server.address() as AddressInfo).port, 3600), logger, processMetrics: false }),
    );
    expect(await metrics.falcon!.pushNow()).toBe(false);
    expect(JSON.stringify(lines)).toContain('agent answered HTTP 500: agent broken');
  });
});
