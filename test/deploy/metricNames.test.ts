/**
 * The Grafana dashboard and the alert rules query only what a running proxy
 * exports: every metric name in their PromQL is on the proxy's /metrics, and
 * every label they match on is one that metric carries (or one Prometheus
 * adds). The dashboard's tag variables are the labels metric.tags puts on
 * every series.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { load } from 'js-yaml';
import { startSimCluster, type SimCluster } from '../../sim/cluster.js';
import { startProxyProcess, type ProxyProcess } from '../support/proxyProcess.js';
import { TestClient } from '../support/pegasusClient.js';
import { adminUrl } from '../faults/harness.js';
import { parsePromText, type Sample } from '../metrics/promText.js';

const DASHBOARD = new URL('../../deploy/grafana/meta-proxy.json', import.meta.url).pathname;
const ALERTS = new URL('../../deploy/prometheus/alerts.yml', import.meta.url).pathname;
/** Labels Prometheus itself puts on scraped series, and the metric names it makes up. */
const SCRAPE_LABELS = new Set(['job', 'instance']);
const PROMETHEUS_OWN = new Set(['up']);
/** What may appear in a query besides selectors: functions, aggregations, keywords. */
const PROMQL_WORDS = new Set([
  'sum', 'min', 'max', 'avg', 'count', 'topk', 'bottomk', 'quantile', 'stddev',
  'rate', 'irate', 'increase', 'delta', 'deriv', 'histogram_quantile', 'clamp_min', 'clamp_max', 'abs', 'absent', 'label_values',
  'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset',
]);

interface Selector {
  name: string;
  labels: string[];
  query: string;
}

/**
 * The metric selectors of a PromQL query: `name{matchers}` and bare names.
 * Whatever word is left once selectors, ranges, strings, grouping labels and
 * PromQL's own words are taken out counts as a metric name, so a query this
 * reading gets wrong fails the name check instead of passing unread.
 */
function selectors(query: string): Selector[] {
  const found: Selector[] = [];
  let rest = query.replace(/([a-zA-Z_:][\w:]*)\s*\{([^}]*)\}/g, (_whole, name: string, matchers: string) => {
    found.push({ name, labels: [...matchers.matchAll(/([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)/g)].map((m) => m[1]!), query });
    return ' ';
  });
  rest = rest.replace(/\[[^\]]*\]/g, ' ').replace(/"(?:[^"\\]|\\.)*"/g, ' ');
  // Labels named in by (...) / without (...) / on (...) / ignoring (...) and label_values(metric, label).
  rest = rest.replace(/\b(by|without|on|ignoring)\s*\(([^)]*)\)/g, ' ');
  const labelValues = /label_values\(\s*([a-zA-Z_:][\w:]*)(?:\{[^}]*\})?\s*,\s*(\w+)\s*\)/.exec(query);
  if (labelValues !== null) found.push({ name: labelValues[1]!, labels: [labelValues[2]!], query });
  rest = rest.replace(/label_values\([^)]*\)/g, ' ');
  for (const word of rest.match(/[a-zA-Z_:][\w:]*/g) ?? []) {
    if (!PROMQL_WORDS.has(word)) found.push({ name: word, labels: [], query });
  }
  return found;
}

function dashboardQueries(): string[] {
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
    panels: Array<{ type: string; targets?: Array<{ expr: string }> }>;
    templating: { list: Array<{ type: string; query: unknown }> };
  };
  const exprs = dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => target.expr));
  const variables = dashboard.templating.list.filter((v) => v.type === 'query').map((v) => String(v.query));
  return [...exprs, ...variables];
}

function alertQueries(): string[] {
  const rules = load(readFileSync(ALERTS, 'utf8')) as { groups: Array<{ rules: Array<{ expr: string }> }> };
  return rules.groups.flatMap((group) => group.rules.map((rule) => rule.expr));
}

let sim: SimCluster;
let proxy: ProxyProcess;
let samples: Sample[];
/** Metric names on /metrics (histograms with their _bucket, _sum and _count). */
const exported = new Set<string>();

