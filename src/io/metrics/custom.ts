import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as rx from 'rxjs';
import { Observable, isObservable, type OperatorFunction, type Subscriber, type Subscription } from 'rxjs';
import type { Logger } from 'pino';
import { ConfigError } from '../../errors.js';
import type { CustomMetricFactory, CustomMetrics, MetricRegistryFacade } from '../../model/metricsTypes.js';
import type { QueryFinished } from '../../model/proxyTypes.js';

interface Attached {
  readonly path: string;
  /** The operator's subscription to its source; set once subscribed. */
  subscriber?: Subscriber<QueryFinished>;
  subscription?: Subscription;
  detached: boolean;
}

/**
 * Imports each custom metric module and runs its operator over finished
 * queries. A module that cannot be loaded is a configuration error (the proxy
 * does not start); a module whose operator fails later is logged with its path
 * and detached, and neither the proxy nor the other modules notice.
 *
 * The returned `hooks.queryFinished` is the bridge from the proxy's callbacks to
 * the operators: each module gets a source of its own, fed inside a try/catch,
 * so one module throwing cannot stop the others from seeing an event.
 */
export async function loadCustomMetrics(
  paths: readonly string[],
  registry: MetricRegistryFacade,
  logger: Logger,
): Promise<CustomMetrics> {
  const operators: Array<{ path: string; operator: OperatorFunction<QueryFinished, unknown> }> = [];
  for (const given of paths) {
    const path = isAbsolute(given) ? given : resolve(given);
    const factory = await importFactory(path);
    let operator: unknown;
    try {
      operator = factory(registry, rx);
    } catch (error) {
      throw new ConfigError(
        `Custom metric module ${path} (metric.custom) threw while creating its operator: ${describeError(error)}`,
        { cause: error },
      );
    }
    if (typeof operator !== 'function') {
      throw new ConfigError(
        `Custom metric module ${path} (metric.custom): its factory returned ${describeValue(operator)}, expected an RxJS operator (source$ => observable).`,
      );
    }
    operators.push({ path, operator: operator as OperatorFunction<QueryFinished, unknown> });
  }

  let attached: Attached[] = [];

  const detach = (slot: Attached, why: 'failed' | 'completed', error?: unknown) => {
    if (slot.detached) return;
    slot.detached = true;
    slot.subscriber = undefined;
    slot.subscription?.unsubscribe();
    // Replace rather than splice: `feed` may be iterating the old array right now.
    attached = attached.filter((other) => other !== slot);
    if (why === 'failed') {
      logger.error(
        { module: slot.path, err: error },
        'custom metric module failed and was detached; the proxy and the other modules keep running',
      );
    } else {
      logger.warn({ module: slot.path }, 'custom metric module completed its stream and no longer receives queries');
    }
  };

  for (const { path, operator } of operators) {
    const slot: Attached = { path, detached: false };
    attached.push(slot);
    const source = new Observable<QueryFinished>((subscriber) => {
      slot.subscriber = subscriber;
      return () => {
        if (slot.subscriber === subscriber) slot.subscriber = undefined;
      };
    });
    try {
      const output = operator(source);
      if (!isObservable(output)) {
        throw new TypeError(`the operator returned ${describeValue(output)}, expected an Observable`);
      }
      const subscription = output.subscribe({
        error: (error: unknown) => detach(slot, 'failed', error),
        complete: () => detach(slot, 'completed'),
      });
      if (slot.detached) subscription.unsubscribe();
      else slot.subscription = subscription;
    } catch (error) {
      detach(slot, 'failed', error);
    }
  }

  const feed = (event: QueryFinished) => {
    for (const slot of attached) {
      const subscriber = slot.subscriber;
      if (subscriber === undefined) continue;
      try {
        subscriber.next(event);
      } catch (error) {
        detach(slot, 'failed', error);
      }
    }
  };

  return {
    // No module, no hook: the proxy then pays nothing per query.
    hooks: attached.length > 0 ? { queryFinished: feed } : {},
    active: () => attached.map((slot) => slot.path),
    close() {
      for (const slot of attached) {
        slot.detached = true;
        slot.subscriber = undefined;
        slot.subscription?.unsubscribe();
      }
      attached = [];
    },
  };
}

async function importFactory(path: string): Promise<CustomMetricFactory> {
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (error) {
    throw new ConfigError(`Custom metric module ${path} (metric.custom) could not be loaded: ${describeError(error)}`, {
      cause: error,
    });
  }
  const fallback = module.default as Record<string, unknown> | undefined;
  const candidate =
    typeof module.default === 'function'
      ? module.default
      : (module.createMetricOperator ?? (typeof fallback === 'object' ? fallback?.createMetricOperator : undefined));
  if (typeof candidate !== 'function') {
    throw new ConfigError(
      `Custom metric module ${path} (metric.custom) exports no factory: expected a default export or a named export ` +
        `createMetricOperator that is a function (registry) => operator, got ${describeValue(candidate)}.`,
    );
  }
  return candidate as CustomMetricFactory;
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : typeof value === 'undefined' ? 'undefined' : `a ${typeof value}`;
}
