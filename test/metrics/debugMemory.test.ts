import { afterEach, describe, expect, it } from 'vitest';
import { BehaviorSubject, NEVER } from 'rxjs';
import { startAdminServer, type AdminServer } from '../../src/io/admin.js';
import { createMemoryReporter, type MemoryReport } from '../../src/io/debugMemory.js';
import type { RouteRegistry } from '../../src/model/route.js';
import { captureLogger } from './logCapture.js';

const registry: RouteRegistry = { route: () => NEVER, tables: () => [], evicted$: NEVER, ready$: new BehaviorSubject(true), dispose() {} };
const servers: AdminServer[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
});

describe('/debug/memory', () => {
  it('exists only when node runs with --expose-gc, and then collects before measuring', async () => {
    expect(createMemoryReporter(undefined)).toBeUndefined();
    let collections = 0;
    const report = createMemoryReporter(() => void collections++)!;
    const server = await startAdminServer({ host: '127.0.0.1', port: 0, registry, isListening: () => true, memory: report, logger: captureLogger().logger });
    servers.push(server);
    const response = await fetch(`http://127.0.0.1:${server.address.port}/debug/memory`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as MemoryReport;
    expect(collections).toBe(1);
    expect(body.heapUsedBytes).toBeGreaterThan(1 << 20);
    expect(body.rssBytes).toBeGreaterThan(body.heapUsedBytes);
    // At least the admin server's own listening socket.
    expect(body.resources['TCPServerWrap']).toBeGreaterThanOrEqual(1);
    expect(body.resourceCount).toBe(Object.values(body.resources).reduce((a, b) => a + b, 0));
  });

  it('answers 404 without it (production)', async () => {
    const server = await startAdminServer({ host: '127.0.0.1', port: 0, registry, isListening: () => true, logger: captureLogger().logger });
    servers.push(server);
    expect((await fetch(`http://127.0.0.1:${server.address.port}/debug/memory`)).status).toBe(404);
  });
});
