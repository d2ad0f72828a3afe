/**
 * The soak run's judgement, kept apart from the processes so it can be tested:
 * a least-squares slope per minute, and the verdict over the per-minute rows.
 */

/** One minute of a soak run. */
export interface MinuteRow {
  minute: number;
  /** Requests sent in the minute, and what became of them. */
  sent: number;
  answered: number;
  lost: number;
  duplicates: number;
  wrongTable: number;
  late: number;
  maxLatencyMs: number;
  /** Non-OK codes of the minute's answers. */
  errors: Record<string, number>;
  /** Faults injected during the minute. */
  faults: string[];
  rssMb: number;
  /** Heap in use right after a forced full collection. */
  heapMb: number;
  /** Sockets, servers and pipes of the proxy (its active handles less timers and requests in flight). */
  handles: number;
  /** Open file descriptors of the proxy (sockets included). */
  fds: number;
  upstreamConnections: number;
  /** The proxy's active resources by type when sampled (results file only). */
  resources?: Record<string, number>;
}

export interface Limits {
  /** Minutes at the start left out of the growth checks (JIT, caches and pools filling). */
  warmupMinutes: number;
  /** Heap growth allowed after warm-up, MiB per minute. */
  heapMbPerMinute: number;
  /** Handle and descriptor growth allowed after warm-up, per minute. */
  handlesPerMinute: number;
}

export interface Verdict {
  ok: boolean;
  /** Why not, one sentence each. */
  failures: string[];
  /** Slopes after warm-up; undefined when there were fewer than 3 minutes to fit. */
  heapSlope?: number;
  handleSlope?: number;
  fdSlope?: number;
}

/** The least-squares slope of y over x; NaN for fewer than two points or a single x. */
export function leastSquaresSlope(points: ReadonlyArray<{ x: number; y: number }>): number {
  const n = points.length;
  if (n < 2) return Number.NaN;
  const meanX = points.reduce((sum, p) => sum + p.x, 0) / n;
  const meanY = points.reduce((sum, p) => sum + p.y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const p of points) {
    sxy += (p.x - meanX) * (p.y - meanY);
    sxx += (p.x - meanX) ** 2;
  }
  return sxx === 0 ? Number.NaN : sxy / sxx;
}

/** Fails on any lost, duplicated or wrong-table answer, and on heap, handle or descriptor growth after warm-up. */
export function judge(rows: readonly MinuteRow[], limits: Limits): Verdict {
  const failures: string[] = [];
  const total = (field: 'lost' | 'duplicates' | 'wrongTable') => rows.reduce((sum, row) => sum + row[field], 0);
  const lost = total('lost');
  const duplicates = total('duplicates');
  const wrongTable = total('wrongTable');
  if (lost > 0) failures.push(`${lost} request(s) got no answer (minutes ${minutesWith(rows, 'lost')}).`);
  if (duplicates > 0) failures.push(`${duplicates} duplicate answer(s) (minutes ${minutesWith(rows, 'duplicates')}).`);
  if (wrongTable > 0) failures.push(`${wrongTable} answer(s) carried another table's configuration (minutes ${minutesWith(rows, 'wrongTable')}).`);

  const steady = rows.filter((row) => row.minute > limits.warmupMinutes);
  const verdict: Verdict = { ok: true, failures };
  if (steady.length >= 3) {
    const fit = (field: 'heapMb' | 'handles' | 'fds') => leastSquaresSlope(steady.map((row) => ({ x: row.minute, y: row[field] })));
    verdict.heapSlope = fit('heapMb');
    verdict.handleSlope = fit('handles');
    verdict.fdSlope = fit('fds');
    if (verdict.heapSlope > limits.heapMbPerMinute) {
      failures.push(
        `The heap after collection grew ${verdict.heapSlope.toFixed(3)} MiB per minute after warm-up (limit ${limits.heapMbPerMinute}).`,
      );
    }
    if (verdict.handleSlope > limits.handlesPerMinute) {
      failures.push(`Active handles grew ${verdict.handleSlope.toFixed(2)} per minute after warm-up (limit ${limits.handlesPerMinute}).`);
    }
    if (verdict.fdSlope > limits.handlesPerMinute) {
      failures.push(`Open file descriptors grew ${verdict.fdSlope.toFixed(2)} per minute after warm-up (limit ${limits.handlesPerMinute}).`);
    }
  }
  verdict.ok = failures.length === 0;
  return verdict;
}

function minutesWith(rows: readonly MinuteRow[], field: 'lost' | 'duplicates' | 'wrongTable'): string {
  return rows
    .filter((row) => row[field] > 0)
    .map((row) => row.minute)
    .join(', ');
}

/** The per-minute rows as a Markdown table (FAULTS.md's format). */
export function minuteTable(rows: readonly MinuteRow[]): string {
  const head =
    '| min | sent | answered | lost | dup | late | max latency | errors by code | faults | RSS | heap after GC | handles | fds | upstream conns |\n' +
    '|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---:|---:|---:|---:|';
  const lines = rows.map((r) => {
    const errors = Object.entries(r.errors)
      .map(([code, n]) => `${code.replace(/^ERR_/, '')} ${n}`)
      .join(', ');
    const faults = Object.entries(countOf(r.faults))
      .map(([fault, n]) => (n > 1 ? `${fault} ×${n}` : fault))
      .join(', ');
    return `| ${r.minute} | ${r.sent} | ${r.answered} | ${r.lost} | ${r.duplicates} | ${r.late} | ${r.maxLatencyMs} ms | ${errors || '—'} | ${faults || '—'} | ${r.rssMb} MiB | ${r.heapMb} MiB | ${r.handles} | ${r.fds} | ${r.upstreamConnections} |`;
  });
  return [head, ...lines].join('\n');
}

function countOf(items: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[item] = (counts[item] ?? 0) + 1;
  return counts;
}
