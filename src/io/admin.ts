import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { MetaProxyError } from '../errors.js';
import type { Metrics } from '../streams/metricsTypes.js';
import type { RouteInfo, RouteRegistry } from '../streams/routeTypes.js';
import type { LeaderBook } from '../streams/upstreamTypes.js';
import type { MemoryReport } from './debugMemory.js';

export interface AdminServerOptions {
  host: string;
  port: number;
  /** Absent, or `metric.type: none`: `/metrics` answers 404. */
  metrics?: Pick<Metrics, 'type' | 'prometheusText' | 'contentType'>;
  registry: Pick<RouteRegistry, 'tables' | 'ready$'>;
  /** Which meta last answered for each cluster, shown as each route's leader. */
  leaders?: Pick<LeaderBook, 'get'>;
  /** True while the client listener accepts connections. */
  isListening: () => boolean;
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
export interface TableRow {
  table: string;
  kind: RouteInfo['state']['kind'];
  cluster: string | null;
  metas: string[];
  /** The meta that last answered for the cluster, if any has yet. */
  leader: string | null;
  version: number | null;
  /** Why there is no usable route (invalid node, ZooKeeper unavailable). */
  reason: string | null;
  stale: boolean;
  changedAt: string;
}

/**
 * The operator's HTTP endpoints: `/metrics`, `/healthz`, `/readyz`, `/tables`.
 * Read-only; the configuration is never served (it may hold the ZooKeeper
 * credential).
 */
export async function startAdminServer(options: AdminServerOptions): Promise<AdminServer> {
  const { host, port, metrics, registry, leaders, isListening, memory, logger } = options;
  let registryReady = false;
  const readiness = registry.ready$.subscribe({
    next: (ready) => (registryReady = ready),
    error: (error: unknown) => {
      registryReady = false;
      logger.error({ err: error }, 'route registry readiness stream failed; /readyz answers 503 from now on');
    },
  });

  const routes = new Map<string, (response: http.ServerResponse) => void | Promise<void>>(Object.entries({
    '/healthz': (response) => send(response, 200, 'text/plain; charset=utf-8', 'ok\n'),
    '/readyz': (response) => {
      const reasons: string[] = [];
      if (!isListening()) reasons.push('the client listener is not accepting connections');
      if (!registryReady) reasons.push('the route registry is not ready (ZooKeeper not connected or routes file not loaded)');
      if (reasons.length === 0) sendJson(response, 200, { ready: true });
      else sendJson(response, 503, { ready: false, reasons });
    },
    '/tables': (response) => sendJson(response, 200, tableRows(registry.tables(), leaders)),
    '/metrics': async (response) => {
      if (metrics === undefined || metrics.type === 'none') {
        send(response, 404, 'text/plain; charset=utf-8', 'metrics are disabled (metric.type: none)\n');
        return;
      }
      send(response, 200, metrics.contentType, await metrics.prometheusText());
    },
  }));
  if (memory !== undefined) routes.set('/debug/memory', (response) => sendJson(response, 200, memory()));

  const server = http.createServer((request, response) => {
    const path = pathOf(request.url);
    const route = routes.get(path);
    if (route === undefined) {
      send(response, 404, 'text/plain; charset=utf-8', `not found; try /metrics, /healthz, /readyz or /tables\n`);
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.setHeader('allow', 'GET, HEAD');
      send(response, 405, 'text/plain; charset=utf-8', `method ${request.method} not allowed\n`);
      return;
    }
    // A failing endpoint answers 500; it must never take the process down.
    Promise.resolve()
      .then(() => route(response))
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
    readiness.unsubscribe();
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
        readiness.unsubscribe();
        server.close(() => resolve());
        // Scrapers keep connections alive; close() alone would wait for them.
        server.closeAllConnections();
      })),
  };
}

function tableRows(infos: RouteInfo[], leaders: AdminServerOptions['leaders']): TableRow[] {
  return infos
    .map((info): TableRow => {
      const state = info.state;
      const route = state.kind === 'route' ? state : undefined;
      return {
        table: info.table,
        kind: state.kind,
        cluster: route?.cluster ?? null,
        metas: route?.metas ?? [],
        leader: route === undefined ? null : (leaders?.get({ name: route.cluster, metas: route.metas }) ?? null),
        version: route?.version ?? null,
        reason: state.kind === 'invalid' || state.kind === 'unavailable' ? state.reason : null,
        stale: info.stale,
        changedAt: new Date(info.changedAt).toISOString(),
      };
    })
    .sort((a, b) => (a.table < b.table ? -1 : a.table > b.table ? 1 : 0));
}

function pathOf(url: string | undefined): string {
  const raw = url ?? '/';
  const query = raw.indexOf('?');
  return query === -1 ? raw : raw.slice(0, query);
}

function send(response: http.ServerResponse, status: number, contentType: string, body: string): void {
  response.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store' });
  response.end(body);
}

function sendJson(response: http.ServerResponse, status: number, value: unknown): void {
  send(response, status, 'application/json; charset=utf-8', `${JSON.stringify(value)}\n`);
}
