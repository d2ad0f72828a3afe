/**
 * The status page of a running proxy (the real CLI, a real ZooKeeper, two
 * simulated clusters), read as JSON and looked at in a real browser: Debian's
 * `chromium` driven by puppeteer-core. The browser test keeps a screenshot
 * in test-artifacts/status-page.png.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { asyncScheduler, of } from 'rxjs';
import { startZooKeeper, type ZkServer } from '../support/zookeeper.js';
import { startSimCluster, type SimCluster } from '../../sim/cluster.js';
import { startProxyProcess, type ProxyProcess } from '../support/proxyProcess.js';
import { TestClient } from '../support/pegasusClient.js';
import { adminUrl } from '../faults/harness.js';
import type { StatusDocument } from '../../src/model/statusTypes.js';
import type { RouteInfo } from '../../src/model/route.js';
import { startAdminServer } from '../../src/io/admin.js';
import { createStatusBoard } from '../../src/streams/statusBoard.js';
import { buildStatusView } from '../../src/streams/statusView.js';
import type { HistoryPoint, TablePoint, WindowStats } from '../../src/streams/statusModel.js';
import type { RouteChangeRecord } from '../../src/streams/routeChanges.js';
import type { StatusFleet } from '../../src/model/statusTypes.js';
import { captureLogger } from '../metrics/logCapture.js';

const ROOT = '/pegasus-status';
const TABLES = { temp: { appId: 2, partitionCount: 8 }, other: { appId: 3, partitionCount: 4 } };
const SECRET = `pw-${randomBytes(12).toString('hex')}`;
const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = new URL('../../test-artifacts/', import.meta.url).pathname;

let zk: ZkServer;
let a: SimCluster;
let b: SimCluster;
let proxy: ProxyProcess;
let admin: string;
let client: TestClient;
/** A second client host: asks for temp before the switch, not after. */
let otherHost: TestClient;
let seqid = 1;

const routeTo = (cluster: SimCluster) => ({ cluster_name: cluster.name, meta_addrs: cluster.metas.join(',') });
const status = async (query = '') => (await (await fetch(`${admin}/status.json${query}`)).json()) as StatusDocument;

