import type { ProxyHooks } from '../model/proxyTypes.js';

type HookName = keyof ProxyHooks;
const NAMES: readonly HookName[] = [
  'connectionOpened',
  'connectionClosed',
  'queryReceived',
  'queryFinished',
  'rerouted',
  'frameRejected',
];

/**
 * One `ProxyHooks` that calls each given set in order. A hook none of them has
 * stays absent, and a hook only one has is that function itself, so merging
 * adds no cost to what is switched off.
 */
export function mergeHooks(...sets: ReadonlyArray<ProxyHooks | undefined>): ProxyHooks {
  const merged: Record<string, (...args: never[]) => void> = {};
  for (const name of NAMES) {
    const fns = sets.flatMap((set) => {
      const fn = set?.[name] as ((...args: never[]) => void) | undefined;
      return fn === undefined ? [] : [fn.bind(set)];
    });
    if (fns.length === 1) merged[name] = fns[0]!;
    else if (fns.length > 1) {
      merged[name] = (...args: never[]) => {
        for (const fn of fns) fn(...args);
      };
    }
  }
  return merged as ProxyHooks;
}
