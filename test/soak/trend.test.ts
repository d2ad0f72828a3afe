import { describe, expect, it } from 'vitest';
import { judge, leastSquaresSlope, minuteTable, type MinuteRow } from '../../soak/trend.js';

const LIMITS = { warmupMinutes: 3, heapMbPerMinute: 0.5, handlesPerMinute: 0.5 };

function rows(count: number, shape: (minute: number) => Partial<MinuteRow> = () => ({})): MinuteRow[] {
  return Array.from({ length: count }, (_, i) => ({
    minute: i + 1,
    sent: 18_000,
    answered: 18_000,
    lost: 0,
    duplicates: 0,
    wrongTable: 0,
    late: 0,
    maxLatencyMs: 1500,
    errors: { ERR_TIMEOUT: 12 },
    faults: ['leader kill', 'leader kill', 'route switch'],
    rssMb: 110,
    heapMb: 20,
    handles: 20,
    fds: 40,
    upstreamConnections: 6,
    ...shape(i + 1),
  }));
}

describe('leastSquaresSlope', () => {
  it('fits a line', () => {
    expect(leastSquaresSlope([0, 1, 2, 3].map((x) => ({ x, y: 5 + 2 * x })))).toBeCloseTo(2);
    expect(leastSquaresSlope([{ x: 1, y: 1 }, { x: 2, y: 3 }, { x: 3, y: 2 }])).toBeCloseTo(0.5);
    expect(leastSquaresSlope([{ x: 1, y: 1 }])).toBeNaN();
    expect(leastSquaresSlope([{ x: 1, y: 1 }, { x: 1, y: 2 }])).toBeNaN();
  });
});

describe('judge', () => {
  it('passes a flat run and ignores growth during warm-up', () => {
    const verdict = judge(rows(15, (m) => (m <= 3 ? { heapMb: 10 + m * 3, handles: 10 + m * 4 } : { heapMb: 20 + (m % 2) * 0.3 })), LIMITS);
    expect(verdict.failures).toEqual([]);
    expect(verdict.ok).toBe(true);
    expect(verdict.heapSlope).toBeLessThan(0.1);
  });

  it('fails on a slow heap leak after warm-up', () => {
    const verdict = judge(rows(15, (m) => ({ heapMb: 20 + m * 0.8 })), LIMITS);
    expect(verdict.ok).toBe(false);
    expect(verdict.failures[0]).toMatch(/^The heap after collection grew 0\.800 MiB per minute after warm-up \(limit 0\.5\)\.$/);
  });

  it('fails on handles or descriptors that keep growing', () => {
    expect(judge(rows(10, (m) => ({ handles: 20 + m })), LIMITS).failures).toEqual(['Active handles grew 1.00 per minute after warm-up (limit 0.5).']);
    expect(judge(rows(10, (m) => ({ fds: 40 + 2 * m })), LIMITS).failures).toEqual(['Open file descriptors grew 2.00 per minute after warm-up (limit 0.5).']);
  });

  it('fails on any lost, duplicated or wrong-table answer, naming the minutes', () => {
    const verdict = judge(rows(5, (m) => (m === 2 ? { lost: 1 } : m === 4 ? { duplicates: 2, wrongTable: 1 } : {})), LIMITS);
    expect(verdict.failures).toEqual([
      '1 request(s) got no answer (minutes 2).',
      '2 duplicate answer(s) (minutes 4).',
      "1 answer(s) carried another table's configuration (minutes 4).",
    ]);
  });

  it('does not judge growth on fewer than three minutes after warm-up', () => {
    const verdict = judge(rows(5, (m) => ({ heapMb: 20 + m * 10 })), LIMITS);
    expect(verdict.ok).toBe(true);
    expect(verdict.heapSlope).toBeUndefined();
  });
});

describe('minuteTable', () => {
  it('prints one Markdown row per minute with the faults counted', () => {
    const table = minuteTable(rows(1));
    expect(table.split('\n')).toHaveLength(3);
    expect(table).toContain('| 1 | 18000 | 18000 | 0 | 0 | 0 | 1500 ms | TIMEOUT 12 | leader kill ×2, route switch | 110 MiB | 20 MiB | 20 | 40 | 6 |');
  });
});
