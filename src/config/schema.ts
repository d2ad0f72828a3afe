import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import type { Config } from './types.js';
import { formatHostPort, parseHostPort, type HostPort, type HostPortRules } from '../protocol/hostPort.js';
import { closestKey } from './suggest.js';

/** What the schema needs from outside the YAML text, passed in so parsing stays pure. */
export interface SchemaContext {
  /** Folder of the config file: relative paths in it are relative to this. */
  baseDir: string;
  /** Default `metric.falcon.endpoint`. */
  hostname: string;
}

/** The effective configuration minus `file`, which the loader adds. */
export type ParsedConfig = Omit<Config, 'file'>;

/** Defaults of every optional key, in the YAML's own units. */
export const DEFAULTS = {
  zookeeper: { root: '/pegasus-cluster', timeout: 1000, tableWatcherCacheCapacity: 1024, instancesPath: '/meta-proxy/instances' },
  metric: { type: 'prometheus', falconAgentUrl: 'http://127.0.0.1:1988/v1/push', falconStepSeconds: 60 },
  server: {
    listen: '0.0.0.0:34601',
    maxFrameBytes: 1_048_576,
    maxConnections: 10_000,
    maxInFlightPerConnection: 256,
    // Long on purpose: the Go client redials at most once per 60 s, so an eager close costs it a minute.
    partialFrameTimeoutMs: 120_000,
    drainTimeoutMs: 10_000,
    workers: 1,
  },
  admin: { listen: ':9091' },
  upstream: {
    connectTimeoutMs: 1000,
    defaultTimeoutMs: 5000,
    maxTimeoutMs: 60_000,
    // The Go client's own backup-request delay.
    backupRequestDelayMs: 1000,
    retryDelayMs: 200,
    maxPendingCalls: 100_000,
    silentReconnectAfter: 3,
    // Long enough that a table switched back soon finds its connections still open.
    idleCloseMs: 5 * 60 * 1000,
  },
  log: { level: 'info', maxSizeMb: 500, maxFiles: 10, maxAgeDays: 7 },
} as const;

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
const METRIC_TYPES = ['prometheus', 'falcon', 'none'] as const;
const PROMETHEUS_LABEL = /^[A-Za-z_][A-Za-z0-9_]*$/;
// Labels the proxy's own metrics carry; a constant tag with the same name would clash at registration.
const RESERVED_LABELS = new Set(['table', 'cluster', 'result', 'meta', 'le', 'quantile']);

/** How a YAML value reads in a message: strings quoted, containers by kind. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'an empty value';
  if (typeof value === 'string') {
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  }
  if (Array.isArray(value)) return value.length === 0 ? 'an empty list' : 'a list';
  if (value instanceof Date) return `the date ${value.toISOString()}`;
  if (typeof value === 'object') return 'a mapping';
  return String(value);
}

type ErrorFn = (issue: { input?: unknown }) => string;

/** One error text for a key, whatever check failed: what was expected and what was found. */
function expected(what: string): ErrorFn {
  return (issue) =>
    issue.input === undefined ? `missing: expected ${what}` : `expected ${what}, got ${describeValue(issue.input)}`;
}

function integer(what: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  const error = expected(what);
  return z.number({ error }).int({ error }).min(min, { error }).max(max, { error });
}

const milliseconds = (min: 0 | 1) =>
  integer(min === 1 ? 'a positive integer (milliseconds)' : 'a non-negative integer (milliseconds, 0 = never)', min);

/** A mapping whose unknown keys are each reported by path, with the closest known key. */
function section<Shape extends z.ZodRawShape>(shape: Shape) {
  const known = Object.keys(shape);
  const unknownKey = z.custom<unknown>(() => false, {
    error: (issue) => {
      const key = String(issue.path?.at(-1) ?? '');
      const guess = closestKey(key, known);
      return guess === undefined ? 'unknown key' : `unknown key (did you mean "${guess}"?)`;
    },
  });
  // An empty section (`metric:` with nothing under it) reads as YAML null: treat it as {}.
  return z.preprocess(
    (value) => value ?? {},
    z.object(shape, { error: expected('a mapping of keys') }).catchall(unknownKey),
  );
}

function hostPort(what: string, rules: HostPortRules) {
  return z.string({ error: expected(what) }).transform((text, ctx): HostPort => {
    const parsed = parseHostPort(text, rules);
    if ('error' in parsed) {
      ctx.issues.push({ code: 'custom', input: text, message: `expected ${what}, got ${describeValue(text)}: ${parsed.error}` });
      return z.NEVER;
    }
    return parsed;
  });
}

