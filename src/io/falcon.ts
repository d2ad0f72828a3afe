import { exhaustMap, interval, type Subscription } from 'rxjs';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';

/** One value as the Open-Falcon agent's `/v1/push` takes it. */
export interface FalconItem {
  endpoint: string;
  metric: string;
  /** Unix seconds. */
  timestamp: number;
  /** Seconds between pushes: Falcon treats a series as dead after a few missed steps. */
  step: number;
  value: number;
  counterType: 'COUNTER' | 'GAUGE';
  /** `k=v,k2=v2`, sorted by key. */
  tags: string;
}

type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

export interface FalconOptions {
  agentUrl: string;
  stepSeconds: number;
  endpoint: string;
  /** Where the values come from: the proxy's prom-client registry, so both backends agree. */
  read: () => Promise<MetricsJson>;
  logger: Logger;
  /** Per push; default the step, at most 10 s, so a hung agent never stacks pushes up. */
  timeoutMs?: number;
  /** Wall clock in ms, for the items' timestamps. */
  now?: () => number;
}

export interface FalconPusher {
  /** Pushes the current values; resolves true when the agent accepted them. Never rejects. */
  pushNow(): Promise<boolean>;
  /** Stops the timer and aborts a push in flight; idempotent. */
  close(): void;
}

// Warn on the first failure and then every Nth: an agent that is down for an hour
// must not flood the log at one line per step.
const WARN_EVERY = 10;

/** Starts pushing the registry's values to the Falcon agent every `stepSeconds`. */
export function createFalconPusher(options: FalconOptions): FalconPusher {
  const { agentUrl, stepSeconds, endpoint, read, logger } = options;
  if (!Number.isInteger(stepSeconds) || stepSeconds < 1) {
    throw new RangeError(`Falcon step must be a positive whole number of seconds, got ${stepSeconds}.`);
  }
  const timeoutMs = options.timeoutMs ?? Math.min(stepSeconds * 1000, 10_000);
  const now = options.now ?? Date.now;
  const closing = new AbortController();
  let failures = 0;

  async function pushNow(): Promise<boolean> {
    try {
      const items = toFalconItems(await read(), { endpoint, step: stepSeconds, timestamp: Math.floor(now() / 1000) });
      const response = await fetch(agentUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(items),
        signal: AbortSignal.any([closing.signal, AbortSignal.timeout(timeoutMs)]),
      });
      // Read the body either way so the keep-alive connection is free for the next push.
      const text = await response.text();
      if (!response.ok) throw new Error(`agent answered HTTP ${response.status}: ${text.slice(0, 200)}`);
      if (failures > 0) logger.info({ agentUrl, failures }, 'Falcon agent accepts pushes again');
      failures = 0;
      return true;
    } catch (error) {
      if (closing.signal.aborted) return false;
      failures += 1;
      const entry = { agentUrl, failures, err: error, nextInSeconds: stepSeconds };
      if (failures === 1 || failures % WARN_EVERY === 0) logger.warn(entry, 'Falcon push failed; the next step pushes again');
      else logger.debug(entry, 'Falcon push failed; the next step pushes again');
      return false;
    }
  }

  // exhaustMap: a push still running when the next step comes makes that step skip, not queue.
  const timer: Subscription = interval(stepSeconds * 1000)
    .pipe(exhaustMap(() => pushNow()))
    .subscribe();

  return {
    pushNow,
    close() {
      timer.unsubscribe();
      closing.abort();
    },
  };
}

/**
 * Maps prom-client's JSON to Falcon items. Counters are COUNTER (the agent turns
 * them into rates), gauges GAUGE; a histogram or summary gives its `_sum` and
 * `_count` as COUNTER and quantiles as GAUGE. Histogram buckets are left out:
 * Falcon has no histogram type, and one series per bucket would multiply the
 * agent's load for values it cannot aggregate.
 */
export function toFalconItems(
  metrics: MetricsJson,
  context: { endpoint: string; step: number; timestamp: number },
): FalconItem[] {
  const items: FalconItem[] = [];
  for (const metric of metrics) {
    const kind = String(metric.type);
    for (const sample of metric.values) {
      if (!Number.isFinite(sample.value)) continue;
      const name = (sample as { metricName?: string }).metricName ?? metric.name;
      let counterType: FalconItem['counterType'];
      if (kind === 'counter') counterType = 'COUNTER';
      else if (kind === 'gauge') counterType = 'GAUGE';
      else if (name.endsWith('_bucket')) continue;
      else counterType = name.endsWith('_sum') || name.endsWith('_count') ? 'COUNTER' : 'GAUGE';
      items.push({
        endpoint: context.endpoint,
        metric: name,
        timestamp: context.timestamp,
        step: context.step,
        value: sample.value,
        counterType,
        tags: falconTags(sample.labels as Record<string, string | number | undefined>),
      });
    }
  }
  return items;
}

/** `k=v,k2=v2`, sorted; `,` and `=` inside a value would split it, so they become `_`. */
function falconTags(labels: Record<string, string | number | undefined>): string {
  return Object.keys(labels)
    .sort()
    .filter((key) => labels[key] !== undefined)
    .map((key) => `${key}=${String(labels[key]).replace(/[,=]/g, '_')}`)
    .join(',');
}