beforeAll(async () => {
  sim = await startSimCluster({ name: 'A', metas: 2, leader: 1, tables: { temp: { appId: 2, partitionCount: 4 } } });
  const dir = mkdtempSync(join(tmpdir(), 'meta-proxy-names-'));
  const routes = join(dir, 'routes.yaml');
  writeFileSync(routes, `temp: { cluster_name: A, meta_addrs: "${sim.metas.join(',')}" }\n`);
  proxy = await startProxyProcess({
    registry: { file: routes },
    // The shipped configuration's tags, which the dashboard's variables are named after.
    metric: { type: 'prometheus', tags: ['region=local_tst', 'service=meta_proxy'] },
    server: { listen: '127.0.0.1:0', drain_timeout_ms: 1000 },
    admin: { listen: '127.0.0.1:0' },
  });
  // Traffic, so labelled series exist to compare label names with.
  const client = await TestClient.connect(proxy.port);
  expect((await client.query('temp', 1)).err).toBe('ERR_OK');
  expect((await client.query('no_such_table', 2)).err).toBe('ERR_OBJECT_NOT_FOUND');
  const bad = await TestClient.connect(proxy.port);
  bad.send(Buffer.from('GET / HTTP/1.1\r\n\r\n'));
  await bad.waitClosed();
  client.close();
  const text = await (await fetch(`${adminUrl(proxy)}/metrics`)).text();
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    exported.add(name!);
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) exported.add(`${name}${suffix}`);
  }
  samples = parsePromText(text);
}, 30_000);

afterAll(async () => {
  await proxy?.stop('SIGKILL');
  await sim?.close();
});

describe('deploy/ queries use only what the proxy exports', () => {
  it('reads the exported names from a running proxy', () => {
    for (const name of ['client_connection_count', 'query_config_latency_seconds_bucket', 'upstream_call_count', 'proxy_ready', 'process_cpu_seconds_total']) {
      expect(exported.has(name), name).toBe(true);
    }
    expect(exported.has('made_up_metric')).toBe(false);
  });

  it('finds the metric names and matched labels in a query', () => {
    const names = (query: string) => selectors(query).map(({ name, labels }) => ({ name, labels }));
    expect(names('sum by (table) (rate(a_count{x="1", y=~"b|c"}[5m])) / sum(b_total{z!="q"}) > 0.5')).toEqual([
      { name: 'a_count', labels: ['x', 'y'] },
      { name: 'b_total', labels: ['z'] },
    ]);
    expect(names('rate(a_count[$__rate_interval]) and c_gauge == 0')).toEqual([
      { name: 'a_count', labels: [] },
      { name: 'c_gauge', labels: [] },
    ]);
    expect(names('label_values(d{region=~"$region"}, service)')).toEqual([
      { name: 'd', labels: ['region'] },
      { name: 'd', labels: ['service'] },
    ]);
    expect(names('label_values(e, region)')).toEqual([{ name: 'e', labels: ['region'] }]);
    expect(names('max without (instance) (f and on (instance) g) != min(f)')).toEqual([
      { name: 'f', labels: [] },
      { name: 'g', labels: [] },
      { name: 'f', labels: [] },
    ]);
  });

  for (const [what, queries] of [
    ['the Grafana dashboard', dashboardQueries],
    ['the alert rules', alertQueries],
  ] as const) {
    it(`${what}: every metric name is exported and every matched label is one the metric carries`, () => {
      const used = queries().flatMap(selectors);
      expect(used.length).toBeGreaterThan(5);
      for (const selector of used) {
        if (PROMETHEUS_OWN.has(selector.name)) continue;
        expect(exported.has(selector.name), `${selector.name} (in ${selector.query}) is not on /metrics`).toBe(true);
        const series = samples.filter((sample) => sample.name === selector.name);
        if (series.length === 0) continue; // Exported, but no series yet (reroutes, a ZooKeeper session): names checked, labels not.
        const carried = new Set(series.flatMap((sample) => Object.keys(sample.labels)));
        for (const label of selector.labels) {
          if (SCRAPE_LABELS.has(label)) continue;
          expect(carried.has(label), `${selector.name} has no label ${label} (in ${selector.query})`).toBe(true);
        }
      }
    });
  }

  it('names its template variables after the metric.tags labels every series carries', () => {
    const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { templating: { list: Array<{ name: string }> } };
    const variables = dashboard.templating.list.map((v) => v.name);
    expect(variables).toEqual(['datasource', 'region', 'service', 'instance', 'table']);
    for (const sample of samples) expect(Object.keys(sample.labels)).toEqual(expect.arrayContaining(['region', 'service']));
  });
});