/** An address others dial: `host:port`, a real host (not 0.0.0.0 or ::); port 0 = the bound port. */
function advertiseAddress(what: string) {
  return hostPort(what, { minPort: 0 }).superRefine((address, ctx) => {
    if (address.host === '0.0.0.0' || address.host === '::') {
      ctx.addIssue({ code: 'custom', input: address, message: `expected ${what}, got "${formatHostPort(address)}": others cannot dial ${address.host}` });
    }
  });
}

/** A listen address: `host:port`, `:port` (all interfaces) or a bare port number. */
function listenAddress(what: string) {
  return z.preprocess(
    (value) => (typeof value === 'number' && Number.isInteger(value) ? `:${value}` : value),
    hostPort(what, { minPort: 0, defaultHost: '0.0.0.0' }),
  );
}

const addressList = z.preprocess(
  // The Go service took a YAML list; a comma-separated string is the ZooKeeper connect-string habit.
  (value) =>
    typeof value === 'string'
      ? value.split(',').map((part) => part.trim()).filter((part) => part !== '')
      : value,
  z
    .array(hostPort('host:port (port 1-65535)', { minPort: 1 }).transform(formatHostPort), {
      error: expected('a list of host:port'),
    })
    .min(1, { error: expected('at least one host:port') }),
);

const zookeeperRoot = z
  .string({ error: expected('a ZooKeeper path') })
  .refine((root) => /^(\/[^/\s]+)+$/.test(root), {
    error: expected("a ZooKeeper path starting with '/', without a trailing '/' or empty segments"),
  });

/** `[k=v, ...]`, `"k=v,k=v"` or `{k: v}` → a record of Prometheus-safe labels. */
const tags = z.preprocess((value) => value ?? null, z.unknown().transform((value, ctx): Record<string, string> => {
  const result: Record<string, string> = {};
  if (value === null) return result;
  const entries: Array<{ path: PropertyKey[]; key: string; value: string; raw: unknown }> = [];
  const what = 'key=value';
  if (typeof value === 'string' || Array.isArray(value)) {
    const items: unknown[] = typeof value === 'string' ? value.split(',').map((s) => s.trim()).filter(Boolean) : value;
    items.forEach((item, index) => {
      const path = typeof value === 'string' ? [] : [index];
      const eq = typeof item === 'string' ? item.indexOf('=') : -1;
      if (typeof item !== 'string' || eq < 0) {
        ctx.issues.push({ code: 'custom', path, input: item, message: `expected ${what}, got ${describeValue(item)}` });
        return;
      }
      entries.push({ path, key: item.slice(0, eq).trim(), value: item.slice(eq + 1).trim(), raw: item });
    });
  } else if (typeof value === 'object') {
    for (const [key, tagValue] of Object.entries(value)) {
      if (typeof tagValue !== 'string' && typeof tagValue !== 'number') {
        ctx.issues.push({ code: 'custom', path: [key], input: tagValue, message: `expected a string, got ${describeValue(tagValue)}` });
        continue;
      }
      entries.push({ path: [key], key, value: String(tagValue), raw: `${key}=${tagValue}` });
    }
  } else {
    ctx.issues.push({ code: 'custom', input: value, message: `expected a list of ${what}, got ${describeValue(value)}` });
    return z.NEVER;
  }
  for (const entry of entries) {
    const got = describeValue(entry.raw);
    let problem: string | undefined;
    if (!PROMETHEUS_LABEL.test(entry.key) || entry.key.startsWith('__')) {
      problem = `expected ${what} with a label name of letters, digits and '_' (not starting with a digit or "__"), got ${got}`;
    } else if (RESERVED_LABELS.has(entry.key)) {
      problem = `"${entry.key}" is a label the proxy's own metrics use; choose another tag name (got ${got})`;
    } else if (entry.value === '') {
      problem = `expected ${what} with a non-empty value, got ${got}`;
    } else if (entry.key in result) {
      problem = `tag "${entry.key}" is given twice`;
    }
    if (problem) ctx.issues.push({ code: 'custom', path: entry.path, input: entry.raw, message: problem });
    else result[entry.key] = entry.value;
  }
  return result;
}));

const httpUrl = z.string({ error: expected('an http(s) URL') }).refine(
  (text) => {
    try {
      const url = new URL(text);
      return url.protocol === 'http:' || url.protocol === 'https:';
    } catch {
      return false;
    }
  },
  { error: expected('an http(s) URL') },
);

const secretError: ErrorFn = (issue) =>
  issue.input === undefined ? 'missing: expected "user:password"' : 'expected "user:password" (the value is not shown)';

const nonEmptyString = (what: string) => z.string({ error: expected(what) }).min(1, { error: expected(what) });
const bool = z.boolean({ error: expected('true or false') });

