import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { MetaProxyError } from '../errors.js';
import type { Metrics } from '../model/metricsTypes.js';
import type { RouteRegistry, RouteRow } from '../model/route.js';
import type { ClientHostList } from '../model/clientHostTypes.js';
import { send, sendJson } from './httpReply.js';
import { createStatusPage, type AdminHandler, type StatusPageOptions } from './status/statusPage.js';
import type { MemoryReport } from './debugMemory.js';

export interface AdminServerOptions {
  host: string;
  port: number;
  /** Absent, or `metric.type: none`: `/metrics` answers 404. */
  metrics?: Pick<Metrics, 'type' | 'prometheusText' | 'contentType' | 'observeReadiness'>;
  registry: Pick<RouteRegistry, 'tables' | 'ready$'>;
  /** Which meta last answered for each cluster, shown as each route's leader. */
  /** The rows `/tables` serves (each cached route, by table name); absent, it serves none. */
  tableRows?: () => RouteRow[];
  /** The client hosts remembered for a cached table (`/clients?table=T`); null when the table is not cached or tracked. */
  clientHosts?: (table: string) => ClientHostList | null;
  /** True while the client listener accepts connections. */
  isListening: () => boolean;
  /** Serves the live status page on `/` (and its data on `/status.json`); absent, `/` answers 404. */
  status?: StatusPageOptions;
  /** Present when node runs with --expose-gc (soak runs): serves `/debug/memory`. */
  memory?: () => MemoryReport;
  logger: Logger;
}

export interface AdminServer {
  /** The bound address (port resolved when 0 was asked). */
  readonly address: { host: string; port: number };
  /** Stops listening and closes open connections; idempotent. */
  close(): Promise<void>;
}

/** One row of `/tables`. */
/** A row of `/tables`. */
export type TableRow = RouteRow;


/**
 * The operator's HTTP endpoints: `/metrics`, `/healthz`, `/readyz`, `/tables`, `/clients`,
 * and with `status` the live status page `/` and its `/status.json`.
 * Read-only; the configuration is never served (it may hold the ZooKeeper
 * credential).
 */
export async function startAdminServer(options: AdminServerOptions): Promise<AdminServer> {
  const { host, port, metrics, registry, tableRows, isListening, memory, logger } = options;
  let registryReady = false;
  const readiness = () => {
    const reasons: string[] = [];
    if (!isListening()) reasons.push('the client listener is not accepting connections');
    if (!registryReady) reasons.push('the route registry is not ready (ZooKeeper not connected or routes file not loaded)');
    return { ready: reasons.length === 0, reasons };
  };
  // proxy_ready is read whenever metrics are (every scrape, every Falcon push).
  metrics?.observeReadiness(() => readiness().ready);
  const readySubscription = registry.ready$.subscribe({
    next: (ready) => {
      registryReady = ready;
    },
    error: (error: unknown) => {
      registryReady = false;
      logger.error({ err: error }, 'route registry readiness stream failed; /readyz answers 503 from now on');
    },
  });
  const status = options.status && createStatusPage({ ...options.status, readiness, logger });

  const routes = new Map<string, AdminHandler>(Object.entries({
    '/healthz': (response) => send(response, 200, 'text/plain; charset=utf-8', 'ok\n'),
    '/readyz': (response) => {
      const { ready, reasons } = readiness();
      if (ready) sendJson(response, 200, { ready: true });
      else sendJson(response, 503, { ready: false, reasons });
    },
    '/tables': (response) => sendJson(response, 200, tableRows?.() ?? []),
    '/clients': (response, query) => {
      const table = query.get('table');
      if (table === null || table === '') {
        sendJson(response, 400, { error: 'give the table: /clients?table=NAME' });
        return;
      }
      const list = options.clientHosts?.(table) ?? null;
      if (list === null) sendJson(response, 404, { table, error: 'no client host is remembered for this table here (not cached, or nobody asked for it)' });
      else sendJson(response, 200, list);
    },
    '/metrics': async (response) => {
      if (metrics === undefined || metrics.type === 'none') {
        send(response, 404, 'text/plain; charset=utf-8', 'metrics are disabled (metric.type: none)\n');
        return;
      }
      send(response, 200, metrics.contentType, await metrics.prometheusText());
    },
    ...status?.routes,
  } satisfies Record<string, AdminHandler>));
  if (memory !== undefined) routes.set('/debug/memory', (response) => sendJson(response, 200, memory()));
  const paths = [...routes.keys()].sort().join(', ');

  const server = http.createServer((request, response) => {
    const { path, query } = splitUrl(request.url);
    const route = routes.get(path);
    if (route === undefined) {
      send(response, 404, 'text/plain; charset=utf-8', `not found; try ${paths}\n`);
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.setHeader('allow', 'GET, HEAD');
      send(response, 405, 'text/plain; charset=utf-8', `method ${request.method} not allowed\n`);
      return;
    }
    // A failing endpoint answers 500; it must never take the process down.
    Promise.resolve()
      .then(() => route(response, query))
      .catch((error: unknown) => {
        logger.error({ err: error, path }, 'admin endpoint failed');
        if (!response.headersSent) send(response, 500, 'text/plain; charset=utf-8', 'internal error\n');
        else response.destroy();
      });
  });
  server.on('clientError', (_error, socket) => socket.destroy());

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    readySubscription.unsubscribe();
    status?.close();
    throw new MetaProxyError(
      'META_PROXY_ADMIN_LISTEN',
      `The admin HTTP server (admin.listen) cannot listen on ${host}:${port}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  server.on('error', (error) => logger.error({ err: error }, 'admin HTTP server error'));
  const bound = server.address() as AddressInfo;
  logger.info({ admin: { host: bound.address, port: bound.port } }, 'admin HTTP server listening');

  let closing: Promise<void> | undefined;
  return {
    address: { host: bound.address, port: bound.port },
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        readySubscription.unsubscribe();
            status?.close();
        server.close(() => resolve());
        // Scrapers keep connections alive; close() alone would wait for them.
        server.closeAllConnections();
      })),
  };
}


function splitUrl(url: string | undefined): { path: string; query: URLSearchParams } {
  const raw = url ?? '/';
  const mark = raw.indexOf('?');
  return mark === -1 ? { path: raw, query: new URLSearchParams() } : { path: raw.slice(0, mark), query: new URLSearchParams(raw.slice(mark + 1)) };
}

