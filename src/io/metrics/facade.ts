import { Counter, Gauge, type Registry } from 'prom-client';
import type { CounterHandle, GaugeHandle, MetricLabels, MetricRegistryFacade } from '../../model/metricsTypes.js';
import { OTHER_LABEL } from './boundedLabels.js';

/** Distinct label sets one custom metric may hold before new ones are counted under `other`. */
export const DEFAULT_CUSTOM_SERIES_LIMIT = 10_000;

type Kind = 'counter' | 'gauge';

/**
 * The registry custom metric modules write to, backed by the proxy's own
 * prom-client registry (Falcon pushes read the same one). Two modules asking
 * for the same name, kind and labels share the metric; a clash is an error
 * that names both sides.
 */
export function createPromFacade(registry: Registry, seriesLimit = DEFAULT_CUSTOM_SERIES_LIMIT): MetricRegistryFacade {
  const made = new Map<string, { kind: Kind; labelNames: string; handle: CounterHandle | GaugeHandle }>();

  function lookup(kind: Kind, name: string, labelNames: readonly string[]): CounterHandle | GaugeHandle | undefined {
    const existing = made.get(name);
    if (existing === undefined) return undefined;
    const labels = labelNames.join(',');
    if (existing.kind !== kind || existing.labelNames !== labels) {
      throw new Error(
        `metric ${name} is already registered as a ${existing.kind} with labels [${existing.labelNames}]; ` +
          `cannot register it as a ${kind} with labels [${labels}]`,
      );
    }
    return existing.handle;
  }

  const counter = (name: string, help: string, labelNames: readonly string[] = []): CounterHandle => {
    const existing = lookup('counter', name, labelNames);
    if (existing !== undefined) return existing as CounterHandle;
    const metric = new Counter({ name, help, labelNames: [...labelNames], registers: [registry] });
    const bound = seriesBound(labelNames, seriesLimit);
    const handle: CounterHandle = {
      inc: (labels, amount = 1) => (labels === undefined ? metric.inc(amount) : metric.inc(bound(labels), amount)),
    };
    made.set(name, { kind: 'counter', labelNames: labelNames.join(','), handle });
    return handle;
  };

  return {
    counter,
    meter: counter,
    gauge(name, help, labelNames = []) {
      const existing = lookup('gauge', name, labelNames);
      if (existing !== undefined) return existing as GaugeHandle;
      const metric = new Gauge({ name, help, labelNames: [...labelNames], registers: [registry] });
      const bound = seriesBound(labelNames, seriesLimit);
      const handle: GaugeHandle = {
        set: (value, labels) => (labels === undefined ? metric.set(value) : metric.set(bound(labels), value)),
        inc: (labels, amount = 1) => (labels === undefined ? metric.inc(amount) : metric.inc(bound(labels), amount)),
        dec: (labels, amount = 1) => (labels === undefined ? metric.dec(amount) : metric.dec(bound(labels), amount)),
      };
      made.set(name, { kind: 'gauge', labelNames: labelNames.join(','), handle });
      return handle;
    },
  };
}

/**
 * Caps the distinct label sets of one metric: a custom module sees raw client
 * input (any table name), and each label set is a series kept forever.
 */
function seriesBound(labelNames: readonly string[], limit: number): (labels: MetricLabels) => MetricLabels {
  const seen = new Set<string>();
  let overflow: MetricLabels | undefined;
  return (labels) => {
    if (labelNames.length === 0) return labels;
    const key = labelNames.map((name) => String(labels[name] ?? '')).join('\u0001');
    if (seen.has(key)) return labels;
    if (seen.size < limit) {
      seen.add(key);
      return labels;
    }
    overflow ??= Object.fromEntries(labelNames.map((name) => [name, OTHER_LABEL]));
    return overflow;
  };
}

const noopCounter: CounterHandle = { inc() {} };
const noopGauge: GaugeHandle = { set() {}, inc() {}, dec() {} };

/** The registry for `metric.type: none`: modules still load and run, nothing is recorded. */
export const noopFacade: MetricRegistryFacade = {
  counter: () => noopCounter,
  meter: () => noopCounter,
  gauge: () => noopGauge,
};