/**
 * The schema of the YAML file (snake_case keys) producing the effective
 * configuration (camelCase, defaults filled in, paths absolute).
 */
export function createConfigSchema(context: SchemaContext) {
  const path = (file: string) => (isAbsolute(file) ? file : resolve(context.baseDir, file));

  const zookeeper = section({
    address: addressList,
    root: zookeeperRoot.default(DEFAULTS.zookeeper.root),
    timeout: milliseconds(1).default(DEFAULTS.zookeeper.timeout),
    table_watcher_cache_capacity: integer('a positive integer (routes)', 1).default(
      DEFAULTS.zookeeper.tableWatcherCacheCapacity,
    ),
    instances_path: zookeeperRoot.default(DEFAULTS.zookeeper.instancesPath),
    auth: section({
      scheme: z.literal('digest', { error: expected('"digest" (the only scheme supported)') }),
      // Never echo the value in a message: it is a secret.
      credential: z
        .string({ error: secretError })
        .refine((text) => /^[^:]+:.+$/.test(text), { error: secretError }),
    }).optional(),
  });

  const upstreamCluster = section({ drop_host_port_fields: bool.optional() });

  return section({
    zookeeper: zookeeper.optional(),
    registry: section({ file: nonEmptyString('a file path').optional() }),
    metric: section({
      type: z.enum(METRIC_TYPES, { error: expected('one of prometheus, falcon, none') }).default(DEFAULTS.metric.type),
      tags,
      falcon: section({
        agent_url: httpUrl.default(DEFAULTS.metric.falconAgentUrl),
        step_seconds: integer('a positive integer (seconds)', 1).default(DEFAULTS.metric.falconStepSeconds),
        endpoint: nonEmptyString('a non-empty endpoint name').optional(),
      }),
      custom: z
        .preprocess(
          (value) => value ?? [],
          z.array(nonEmptyString('a module path'), { error: expected('a list of module paths') }),
        ),
    }),
    server: section({
      listen: listenAddress('host:port (port 0-65535)').default({ host: '0.0.0.0', port: 34601 }),
      // 64 bytes hold the fixed frame header; anything smaller could never carry a request.
      max_frame_bytes: integer('an integer from 64 to 1073741824 (bytes)', 64, 1 << 30).default(DEFAULTS.server.maxFrameBytes),
      max_connections: integer('a positive integer', 1).default(DEFAULTS.server.maxConnections),
      max_in_flight_per_connection: integer('a positive integer', 1).default(DEFAULTS.server.maxInFlightPerConnection),
      partial_frame_timeout_ms: milliseconds(0).default(DEFAULTS.server.partialFrameTimeoutMs),
      drain_timeout_ms: milliseconds(0).default(DEFAULTS.server.drainTimeoutMs),
      // "auto" and 0 both mean one per CPU core; kept as 0 so the count is taken where the proxy runs.
      advertise: advertiseAddress('host:port that clients dial (port 0 = the bound port)').optional(),
      workers: z
        .preprocess(
          (value) => (value === 'auto' ? 0 : value),
          integer('a non-negative integer or "auto" (processes; 0 and "auto" = one per CPU core)', 0, 1024),
        )
        .default(DEFAULTS.server.workers),
    }),
    admin: section({
      listen: z
        .preprocess(
          (value) => (value === '' ? null : value),
          listenAddress('host:port or :port (port 0-65535), or "" to disable').nullable(),
        )
        .default({ host: '0.0.0.0', port: 9091 }),
      advertise: advertiseAddress('host:port that operators dial (port 0 = the bound port)').optional(),
    }),
    upstream: section({
      connect_timeout_ms: milliseconds(1).default(DEFAULTS.upstream.connectTimeoutMs),
      default_timeout_ms: milliseconds(1).default(DEFAULTS.upstream.defaultTimeoutMs),
      max_timeout_ms: milliseconds(1).default(DEFAULTS.upstream.maxTimeoutMs),
      backup_request_delay_ms: milliseconds(1).default(DEFAULTS.upstream.backupRequestDelayMs),
      retry_delay_ms: milliseconds(0).default(DEFAULTS.upstream.retryDelayMs),
      max_pending_calls: integer('a positive integer', 1).default(DEFAULTS.upstream.maxPendingCalls),
      silent_reconnect_after: integer('a whole number of calls (0 = never)', 0).default(DEFAULTS.upstream.silentReconnectAfter),
      idle_close_ms: milliseconds(0).default(DEFAULTS.upstream.idleCloseMs),
      drop_host_port_fields: bool.default(false),
      clusters: z
        .preprocess(
          (value) => value ?? {},
          z.record(z.string(), upstreamCluster, { error: expected('a mapping of cluster name to options') }),
        ),
    }),
    log: section({
      level: z.enum(LOG_LEVELS, { error: expected(`one of ${LOG_LEVELS.join(', ')}`) }).default(DEFAULTS.log.level),
      max_size_mb: integer('a non-negative integer (megabytes, 0 = never rotate: an external logrotate does)', 0).default(
        DEFAULTS.log.maxSizeMb,
      ),
      max_files: integer('a positive integer (rotated files kept)', 1).default(DEFAULTS.log.maxFiles),
      max_age_days: integer('a non-negative integer (days, 0 = keep forever)', 0).default(DEFAULTS.log.maxAgeDays),
    }),
  })
    .superRefine((raw, ctx) => {
      if (raw.zookeeper === undefined && raw.registry.file === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: [],
          message: 'neither a "zookeeper" section nor "registry.file" is set: routes must come from one of them',
        });
      }
      const zk = raw.zookeeper;
      if (zk !== undefined) {
        const within = (path: string, folder: string): boolean => path === folder || path.startsWith(`${folder}/`);
        // Every child of the root is read as a table's route, and every child of the instances path as an instance.
        if (within(zk.instances_path, zk.root) || within(zk.root, zk.instances_path)) {
          ctx.addIssue({
            code: 'custom',
            path: ['zookeeper', 'instances_path'],
            message: `expected a path outside the routes root zookeeper.root (${zk.root}) and not above it, got "${zk.instances_path}"`,
          });
        }
      }
      if (raw.upstream.default_timeout_ms > raw.upstream.max_timeout_ms) {
        ctx.addIssue({
          code: 'custom',
          path: ['upstream', 'default_timeout_ms'],
          message: `expected at most upstream.max_timeout_ms (${raw.upstream.max_timeout_ms}), got ${raw.upstream.default_timeout_ms}`,
        });
      }
    })
    .transform(
      (raw): ParsedConfig => ({
        ...(raw.zookeeper && {
          zookeeper: {
            address: raw.zookeeper.address,
            root: raw.zookeeper.root,
            timeoutMs: raw.zookeeper.timeout,
            tableWatcherCacheCapacity: raw.zookeeper.table_watcher_cache_capacity,
            instancesPath: raw.zookeeper.instances_path,
            ...(raw.zookeeper.auth && {
              auth: { scheme: raw.zookeeper.auth.scheme, credential: raw.zookeeper.auth.credential },
            }),
          },
        }),
        registry: raw.registry.file === undefined ? {} : { file: path(raw.registry.file) },
        metric: {
          type: raw.metric.type,
          tags: raw.metric.tags,
          falcon: {
            agentUrl: raw.metric.falcon.agent_url,
            stepSeconds: raw.metric.falcon.step_seconds,
            endpoint: raw.metric.falcon.endpoint ?? context.hostname,
          },
          custom: raw.metric.custom.map(path),
        },
        server: {
          listen: raw.server.listen,
          maxFrameBytes: raw.server.max_frame_bytes,
          maxConnections: raw.server.max_connections,
          maxInFlightPerConnection: raw.server.max_in_flight_per_connection,
          partialFrameTimeoutMs: raw.server.partial_frame_timeout_ms,
          drainTimeoutMs: raw.server.drain_timeout_ms,
          workers: raw.server.workers,
          ...(raw.server.advertise && { advertise: raw.server.advertise }),
        },
        admin: { listen: raw.admin.listen, ...(raw.admin.advertise && { advertise: raw.admin.advertise }) },
        upstream: {
          connectTimeoutMs: raw.upstream.connect_timeout_ms,
          defaultTimeoutMs: raw.upstream.default_timeout_ms,
          maxTimeoutMs: raw.upstream.max_timeout_ms,
          backupRequestDelayMs: raw.upstream.backup_request_delay_ms,
          retryDelayMs: raw.upstream.retry_delay_ms,
          maxPendingCalls: raw.upstream.max_pending_calls,
          silentReconnectAfter: raw.upstream.silent_reconnect_after,
          idleCloseMs: raw.upstream.idle_close_ms,
          dropHostPortFields: raw.upstream.drop_host_port_fields,
          clusters: Object.fromEntries(
            Object.entries(raw.upstream.clusters).map(([name, options]) => [
              name,
              options.drop_host_port_fields === undefined ? {} : { dropHostPortFields: options.drop_host_port_fields },
            ]),
          ),
        },
        log: {
          level: raw.log.level,
          maxSizeBytes: raw.log.max_size_mb * 1024 * 1024,
          maxFiles: raw.log.max_files,
          maxAgeDays: raw.log.max_age_days,
        },
      }),
    );
}
