/**
 * The shipped alert rules, through Prometheus's own `promtool` (Debian's
 * `prometheus` package; .ci/run installs it): they load, their unit tests in
 * deploy/prometheus/alerts.test.yml pass, and those tests notice a changed
 * threshold.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { load } from 'js-yaml';

const DIR = new URL('../../deploy/prometheus/', import.meta.url).pathname;
const RULES = join(DIR, 'alerts.yml');
const TESTS = join(DIR, 'alerts.test.yml');

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface UnitTests {
  rule_files: string[];
  tests: Array<{ alert_rule_test: Array<{ alertname: string; exp_alerts: unknown[] }> }>;
}

function promtool(...args: string[]): { status: number | null; output: string } {
  const run = spawnSync('promtool', args, { encoding: 'utf8' });
  if (run.error !== undefined) {
    throw new Error(`promtool cannot run (${run.error.message}): apt-get install -y prometheus (.ci/run installs it)`);
  }
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

const rules = (load(readFileSync(RULES, 'utf8')) as { groups: Array<{ rules: Rule[] }> }).groups.flatMap((group) => group.rules);

describe('deploy/prometheus/alerts.yml', () => {
  it('loads in promtool', () => {
    const check = promtool('check', 'rules', RULES);
    expect(check.output).toContain(`SUCCESS: ${rules.length} rules found`);
    expect(check.status).toBe(0);
  });

  it('passes its promtool unit tests', () => {
    const run = promtool('test', 'rules', TESTS);
    expect(run.output).toContain('SUCCESS');
    expect(run.status).toBe(0);
  });

  it('covers what the operator needs, each alert with a severity, a summary, a description and a test that fires it', () => {
    expect(rules.map((rule) => rule.alert).sort()).toEqual([
      'MetaProxyClusterUnreachable',
      'MetaProxyDown',
      'MetaProxyHighErrorRatio',
      'MetaProxyHighLatency',
      'MetaProxyMetaServerFailing',
      'MetaProxyNotReady',
      'MetaProxyRouteDisagreement',
      'MetaProxyStaleRoutes',
      'MetaProxyZooKeeperNotConnected',
    ]);
    const unit = load(readFileSync(TESTS, 'utf8')) as UnitTests;
    const fired = new Set(unit.tests.flatMap((test) => test.alert_rule_test.filter((t) => t.exp_alerts.length > 0).map((t) => t.alertname)));
    const quiet = new Set(unit.tests.flatMap((test) => test.alert_rule_test.filter((t) => t.exp_alerts.length === 0).map((t) => t.alertname)));
    for (const rule of rules) {
      expect(['critical', 'warning'], rule.alert).toContain(rule.labels?.severity);
      expect(rule.annotations?.summary, rule.alert).toMatch(/\S/);
      expect(rule.annotations?.description?.length ?? 0, rule.alert).toBeGreaterThan(100);
      expect(fired.has(rule.alert), `${rule.alert} has a test where it fires`).toBe(true);
      expect(quiet.has(rule.alert), `${rule.alert} has a test where it stays quiet`).toBe(true);
    }
  });

  it('has unit tests that fail when a threshold changes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'meta-proxy-alerts-'));
    try {
      copyFileSync(TESTS, join(dir, 'alerts.test.yml'));
      const text = readFileSync(RULES, 'utf8');
      const loosened = text.replace(') > 0.05', ') > 0.5');
      expect(loosened).not.toBe(text);
      writeFileSync(join(dir, 'alerts.yml'), loosened);
      const run = promtool('test', 'rules', join(dir, 'alerts.test.yml'));
      expect(run.status).not.toBe(0);
      expect(run.output).toContain('MetaProxyHighErrorRatio');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
