/**
 * What a soak run measures inside the proxy: heap in use right after a full
 * garbage collection (what is still reachable, without the garbage that
 * happens to be waiting), RSS, and the handles and requests keeping the event
 * loop busy, by type.
 */
export interface MemoryReport {
  heapUsedBytes: number;
  rssBytes: number;
  /** `process.getActiveResourcesInfo()` counted by type (TCPSocketWrap, Timeout, FSReqCallback, ...). */
  resources: Record<string, number>;
  resourceCount: number;
}

/**
 * Returns the reporter when the process runs with `node --expose-gc`, else
 * undefined: forcing collections is for tests, never for a production process.
 */
export function createMemoryReporter(gc: unknown = (globalThis as { gc?: unknown }).gc): (() => MemoryReport) | undefined {
  if (typeof gc !== 'function') return undefined;
  const collect = gc as () => void;
  return () => {
    collect();
    const usage = process.memoryUsage();
    const resources: Record<string, number> = {};
    const active = process.getActiveResourcesInfo();
    for (const type of active) resources[type] = (resources[type] ?? 0) + 1;
    return { heapUsedBytes: usage.heapUsed, rssBytes: usage.rss, resources, resourceCount: active.length };
  };
}
