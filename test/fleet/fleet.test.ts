/** The pure side of the fleet (node layout, advertised address, rows) and askInstance against local HTTP servers. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { TestScheduler } from 'rxjs/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { workerConfig } from '../../src/cliWorkers.js';
import { parseConfig } from '../../src/config/load.js';
import { askInstance, type FleetInstance } from '../../src/ctl/fleet.js';
import { fleetRow, formatFleet, formatUptime } from '../../src/ctl/fleetCommand.js';
import { sharedRead } from '../../src/io/zkChildren.js';
import { createStatusPage } from '../../src/io/status/statusPage.js';
import { adminUrl, advertisedAddress, fleetStatus, instanceName, instanceRecord$, parseFleet, parseInstanceNode } from '../../src/streams/fleet.js';
import { captureLogger } from '../metrics/logCapture.js';
import { ctl } from '../ctl/support.js';
import { scratch } from '../ctl/support.js';

const servers: http.Server[] = [];
afterAll(async () => {
  for (const server of servers) {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

async function serve(handler: http.RequestListener): Promise<string> {
  const server = http.createServer(handler);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const instance = (name: string, admin: string | null): FleetInstance => ({ name, listen: name, admin, version: '1.0.0', pid: 1, startedAt: '2024-01-01T00:00:00.000Z', routesRoot: '/r', ready: true });

describe('the advertised address', () => {
  it('replaces a wildcard bound host by the host name and keeps a concrete one', () => {
    expect(advertisedAddress({ host: '0.0.0.0', port: 34601 }, undefined, 'proxy-1')).toEqual({ host: 'proxy-1', port: 34601 });
    expect(advertisedAddress({ host: '::', port: 34601 }, undefined, 'proxy-1')).toEqual({ host: 'proxy-1', port: 34601 });
    expect(advertisedAddress({ host: '10.0.0.5', port: 34601 }, undefined, 'proxy-1')).toEqual({ host: '10.0.0.5', port: 34601 });
  });

  it('takes server.advertise, its port 0 being the bound port', () => {
    expect(advertisedAddress({ host: '0.0.0.0', port: 40001 }, { host: 'lb.example.com', port: 0 }, 'proxy-1')).toEqual({ host: 'lb.example.com', port: 40001 });
    expect(advertisedAddress({ host: '0.0.0.0', port: 40001 }, { host: 'lb.example.com', port: 34601 }, 'proxy-1')).toEqual({ host: 'lb.example.com', port: 34601 });
  });

  it('names the node host:port, IPv6 in brackets, and the admin URL likewise', () => {
    expect(instanceName({ host: 'proxy-1', port: 34601 })).toBe('proxy-1:34601');
    expect(instanceName({ host: '::1', port: 34601 })).toBe('[::1]:34601');
    expect(adminUrl({ host: '::1', port: 9091 })).toBe('http://[::1]:9091');
  });

  it('moves a fixed advertised admin port with each worker\'s admin port', () => {
    const config = parseConfig('zookeeper: { address: [a:1] }\nadmin: { listen: ":9091", advertise: "mp.example.com:9091" }\n', '/x.yaml');
    expect(workerConfig(config, 1).admin).toEqual({ listen: { host: '0.0.0.0', port: 9091 }, advertise: { host: 'mp.example.com', port: 9091 } });
    expect(workerConfig(config, 3).admin).toEqual({ listen: { host: '0.0.0.0', port: 9093 }, advertise: { host: 'mp.example.com', port: 9093 } });
    const bound = parseConfig('zookeeper: { address: [a:1] }\nadmin: { listen: ":9091", advertise: "mp.example.com:0" }\n', '/x.yaml');
    expect(workerConfig(bound, 3).admin.advertise).toEqual({ host: 'mp.example.com', port: 0 });
  });

  it('reaches the config: advertise keys parse into what advertisedAddress takes', () => {
    const config = parseConfig('zookeeper: { address: [a:1] }\nserver: { advertise: "mp.example.com:0" }\n', '/x.yaml');
    expect(advertisedAddress({ host: '0.0.0.0', port: 5555 }, config.server.advertise, 'h')).toEqual({ host: 'mp.example.com', port: 5555 });
  });
});

describe('instance nodes', () => {
  const record = { listen: 'h:1', admin: 'http://h:2', version: '1.2.3', pid: 42, startedAt: '2024-05-01T10:00:00.000Z', routesRoot: '/pegasus-cluster' };

  it('writes the record and emits again only when readiness changes', () => {
    new TestScheduler((actual, expected) => expect(actual).toEqual(expected)).run(({ cold, expectObservable }) => {
      const ready = cold('a-b-c-d', { a: false, b: false, c: true, d: true });
      expectObservable(instanceRecord$(record, ready)).toBe('a---c--', {
        a: JSON.stringify({ ...record, ready: false }),
        c: JSON.stringify({ ...record, ready: true }),
      });
    });
  });

  it('reads a node back; a node that is not a record keeps its name and says why', () => {
    const data = Buffer.from(JSON.stringify({ ...record, ready: true }));
    expect(parseInstanceNode({ name: 'h:1', data })).toEqual({ name: 'h:1', ...record, ready: true });
    expect(parseInstanceNode({ name: 'h:9', data: Buffer.from('{oops') })).toMatchObject({ name: 'h:9', listen: 'h:9', admin: null, ready: null, invalid: 'the node does not hold JSON' });
    expect(parseInstanceNode({ name: 'h:9', data: Buffer.from('[1]') }).invalid).toBe('the node does not hold a JSON object');
    // Only an http(s) URL is ever asked.
    expect(parseInstanceNode({ name: 'h:1', data: Buffer.from(JSON.stringify({ ...record, admin: 'file:///etc/passwd' })) }).admin).toBeNull();
  });

  it('lists the fleet by name with this instance marked, without routesRoot', () => {
    const fleet = parseFleet([
      { name: 'b:1', data: Buffer.from(JSON.stringify({ ...record, listen: 'b:1', ready: true })) },
      { name: 'a:1', data: Buffer.from(JSON.stringify({ ...record, listen: 'a:1', ready: false })) },
    ]);
    const status = fleetStatus('/meta-proxy/instances', 'b:1', fleet);
    expect(status.path).toBe('/meta-proxy/instances');
    expect(status.self).toBe('b:1');
    expect(status.instances.map((i) => [i.name, i.self, i.ready])).toEqual([['a:1', false, false], ['b:1', true, true]]);
    expect(status.instances[0]).not.toHaveProperty('routesRoot');
  });
});

describe('sharedRead', () => {
  it('shares a read under way, answers from it while young, and keeps no failure', async () => {
    let now = 0;
    let reads = 0;
    let fail = false;
    const read = sharedRead(async () => {
      reads++;
      if (fail) throw new Error('down');
      return reads;
    }, 1000, () => now);
    expect(await Promise.all([read(), read()])).toEqual([1, 1]);
    now = 999;
    expect(await read()).toBe(1);
    now = 1000;
    fail = true;
    await expect(read()).rejects.toThrow('down');
    fail = false;
    expect(await read()).toBe(3);
    expect(reads).toBe(3);
  });
});

describe('/status.json without ZooKeeper', () => {
  it('says fleet: null', async () => {
    const { logger } = captureLogger();
    const page = createStatusPage({ board: { view: () => ({}) as never }, connections: () => 0, readiness: () => ({ ready: true, reasons: [] }), logger });
    let body = '';
    const response = { setHeader: () => undefined, writeHead: () => response, end: (text: string) => (body = text), headersSent: false } as unknown as http.ServerResponse;
    await page.routes['/status.json']!(response, new URLSearchParams());
    page.close();
    expect(JSON.parse(body)).toMatchObject({ fleet: null });
  });
});

describe('askInstance', () => {
  it('asks every path in parallel and parses each answer', async () => {
    const admin = await serve((request, response) => {
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify({ path: request.url }));
    });
    const answer = await askInstance(instance('a:1', admin), ['/status.json?size=1', '/tables'], 1000);
    expect(answer).toEqual({ reachable: true, answers: { '/status.json?size=1': { path: '/status.json?size=1' }, '/tables': { path: '/tables' } } });
  });

  it('says why an instance cannot be heard: refused, silent past the timeout, an HTTP error, no admin', async () => {
    const closed = await serve(() => undefined);
    const port = new URL(closed).port;
    const server = servers.pop()!;
    await new Promise((r) => server.close(r));
    expect(await askInstance(instance('a:1', `http://127.0.0.1:${port}`), ['/status.json'], 1000)).toEqual({ reachable: false, reason: 'connection refused' });

    const silent = await serve(() => undefined);
    const started = Date.now();
    expect(await askInstance(instance('a:1', silent), ['/status.json'], 300)).toEqual({ reachable: false, reason: 'no answer within 300 ms' });
    expect(Date.now() - started).toBeLessThan(1500);

    const failing = await serve((_request, response) => {
      response.statusCode = 500;
      response.end('no');
    });
    expect(await askInstance(instance('a:1', failing), ['/tables'], 1000)).toEqual({ reachable: false, reason: '/tables answered HTTP 500' });
    expect(await askInstance(instance('a:1', null), ['/tables'], 1000)).toEqual({ reachable: false, reason: 'no admin endpoint (admin.listen is off)' });
  });
});

describe('fleet rows', () => {
  const status = { version: '1.0.0', uptimeSeconds: 7530, ready: { ready: false, reasons: ['x'] }, zookeeper: { state: 'disconnected' }, routes: { total: 12 } };

  it('formats uptime compactly', () => {
    expect([41, 429, 7530, 3 * 86400 + 4 * 3600 + 5].map(formatUptime)).toEqual(['41s', '7m09s', '2h05m', '3d4h']);
    expect(formatUptime(null)).toBe('-');
  });

  it('shows followed/total client hosts when the instance reports them, and "not cached" for a table it has not seen', () => {
    const tables = [{ table: 'temp', kind: 'route', cluster: 'c2', version: 4, clients: { hosts: 5, followed: 3, since: '2024-01-01T00:00:00.000Z' } }];
    const withClients = fleetRow(instance('a:1', 'http://a:2'), { reachable: true, answers: { '/status.json?size=1': status, '/tables': tables } }, 'temp');
    expect(withClients.table).toEqual({ kind: 'route', cluster: 'c2', version: 4, clients: { hosts: 5, followed: 3, since: '2024-01-01T00:00:00.000Z' } });
    const without = fleetRow(instance('b:1', 'http://b:2'), { reachable: true, answers: { '/status.json?size=1': status, '/tables': [] } }, 'temp');
    const down = fleetRow(instance('c:1', 'http://c:2'), { reachable: false, reason: 'connection refused' }, 'temp');
    expect(formatFleet([withClients, without, down], 'temp').split('\n')).toEqual([
      'INSTANCE  VERSION  UPTIME  READY  ZOOKEEPER     ROUTES  CLUSTER     ROUTE VERSION  FOLLOWED',
      'a:1       1.0.0    2h05m   no     disconnected  12      c2          4              3/5',
      'b:1       1.0.0    2h05m   no     disconnected  12      not cached  -              -',
      'c:1       unreachable (connection refused)',
      '',
    ]);
  });

  it('runs as meta-proxy-ctl fleet with the fleet read elsewhere, exit 0 with an unreachable instance', async () => {
    const admin = await serve((request, response) => {
      response.end(JSON.stringify(request.url === '/tables' ? [] : status));
    });
    const dir = scratch();
    try {
      const config = dir.config({ zookeeper: { address: ['127.0.0.1:1'] } });
      const result = await ctl(['--config', config, 'fleet', '--json', '--timeout-ms', '500'], {
        readFleet: async () => [instance('a:1', admin), instance('b:1', null)],
      });
      expect(result.code).toBe(0);
      const doc = JSON.parse(result.stdout) as { path: string; instances: unknown[] };
      expect(doc.path).toBe('/meta-proxy/instances');
      expect(doc.instances).toEqual([
        expect.objectContaining({ name: 'a:1', reachable: true, status: { version: '1.0.0', uptimeSeconds: 7530, ready: false, zookeeper: 'disconnected', routes: 12 } }),
        expect.objectContaining({ name: 'b:1', reachable: false, reason: 'no admin endpoint (admin.listen is off)' }),
      ]);
    } finally {
      dir.dispose();
    }
  });

  it('rejects a bad --timeout-ms as a usage error', async () => {
    const result = await ctl(['fleet', '--timeout-ms', '2s']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--timeout-ms needs a positive whole number of milliseconds, not "2s".');
    expect(result.stderr).toContain('Usage: meta-proxy-ctl fleet');
  });
});
