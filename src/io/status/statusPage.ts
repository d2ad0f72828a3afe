import { readFileSync } from 'node:fs';
import type http from 'node:http';
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Observable } from 'rxjs';
import type { Logger } from 'pino';
import type { FleetStatus } from '../../model/fleetTypes.js';
import { STATUS_SORTS, type StatusBoard, type StatusDocument, type StatusQuery, type StatusSort } from '../../model/statusTypes.js';
import { readVersion } from '../../version.js';
import { send, sendJson } from '../httpReply.js';
import { statusCss, statusHtml } from './assets/page.js';

export interface StatusPageOptions {
  /** Computes the tables, clusters and changes (and samples the metrics while the page is watched). */
  board: Pick<StatusBoard, 'view'>;
  /** The ZooKeeper session state; absent when routes come from the file registry. */
  zkState$?: Observable<string>;
  /** Open client connections. */
  connections: () => number;
  /** The registered instances (`fleet` in `/status.json`); absent without ZooKeeper, and `fleet` is null. */
  fleet?: () => Promise<FleetStatus | null>;
}

export type AdminHandler = (response: http.ServerResponse, query: URLSearchParams) => void | Promise<void>;

export interface StatusPage {
  /** `/`, `/status.json`, `/status.js`, `/status.css`. */
  readonly routes: Record<string, AdminHandler>;
  close(): void;
}

/**
 * The page holds itself to the admin listener: no script, style, image or
 * request goes anywhere else, and it cannot be framed.
 */
const PAGE_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

const PAGE_SIZES = { min: 10, max: 1000, default: 100 };

/**
 * The live status page on the admin listener. `/status.json` is the page's
 * data (header facts from here, the rest from the status board); the page's
 * script polls it. It holds nothing from the configuration: the ZooKeeper
 * credential and the file are never read here.
 */
export function createStatusPage(
  options: StatusPageOptions & { readiness: () => { ready: boolean; reasons: string[] }; logger: Logger },
): StatusPage {
  const { board, readiness, connections, logger } = options;
  const version = readVersion();
  const host = hostname();
  const startedAt = Date.now() - process.uptime() * 1000;
  let zkState = 'connecting';
  const zkSubscription = options.zkState$?.subscribe((state) => (zkState = state));
  const script = clientScript(logger);

  const document = (query: StatusQuery): StatusDocument => {
    const now = Date.now();
    return {
      instance: { host, pid: process.pid },
      version,
      startedAt: new Date(startedAt).toISOString(),
      now: new Date(now).toISOString(),
      uptimeSeconds: Math.round((now - startedAt) / 1000),
      ready: readiness(),
      zookeeper: options.zkState$ === undefined ? null : { state: zkState },
      connections: connections(),
      ...board.view(query),
    };
  };

  return {
    routes: {
      '/': (response) => send(response, 200, 'text/html; charset=utf-8', statusHtml, PAGE_HEADERS),
      '/status.css': (response) => send(response, 200, 'text/css; charset=utf-8', statusCss, PAGE_HEADERS),
      '/status.js': (response) => {
        const body = script();
        if (body === undefined) send(response, 503, 'text/plain; charset=utf-8', 'the status page script is not built (npm run build)\n');
        else send(response, 200, 'text/javascript; charset=utf-8', body, PAGE_HEADERS);
      },
      '/status.json': async (response, query) => {
        const view = document(parseStatusQuery(query));
        sendJson(response, 200, { ...view, fleet: (await options.fleet?.()) ?? null });
      },
    },
    close: () => zkSubscription?.unsubscribe(),
  };
}

/** `/status.json`'s parameters; anything out of range falls back to its default or nearest bound. */
export function parseStatusQuery(params: URLSearchParams): StatusQuery {
  const integer = (name: string, fallback: number, min: number, max: number) => {
    const value = Number.parseInt(params.get(name) ?? '', 10);
    return Number.isFinite(value) ? Math.min(Math.max(value, min), max) : fallback;
  };
  const sort = params.get('sort');
  return {
    filter: (params.get('filter') ?? '').slice(0, 200),
    page: integer('page', 1, 1, 1_000_000),
    pageSize: integer('size', PAGE_SIZES.default, PAGE_SIZES.min, PAGE_SIZES.max),
    sort: STATUS_SORTS.includes(sort as StatusSort) ? (sort as StatusSort) : 'table',
  };
}

/**
 * The browser script, compiled by `tsc` next to this file
 * (`assets/statusClient.js`). Run from the sources (tests under vitest) it is
 * read from the build in `dist/`. Read once, on first use; without a build
 * the page says so instead of failing the server.
 */
function clientScript(logger: Logger): () => string | undefined {
  let cached: string | undefined;
  let reported = false;
  const fromSources = import.meta.url.endsWith('.ts');
  const file = fileURLToPath(new URL(fromSources ? '../../../dist/src/io/status/assets/statusClient.js' : './assets/statusClient.js', import.meta.url));
  return () => {
    if (cached !== undefined) return cached;
    try {
      // The source map stays out: the page serves only what it needs.
      cached = readFileSync(file, 'utf8').replace(/^\/\/# sourceMappingURL=.*$/m, '');
    } catch (error) {
      if (!reported) logger.error({ err: error, file }, 'the status page script is missing; run npm run build');
      reported = true;
    }
    return cached;
  };
}