async function eventually<T>(read: () => Promise<T>, check: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (check(value)) return value;
    if (Date.now() > until) throw new Error(`condition not met in time; last: ${JSON.stringify(value).slice(0, 2000)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

beforeAll(async () => {
  zk = await startZooKeeper();
  // A's leader is its second meta: the proxy starts at the first and follows the forward.
  a = await startSimCluster({ name: 'A', metas: 2, leader: 1, tables: TABLES });
  b = await startSimCluster({ name: 'B', metas: 2, leader: 0, tables: TABLES });
  await zk.set(`${ROOT}/temp`, routeTo(a));
  await zk.set(`${ROOT}/other`, routeTo(a));
  proxy = await startProxyProcess({
    // Digest auth with no ACL on the nodes: the session carries the credential, and the page must not.
    zookeeper: { address: [zk.connectString], root: ROOT, timeout: 2000, auth: { scheme: 'digest', credential: `status:${SECRET}` } },
    metric: { type: 'prometheus', tags: ['region=local_tst', 'service=meta_proxy'] },
    server: { listen: '127.0.0.1:0', drain_timeout_ms: 1000 },
    admin: { listen: '127.0.0.1:0' },
    upstream: { backup_request_delay_ms: 3000, default_timeout_ms: 5000 },
  });
  admin = adminUrl(proxy);
  client = await TestClient.connect(proxy.port);
  otherHost = await TestClient.connect(proxy.port, '127.0.0.1', '127.0.0.2');
}, 60_000);

afterAll(async () => {
  client?.close();
  otherHost?.close();
  await proxy?.stop('SIGKILL');
  await a?.close();
  await b?.close();
  await zk?.dispose();
});

describe('status page of a running proxy', () => {
  it('reports header facts, per-table traffic and cluster outcomes on /status.json, and never the credential', async () => {
    expect((await client.query('temp', seqid++)).err).toBe('ERR_OK');
    expect((await client.query('other', seqid++)).err).toBe('ERR_OK');
    expect((await client.query('no_such_table', seqid++)).err).toBe('ERR_OBJECT_NOT_FOUND');

    // The first look starts the sampling; rates cover what happens between two samples, 2 s apart.
    expect((await status()).rates.available).toBe(false);
    const queryAndLook = async () => {
      expect((await client.query('temp', seqid++)).err).toBe('ERR_OK');
      return status();
    };
    const doc = await eventually(queryAndLook, (d) => d.rates.available && (d.tables.rows.find((row) => row.table === 'temp')?.rate ?? 0) > 0);
    expect(doc).toMatchObject({
      ready: { ready: true, reasons: [] },
      zookeeper: { state: 'connected' },
      // The second client host is connected, and has not asked yet.
      connections: 2,
      routes: { total: 3, stale: 0, byKind: { route: 2, missing: 1 } },
    });
    const temp = doc.tables.rows.find((row) => row.table === 'temp')!;
    expect(temp).toMatchObject({ kind: 'route', cluster: 'A', metas: a.metas, leader: a.metas[1], stale: false, errors: {} });
    expect(temp.p99Ms).toBeGreaterThan(0);
    expect(temp.clients).toEqual({ hosts: 1, followed: null, since: null });
    expect(doc.history.step).toBe(10);
    // The proxy registers itself: the fleet is this one instance.
    expect(doc.fleet).toMatchObject({ path: '/meta-proxy/instances', instances: [expect.objectContaining({ self: true, ready: true })] });
    expect(doc.tables.rows.find((row) => row.table === 'no_such_table')).toMatchObject({ kind: 'missing', cluster: null });
    const clusterA = doc.clusters.find((cluster) => cluster.name === 'A')!;
    expect(clusterA.tables).toBe(2);
    expect(clusterA.metas.map((meta) => meta.leader)).toEqual([false, true]);
    // The window starts at the first look: by then the proxy had followed A's first meta's
    // forward, and since asks only the leader.
    expect(clusterA.metas[0]!.outcomes).toEqual({});
    expect(clusterA.metas[1]!.outcomes!.ERR_OK).toBeGreaterThanOrEqual(1);

    const filtered = await status('?filter=OTH&size=10');
    expect(filtered.tables.rows.map((row) => row.table)).toEqual(['other']);

    for (const path of ['/', '/status.json', '/status.js', '/status.css']) {
      const response = await fetch(`${admin}${path}`);
      expect(response.status, path).toBe(200);
      expect((await response.text()).includes(SECRET), `the credential appears in ${path}`).toBe(false);
    }
  });

  describe('in a browser', () => {
    let browser: Browser;
    let profile: string;
    beforeAll(async () => {
      if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run installs it)`);
      profile = mkdtempSync(join(tmpdir(), 'meta-proxy-chromium-'));
      browser = await puppeteer.launch({
        executablePath: CHROMIUM,
        headless: true,
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
          `--user-data-dir=${profile}`,
        ],
      });
    }, 30_000);
    afterAll(async () => {
      await browser?.close();
      if (profile !== undefined) rmSync(profile, { recursive: true, force: true });
    });

    const text = (page: Page, selector: string) => page.$eval(selector, (node) => node.textContent ?? '').catch(() => '');

    it('shows the routed table on its cluster, then the new cluster after a switch, without a reload', async () => {
      const page = await browser.newPage();
      await page.setViewport({ width: 1280, height: 900 });
      const problems: string[] = [];
      page.on('pageerror', (error) => problems.push(`page error: ${(error as Error).message}`));
      page.on('console', (message) => {
        if (message.type() === 'error' || message.type() === 'warn') problems.push(`console ${message.type()}: ${message.text()}`);
      });
      page.on('requestfailed', (request) => problems.push(`request failed: ${request.url()}`));
      const elsewhere: string[] = [];
      page.on('request', (request) => {
        if (!request.url().startsWith(admin) && !request.url().startsWith('data:')) elsewhere.push(request.url());
      });
      let navigations = 0;
      page.on('framenavigated', (frame) => {
        if (frame === page.mainFrame()) navigations += 1;
      });

      const response = await page.goto(`${admin}/`, { waitUntil: 'load' });
      expect(response?.status()).toBe(200);
      const cluster = 'tr[data-table="temp"] td[data-col="cluster"]';
      await page.waitForFunction((selector) => document.querySelector(selector)?.textContent === 'A', { timeout: 10_000 }, cluster);
      expect(await text(page, '#zookeeper')).toBe('connected');
      expect(await text(page, '#ready')).toBe('ready');
      expect(await text(page, 'tr[data-table="temp"] .meta.leader')).toBe(a.metas[1]);
      // The filter box narrows the rows in place.
      await page.type('#filter', 'oth');
      await page.waitForFunction(() => [...document.querySelectorAll('#table-rows tr')].map((row) => (row as HTMLElement).dataset.table).join() === 'other', { timeout: 5_000 });
      await page.$eval('#filter', (input) => {
        (input as HTMLInputElement).value = '';
        input.dispatchEvent(new Event('input'));
      });
      await page.waitForSelector(cluster, { timeout: 5_000 });
      await page.evaluate(() => ((window as unknown as { sameDocument: string }).sameDocument = 'still here'));
      const before = navigations;

      const clients = 'tr[data-table="temp"] td[data-col="clients"]';
      expect((await otherHost.query('temp', seqid++)).err).toBe('ERR_OK');
      await page.waitForFunction((selector) => document.querySelector(selector)?.textContent === '2 hosts', { timeout: 5_000 }, clients);
      expect(await text(page, 'tr[data-table="other"] td[data-col="clients"]')).toBe('1 host');

      // A query held in flight at A's slow leader is re-issued to B when the route switches.
      a.setBehavior(1, { mode: 'slow', delayMs: 4000 });
      const held = client.query('temp', seqid++, { timeoutMs: 8000 });
      await new Promise((resolve) => setTimeout(resolve, 300));
      const switchedAt = Date.now();
      await zk.set(`${ROOT}/temp`, routeTo(b));
      await page.waitForFunction((selector) => document.querySelector(selector)?.textContent === 'B', { timeout: 10_000 }, cluster);
      const shownAfterMs = Date.now() - switchedAt;
      // The page polls every second; the bound leaves room for a loaded machine.
      expect(shownAfterMs).toBeLessThan(2_500);
      expect((await held).err).toBe('ERR_OK');
      a.setBehavior(1, { mode: 'normal' });
      for (let i = 0; i < 5; i += 1) await client.query('temp', seqid++);

      const change = '#change-rows tr[data-table="temp"]';
      await page.waitForFunction(
        (selector) => {
          const row = document.querySelector(selector);
          return row?.querySelector('[data-col="from"]')?.textContent === 'A' && row.querySelector('[data-col="to"]')?.textContent === 'B' && row.lastElementChild?.textContent === '1';
        },
        { timeout: 10_000 },
        change,
      );
      expect(await text(page, 'tr[data-table="temp"] .meta.leader')).toBe(b.metas[0]);
      // 127.0.0.1 asked again and was answered by B; 127.0.0.2 has not asked since.
      await page.waitForFunction((selector) => document.querySelector(selector)?.textContent === 'followed 1 of 2 hosts', { timeout: 5_000 }, clients);
      // The proxy registered itself in ZooKeeper: the panel lists it, alone.
      await page.waitForFunction(() => document.querySelector('#fleet-note')?.textContent === '1 instance registered under /meta-proxy/instances', { timeout: 5_000 });
      expect(await page.$$eval('#fleet-rows tr', (rows) => rows.length)).toBe(1);
      // Three charts for the whole proxy and two a row, drawn before any point exists.
      expect(await page.$$eval('#traffic svg.spark', (nodes) => nodes.length)).toBe(3);
      expect(await page.$$eval('tr[data-table="temp"] svg.spark', (nodes) => nodes.length)).toBe(2);
      expect(await page.evaluate(() => (window as unknown as { sameDocument?: string }).sameDocument)).toBe('still here');
      expect(navigations).toBe(before);

      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, 'status-page.png'), fullPage: true });
      expect(problems).toEqual([]);
      expect(elsewhere).toEqual([]);
      console.log(`status page showed the switch ${shownAfterMs} ms after the ZooKeeper write; screenshot ${join(ARTIFACTS, 'status-page.png')}`);
      await page.close();
    });

    it('draws the charts with their change marks, the followed column and the fleet panel from the view', async () => {
      // The view as the board builds it (buildStatusView), over ten minutes of history ending now.
      const STEP = 10_000;
      const TABLE_NAMES = ['orders', 'sessions', 'users'];
      const infos = (now: number): RouteInfo[] =>
        TABLE_NAMES.map((table, i) => ({
          table,
          state: { kind: 'route', table, cluster: table === 'orders' ? 'B' : 'A', metas: [`10.0.${i}.1:34601`, `10.0.${i}.2:34601`], version: table === 'orders' ? 4 : 1 },
          stale: false,
          changedAt: table === 'orders' ? now - 240_000 : now - 3_600_000,
        }));
      const wave = (i: number, table: number) => 40 + 25 * Math.sin(i / 6 + table) + 10 * table;
      const points = (now: number): HistoryPoint[] =>
        Array.from({ length: 60 }, (_, i) => {
          const at = now - (59 - i) * STEP;
          const tables = new Map<string, TablePoint>(
            TABLE_NAMES.map((table, t) => {
              // orders fails for a minute around its switch, 4 minutes ago.
              const failing = table === 'orders' && at > now - 270_000 && at < now - 210_000;
              return [table, { queryRate: wave(i, t), errorRate: failing ? 6 : 0, p99Ms: failing ? 900 : 4 + t + (i % 7) }];
            }),
          );
          let queryRate = 0;
          let errorRate = 0;
          for (const point of tables.values()) {
            queryRate += point.queryRate;
            errorRate += point.errorRate;
          }
          return { at, queryRate, errorRate, p99Ms: errorRate > 0 ? 900 : 8 + (i % 5), tables };
        });
      const changes = (now: number): RouteChangeRecord[] => [
        { at: now - 240_000, table: 'orders', from: { kind: 'route', cluster: 'A', metas: ['10.0.0.1:34601'] }, to: { kind: 'route', cluster: 'B', metas: ['10.0.0.1:34601'] }, reroutes: 3 },
      ];
      const stats = (now: number): WindowStats => ({
        seconds: 60,
        at: now,
        tables: new Map(TABLE_NAMES.map((table, t) => [table, { rate: wave(59, t), errors: {}, p99Ms: 5 + t, p99Above: false }])),
        upstream: new Map(),
        queryRate: 150,
        errorRate: 0,
      });
      const board = {
        view: (query: Parameters<typeof buildStatusView>[0]['query']) => {
          const now = Date.now();
          return buildStatusView({
            infos: infos(now),
            query,
            stats: stats(now),
            metricsOn: true,
            leader: () => undefined,
            changes: changes(now),
            clients: (info) =>
              info.table === 'orders'
                ? { hosts: 40, followed: 37, since: new Date(now - 240_000).toISOString() }
                : { hosts: info.table === 'users' ? 12 : 1, followed: null, since: null },
            history: { stepMs: STEP, points: points(now) },
          });
        },
      };
      const started = new Date(Date.now() - 86_400_000).toISOString();
      let fleet: StatusFleet = null;
      const { logger } = captureLogger();
      const server = await startAdminServer({
        host: '127.0.0.1',
        port: 0,
        registry: { tables: () => infos(Date.now()), ready$: of(true) },
        isListening: () => true,
        status: { board, connections: () => 52, fleet: async () => fleet as never },
        logger,
      });
      const page = await browser.newPage();
      try {
        await page.setViewport({ width: 1400, height: 900 });
        const problems: string[] = [];
        page.on('pageerror', (error) => problems.push((error as Error).message));
        page.on('console', (message) => {
          if (message.type() === 'error' || message.type() === 'warn') problems.push(`console ${message.type()}: ${message.text()}`);
        });
        await page.goto(`http://127.0.0.1:${server.address.port}/`);
        await page.waitForSelector('tr[data-table="orders"] td[data-col="clients"]', { timeout: 10_000 });
        expect(await text(page, 'tr[data-table="orders"] td[data-col="clients"]')).toBe('followed 37 of 40 hosts');
        expect(await text(page, 'tr[data-table="users"] td[data-col="clients"]')).toBe('12 hosts');
        expect(await text(page, 'tr[data-table="sessions"] td[data-col="clients"]')).toBe('1 host');
        expect(await text(page, '#fleet-note')).toBe('No fleet (file registry): this instance serves routes from its own file and registers nowhere.');

        // Whole proxy: a line per chart, one change mark on each. Rows: queries and errors, then p99;
        // only orders, which switched, has marks (one per chart).
        expect(await page.$$eval('#traffic svg.spark path.line', (nodes) => nodes.length)).toBe(3);
        expect(await page.$$eval('#traffic svg.spark line.change', (nodes) => nodes.length)).toBe(3);
        expect(await page.$$eval('#table-rows svg.spark', (nodes) => nodes.length)).toBe(6);
        expect(await page.$$eval('#table-rows path.line.queries', (nodes) => nodes.length)).toBe(3);
        expect(await page.$$eval('tr[data-table="orders"] path.line.errors', (nodes) => nodes.length)).toBe(1);
        expect(await page.$$eval('tr[data-table="orders"] line.change', (nodes) => nodes.length)).toBe(2);
        expect(await page.$$eval('tr[data-table="users"] line.change', (nodes) => nodes.length)).toBe(0);
        // 60 points, one line each: 1 move and 59 segments, spanning the chart's width.
        const queries = await page.$eval('#chart-queries path.line', (path) => path.getAttribute('d') ?? '');
        expect(queries.match(/[ML]/g)).toHaveLength(60);
        const xs = [...queries.matchAll(/[ML]([\d.]+),/g)].map((m) => Number(m[1]));
        expect(xs[0]).toBeLessThan(10);
        expect(xs[59]).toBeGreaterThan(290);
        // The change mark sits 4 minutes from the right edge of the 10 minutes.
        const mark = Number(await page.$eval('#chart-queries line.change', (line) => line.getAttribute('x1')));
        expect(mark).toBeCloseTo(1 + (6 / 10) * 298, 0);

        // Then the fleet shows up: each instance with its version, readiness and a link to its page.
        fleet = {
          path: '/meta-proxy/instances',
          self: 'proxy-a',
          instances: [
            { name: 'proxy-a', listen: '10.1.0.1:34601', admin: '10.1.0.1:9091', version: '0.1.0', pid: 4242, startedAt: started, ready: true, self: true },
            { name: 'proxy-b', listen: '10.1.0.2:34601', admin: 'http://10.1.0.2:9091/', version: '0.1.0', pid: 5151, startedAt: started, ready: true, self: false },
            { name: 'proxy-c', listen: '10.1.0.3:34601', admin: 'javascript:alert(1)', version: '0.0.9', pid: 6161, startedAt: started, ready: false, self: false },
          ],
        };
        await page.waitForSelector('#fleet-rows tr[data-instance="proxy-c"]', { timeout: 5_000 });
        expect(await text(page, '#fleet-note')).toBe('3 instances registered under /meta-proxy/instances');
        const links = await page.$$eval('#fleet-rows a', (anchors) => anchors.map((a) => (a as HTMLAnchorElement).href));
        expect(links).toEqual(['http://10.1.0.1:9091/', 'http://10.1.0.2:9091/']);
        expect(await text(page, '#fleet-rows tr[data-instance="proxy-a"] td')).toBe('proxy-a this one');
        expect(await page.$eval('#fleet-rows tr[data-instance="proxy-c"]', (row) => row.textContent)).toContain('not ready');
        expect(await page.$$eval('#fleet-rows .badge.warn', (nodes) => nodes.map((node) => node.textContent))).toEqual(['0.0.9']);
        mkdirSync(ARTIFACTS, { recursive: true });
        await page.screenshot({ path: join(ARTIFACTS, 'status-page-fleet.png'), fullPage: true });
        expect(problems).toEqual([]);
      } finally {
        await page.close();
        await server.close();
      }
    });

    it('keeps 10 000 cached routes usable: a page at a time, paging, the filter box; says why rates are missing', async () => {
      const infos: RouteInfo[] = Array.from({ length: 10_000 }, (_, i) => {
        const table = `table_${String(i).padStart(5, '0')}`;
        return { table, state: { kind: 'route', table, cluster: i % 2 ? 'B' : 'A', metas: [`10.0.${i % 2}.1:34601`], version: 1 }, stale: false, changedAt: 0 };
      });
      const { logger } = captureLogger();
      // metric.type none: nothing to sample, and the page says so.
      const board = createStatusBoard({ routes: () => infos, leader: () => undefined, scheduler: asyncScheduler, logger });
      const server = await startAdminServer({
        host: '127.0.0.1',
        port: 0,
        registry: { tables: () => infos, ready$: of(true) },
        isListening: () => true,
        status: { board, connections: () => 0 },
        logger,
      });
      const page = await browser.newPage();
      try {
        const problems: string[] = [];
        page.on('pageerror', (error) => problems.push((error as Error).message));
        const pageInfo = (expected: string) =>
          page.waitForFunction((want) => document.getElementById('page-info')?.textContent === want, { timeout: 10_000 }, expected);
        const firstRow = () => page.$eval('#table-rows tr', (row) => (row as HTMLElement).dataset.table);

        const started = Date.now();
        await page.goto(`http://127.0.0.1:${server.address.port}/`);
        await pageInfo('1–100 of 10,000 · page 1 / 100');
        expect(Date.now() - started).toBeLessThan(5_000);
        expect(await page.$$eval('#table-rows tr', (rows) => rows.length)).toBe(100);
        expect(await firstRow()).toBe('table_00000');
        expect(await text(page, '#rates-note')).toContain('metric.type: none');
        expect(await text(page, '#zookeeper')).toBe('not used (routes file)');

        await page.click('#next');
        await pageInfo('101–200 of 10,000 · page 2 / 100');
        expect(await firstRow()).toBe('table_00100');

        await page.type('#filter', 'table_0999');
        await pageInfo('1–10 of 10 · page 1 / 1');
        expect(await firstRow()).toBe('table_09990');
        expect(problems).toEqual([]);
      } finally {
        await page.close();
        await server.close();
        board.dispose();
      }
    });
  });
});
