/**
 * The effective configuration, after defaults. YAML keys are snake_case; the
 * loader maps them to these camelCase fields. Times are in milliseconds.
 */
export interface Config {
  /** The file it was loaded from (absolute), for messages and relative paths. */
  file: string;
  /** Absent when the YAML has no `zookeeper` section: routes then come from `registry.file`. */
  zookeeper?: {
    address: string[];
    root: string;
    timeoutMs: number;
    tableWatcherCacheCapacity: number;
    /** Where each instance registers its ephemeral node (outside `root`). */
    instancesPath: string;
    /** Digest auth, `user:password`. Never logged or shown. */
    auth?: { scheme: 'digest'; credential: string };
  };
  registry: {
    /** Embedded file registry (YAML/JSON map table → {cluster_name, meta_addrs}); absolute path. */
    file?: string;
  };
  metric: {
    type: 'prometheus' | 'falcon' | 'none';
    /** `key=value` pairs, already split. */
    tags: Record<string, string>;
    falcon: { agentUrl: string; stepSeconds: number; endpoint: string };
    /** Module paths (absolute) of custom metric operators. */
    custom: string[];
  };
  server: {
    listen: { host: string; port: number };
    maxFrameBytes: number;
    maxConnections: number;
    maxInFlightPerConnection: number;
    /** Close a connection that holds a partial frame for this long; 0 = never. */
    partialFrameTimeoutMs: number;
    drainTimeoutMs: number;
    /**
     * Processes serving the listen port (node:cluster), each a whole proxy with
     * its own route cache and ZooKeeper session; 0 = one per CPU core.
     */
    workers: number;
    /** The client address others dial, when the bound one is not it; port 0 = the bound port. */
    advertise?: { host: string; port: number };
  };
  admin: {
    /** `null` disables the admin HTTP server. */
    listen: { host: string; port: number } | null;
    /** The admin address others dial, when the bound one is not it; port 0 = the bound port. */
    advertise?: { host: string; port: number };
  };
  upstream: {
    connectTimeoutMs: number;
    /** Deadline used when the client sets no sane timeout of its own. */
    defaultTimeoutMs: number;
    /** Upper bound on any deadline, whatever the client asks. */
    maxTimeoutMs: number;
    backupRequestDelayMs: number;
    /** Delay before retrying a meta that said SERVICE_NOT_ACTIVE / UNDER_RECOVERY. */
    retryDelayMs: number;
    maxPendingCalls: number;
    /**
     * Calls in a row that a meta leaves unanswered past the backup delay while
     * other metas of its cluster answer, before its connection is closed and
     * opened afresh; 0 = never.
     */
    silentReconnectAfter: number;
    /** Close a connection to a meta no cached route names once unused this long; 0 = never. */
    idleCloseMs: number;
    /** Strip hp_* fields (9–11) from query-config answers, for clients built from old IDL. */
    dropHostPortFields: boolean;
    /** Per-cluster overrides, keyed by cluster name. */
    clusters: Record<string, { dropHostPortFields?: boolean }>;
  };
  log: {
    level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';
    /** Rotation limits when logging to a file; `maxSizeBytes` 0 = no built-in rotation. */
    maxSizeBytes: number;
    /** Rotated files kept beside the live one (`<file>.1` …). */
    maxFiles: number;
    maxAgeDays: number;
  };
}
