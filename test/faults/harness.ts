/**
 * Running one fault under load against a proxy process, and the table of
 * results the suite prints (and appends to a JSON-lines file for FAULTS.md).
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { ProxyProcess } from '../support/proxyProcess.js';
import { find, parsePromText } from '../metrics/promText.js';
import { startLoad, type LoadOptions, type LoadSummary } from './load.js';

/** Where each fault's row goes; FAULTS.md's table is built from it. */
export const RESULTS_FILE = process.env['FAULTS_RESULTS'] ?? join(tmpdir(), 'meta-proxy-faults.jsonl');

export interface FaultRow {
  fault: string;
  summary: LoadSummary;
  rssBeforeMb: number;
  rssAfterMb: number;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The resident set size of a process, in MiB, from /proc/<pid>/status. */
export function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+)\s+kB/.exec(status);
  if (kb === null) throw new Error(`no VmRSS for process ${pid}`);
  return Math.round((Number(kb[1]) / 1024) * 10) / 10;
}

/** `http://127.0.0.1:<port>` of the proxy's admin server, from its start-up log. */
export function adminUrl(proxy: ProxyProcess): string {
  const line = proxy.logs.find((entry) => entry['msg'] === 'admin HTTP server listening') as { admin?: { port: number } } | undefined;
  if (line?.admin === undefined) throw new Error('the proxy did not log its admin address');
  return `http://127.0.0.1:${line.admin.port}`;
}

/** The sum of a metric's samples whose labels include `labels`, read from the proxy's /metrics. */
export async function metric(proxy: ProxyProcess, name: string, labels: Record<string, string> = {}): Promise<number> {
  const response = await fetch(`${adminUrl(proxy)}/metrics`);
  const samples = find(parsePromText(await response.text()), name, labels);
  return samples.reduce((sum, sample) => sum + sample.value, 0);
}

export interface FaultRun {
  /** The row's name. */
  fault: string;
  proxy: ProxyProcess;
  load: Omit<LoadOptions, 'port'>;
  /** Load before the fault starts. Default 500 ms. */
  warmupMs?: number;
  /** Injects the fault, holds it, heals it. */
  inject(): Promise<void>;
  /** Load after `inject` returns. Default 700 ms. */
  cooldownMs?: number;
}

/** Load → fault → load; returns the summary after checking the proxy survived. */
export async function runFault(run: FaultRun): Promise<FaultRow> {
  const pid = run.proxy.child.pid!;
  const rssBeforeMb = rssMb(pid);
  const load = startLoad({ port: run.proxy.port, ...run.load });
  await load.ready;
  let summary: LoadSummary;
  try {
    await sleep(run.warmupMs ?? 500);
    await run.inject();
    await sleep(run.cooldownMs ?? 700);
  } finally {
    summary = await load.stop();
  }
  expect(run.proxy.child.exitCode, `the proxy exited during "${run.fault}"`).toBeNull();
  // A throw that escaped a stream is logged rather than fatal: it must not happen either.
  const escaped = run.proxy.logs.filter((entry) => entry['level'] === 'fatal' || entry['msg'] === 'unhandled error in a stream');
  expect(escaped, `errors escaped during "${run.fault}"`).toEqual([]);
  const row = { fault: run.fault, summary, rssBeforeMb, rssAfterMb: rssMb(pid) };
  record(row);
  return row;
}

/** Every request answered once, in time, with its own seqid and table, with an allowed code. */
export function expectAccounted(row: FaultRow, allowed: readonly string[]): void {
  const { summary } = row;
  const what = `${row.fault}: ${JSON.stringify(summary)}`;
  expect(summary.sent, what).toBeGreaterThan(0);
  expect(summary.lost, what).toBe(0);
  expect(summary.duplicates, what).toBe(0);
  expect(summary.unknownSeqids, what).toBe(0);
  expect(summary.wrongTable, what).toBe(0);
  expect(summary.late, what).toBe(0);
  expect(summary.connectionsClosed, what).toBe(0);
  for (const code of Object.keys(summary.codes)) expect(allowed, what).toContain(code);
}

function record(row: FaultRow): void {
  const line = { ...row, at: new Date().toISOString() };
  try {
    appendFileSync(RESULTS_FILE, `${JSON.stringify(line)}\n`);
  } catch {
    // The table is a by-product; a read-only temp dir must not fail the suite.
  }
}

/** The rows as a Markdown table (FAULTS.md's format). */
export function markdownTable(rows: FaultRow[]): string {
  const head = '| fault | sent | answered | errors by code | lost | max latency | RSS before → after |\n|---|---:|---:|---|---:|---:|---|';
  const lines = rows.map(({ fault, summary: s, rssBeforeMb, rssAfterMb }) => {
    const errors = Object.entries(s.codes)
      .filter(([code]) => code !== 'ERR_OK')
      .map(([code, n]) => `${code} ${n}`)
      .join(', ');
    return `| ${fault} | ${s.sent} | ${s.answered} | ${errors || '—'} | ${s.lost} | ${s.maxLatencyMs} ms | ${rssBeforeMb} → ${rssAfterMb} MiB |`;
  });
  return [head, ...lines].join('\n');
}

/** Reads the rows recorded so far (newest run of each fault wins). */
export function recordedRows(file = RESULTS_FILE): FaultRow[] {
  const rows = new Map<string, FaultRow>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    const row = JSON.parse(line) as FaultRow;
    rows.set(row.fault, row);
  }
  return [...rows.values()];
}
