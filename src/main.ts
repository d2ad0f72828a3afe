import { hostname } from 'node:os';
import { asyncScheduler, catchError, defer, firstValueFrom, forkJoin, interval, map, of, race, timer, type Observable, type Subscription } from 'rxjs';
import type { Logger } from 'pino';
import type { Config } from './config/types.js';
import { startTcpServer } from './io/server.js';
import { createUpstreamPool } from './io/upstream.js';
import { StringInterner } from './protocol/intern.js';
import { createZooKeeperDriver, type ZooKeeperDriver } from './io/zookeeper.js';
import { createRegistration, type Registration } from './io/registration.js';
import { readChildren, sharedRead } from './io/zkChildren.js';
import { adminUrl, advertisedAddress, fleetStatus, instanceName, instanceRecord$, parseFleet } from './streams/fleet.js';
import type { FleetInstance, FleetView } from './model/fleetTypes.js';
import { readVersion } from './version.js';
import { createZkRegistry } from './streams/zkRegistry.js';
import { createFileRegistry } from './streams/fileRegistry.js';
import { createFileWatcher } from './io/fileWatch.js';
import { createLeaderBook } from './model/leaderBook.js';
import { createTableRouter } from './streams/tableRouter.js';
import { namedMetas } from './streams/namedMetas.js';
import { routeRows } from './streams/routeRows.js';
import { serveConnection, type ConnectionSession } from './streams/serveConnection.js';
import type { ProxyHooks } from './model/proxyTypes.js';
import type { RouteInfo, RouteRegistry } from './model/route.js';
import { createMetrics } from './io/metrics/createMetrics.js';
import { loadCustomMetrics } from './io/metrics/custom.js';
import { startAdminServer, type AdminServer } from './io/admin.js';
import { createMemoryReporter } from './io/debugMemory.js';
import { mergeHooks } from './streams/mergeHooks.js';
import { createSweep } from './model/sweep.js';
import type { CustomMetrics, Metrics } from './model/metricsTypes.js';
import type { ZkSessionState } from './model/zkTypes.js';
import { createStatusBoard } from './streams/statusBoard.js';
import { createClientHosts } from './streams/clientHosts.js';

/** Granularity of the one timer behind every deadline, backup request and retry (ms). */
const SWEEP_TICK_MS = 5;

/** A running proxy: where it listens, and how to stop it. */
export interface RunningProxy {
  address: { host: string; port: number };
  adminAddress?: { host: string; port: number };
  registry: RouteRegistry;
  /** The registered instances, with ZooKeeper. */
  fleet?: FleetView;
  /** Stop accepting, answer in-flight requests within the drain time, close everything. */
  dispose(): Promise<void>;
}

export interface RunOptions {
  /** Extra observers of the proxy's work (metrics, tests). */
  hooks?: ProxyHooks;
}

/** Wires the drivers to the streams and starts serving. */
export async function run(config: Config, logger: Logger, options: RunOptions = {}): Promise<RunningProxy> {
  const scheduler = asyncScheduler;
  const cleanups: Array<() => void> = [];

  // Metrics first: the registry reports its ZooKeeper reads from its first request on.
  const metrics = createMetrics({ config: config.metric, logger });
  cleanups.push(() => metrics.close());
  let custom: CustomMetrics;
  try {
    custom = await loadCustomMetrics(config.metric.custom, metrics.customRegistry, logger);
  } catch (error) {
    metrics.close();
    throw error;
  }
  cleanups.push(() => custom.close());
  // Which client hosts ask for which table: after a switch, who has followed it.
  const clients = createClientHosts({ scheduler });
  const hooks: ProxyHooks = mergeHooks(metrics.proxyHooks, clients.hooks, custom.hooks, options.hooks);

  const { registry, zkState$, zk } = startRegistry(config, logger, cleanups, metrics);
  metrics.observeRegistry(registry);
  metrics.observeClients(clients, registry);
  const forgetting = registry.evicted$.subscribe((table) => clients.forget(table));
  cleanups.push(() => forgetting.unsubscribe());
  const clientsOf = (info: RouteInfo) => clients.counts(info);

  // Table, RPC and error names as one string each: cheaper to read, and their hashes are computed once.
  const names = new StringInterner();
  const pool = createUpstreamPool({
    names,
    connectTimeoutMs: config.upstream.connectTimeoutMs,
    maxPendingCalls: config.upstream.maxPendingCalls,
    silentReconnectAfter: config.upstream.silentReconnectAfter,
    idleCloseMs: config.upstream.idleCloseMs,
    onClose: (meta, reason) => metrics.upstreamReconnect(meta, reason),
    logger,
  });
  cleanups.push(() => pool.close());
  metrics.observeUpstream(pool);

  const leaders = createLeaderBook();
  if (config.upstream.idleCloseMs > 0) {
    // Checked at half the idle time (at most a minute apart), so a connection
    // outlives its last use by 1 to 2 idle periods (the check itself notes a use since the previous one).
    const everyMs = Math.min(60_000, Math.max(100, Math.floor(config.upstream.idleCloseMs / 2)));
    const retaining = interval(everyMs, scheduler).subscribe(() => pool.retain(namedMetas(registry.tables(), leaders)));
    cleanups.push(() => retaining.unsubscribe());
  }
  // Deadlines, backup requests and retries of every call in flight: one coarse timer.
  const sweep = createSweep(scheduler, SWEEP_TICK_MS);
  cleanups.push(() => sweep.close());
  const router = createTableRouter({
    registry,
    dispatcher: pool,
    leaders,
    sweep,
    scheduler,
    backupDelayMs: config.upstream.backupRequestDelayMs,
    retryDelayMs: config.upstream.retryDelayMs,
    dropHostPortFields: (cluster) =>
      config.upstream.clusters[cluster]?.dropHostPortFields ?? config.upstream.dropHostPortFields,
    ...(metrics.type !== 'none' && { recordCall: metrics.upstreamCall }),
    ...(hooks.rerouted !== undefined && { rerouted: hooks.rerouted }),
    hooks,
  });
  cleanups.push(() => router.dispose());

  const sessions = new Set<ConnectionSession>();
  // The status page samples the metrics registry only while somebody looks at it.
  const board = createStatusBoard({
    routes: () => registry.tables(),
    leader: (cluster) => leaders.get(cluster),
    clients: clientsOf,
    ...(metrics.type !== 'none' && { readMetrics: () => defer(() => metrics.snapshot()) }),
    scheduler,
    logger,
  });
  cleanups.push(() => board.dispose());

  // Only with node --expose-gc: a soak run reads the heap after a forced collection.
  const memory = createMemoryReporter();
  // Before the client listener, so /readyz says 503 until the proxy really listens.
  let listening = false;
  let admin: AdminServer | undefined;
  // Known once both listeners are bound: the node's name is the advertised client address.
  let fleet: FleetView | undefined;
  try {
    if (config.admin.listen !== null) {
      admin = await startAdminServer({
        host: config.admin.listen.host,
        port: config.admin.listen.port,
        metrics,
        registry,
        tableRows: () => routeRows(registry.tables(), (cluster) => leaders.get(cluster), clientsOf),
        clientHosts: (table) => {
          const info = registry.tables().find((route) => route.table === table);
          return info === undefined ? null : clients.list(info);
        },
        isListening: () => listening,
        status: {
          board,
          ...(zkState$ && { zkState$ }),
          connections: () => sessions.size,
          ...(zk && { fleet: () => fleet?.status() ?? Promise.resolve(null) }),
        },
        ...(memory !== undefined && { memory }),
        logger,
      });
    }
  } catch (error) {
    for (const cleanup of cleanups.reverse()) cleanup();
    throw error;
  }

  let server;
  try {
    server = await startTcpServer({
      host: config.server.listen.host,
      port: config.server.listen.port,
      maxConnections: config.server.maxConnections,
      logger,
    });
  } catch (error) {
    await admin?.close();
    for (const cleanup of cleanups.reverse()) cleanup();
    throw error;
  }
  listening = true;
  let registration: Registration | undefined;
  if (zk !== undefined && config.zookeeper !== undefined) {
    ({ fleet, registration } = startFleet(config, config.zookeeper, zk, server.address, admin?.address, registry.ready$, logger));
  }

  const serveOptions = {
    router,
    scheduler,
    defaultTimeoutMs: config.upstream.defaultTimeoutMs,
    maxTimeoutMs: config.upstream.maxTimeoutMs,
    hooks,
    maxFrameBytes: config.server.maxFrameBytes,
    maxInFlightPerConnection: config.server.maxInFlightPerConnection,
    partialFrameTimeoutMs: config.server.partialFrameTimeoutMs,
    names,
    logger,
  };
  // A session per connection, in the set until it is over (the server itself
  // refuses connections beyond the limit).
  const accepting: Subscription = server.connections$.subscribe((connection) => {
    sessions.add(serveConnection(connection, serveOptions, (session) => sessions.delete(session)));
  });

  logger.info({ listen: server.address }, 'meta-proxy listening');

  let disposing: Promise<void> | undefined;
  const dispose = () =>
    (disposing ??= (async () => {
      logger.info({ connections: sessions.size }, 'shutting down: no new connections, draining in-flight requests');
      listening = false;
      // Out of the fleet at once; deleted before ZooKeeper closes, below.
      const leaving = registration?.dispose();
      // The listener stops; the sessions stay subscribed until they are closed below.
      await server.stopAccepting();
      const drains = [...sessions].map((session) => session.drain());
      const outcome = await firstValueFrom(
        race(
          drains.length === 0 ? of('drained' as const) : forkJoin(drains).pipe(map(() => 'drained' as const)),
          timer(config.server.drainTimeoutMs).pipe(map(() => 'timeout' as const)),
        ),
      );
      if (outcome === 'timeout') {
        logger.warn({ drainTimeoutMs: config.server.drainTimeoutMs }, 'drain time over: closing connections with requests still in flight');
      }
      // Drained connections end gracefully, so replies still in their socket
      // buffers reach the client; only those still waiting are cut.
      for (const session of sessions) {
        if (session.inFlight() === 0) session.end();
        else session.close();
      }
      accepting.unsubscribe();
      await leaving;
      for (const cleanup of cleanups.reverse()) cleanup();
      await admin?.close();
      logger.info('shut down');
    })());

  return { address: server.address, ...(admin && { adminAddress: admin.address }), registry, ...(fleet && { fleet }), dispose };
}

/** How long a read of the fleet serves `/status.json` and `instances()`. */
const FLEET_READ_MAX_AGE_MS = 1000;

/** Registers this instance under `zookeeper.instances_path` and reads the fleet there on demand. */
function startFleet(
  config: Config,
  zkConfig: NonNullable<Config['zookeeper']>,
  zk: ZooKeeperDriver,
  listen: { host: string; port: number },
  adminListen: { host: string; port: number } | undefined,
  registryReady$: Observable<boolean>,
  logger: Logger,
): { fleet: FleetView; registration: Registration } {
  const host = hostname();
  const path = zkConfig.instancesPath;
  const self = instanceName(advertisedAddress(listen, config.server.advertise, host));
  const base = {
    listen: self,
    admin: adminListen === undefined ? null : adminUrl(advertisedAddress(adminListen, config.admin.advertise, host)),
    version: readVersion(),
    pid: process.pid,
    startedAt: new Date(Date.now() - process.uptime() * 1000).toISOString(),
    routesRoot: zkConfig.root,
  };
  // The client listener is up by now; the registry's readiness follows ZooKeeper.
  const ready$ = registryReady$.pipe(catchError(() => of(false)));
  const registration = createRegistration({
    zk,
    path: `${path}/${self}`,
    data$: instanceRecord$(base, ready$),
    retryMs: zkConfig.timeoutMs,
    logger,
  });

  const read = sharedRead(async () => parseFleet(await readChildren(zk, path)), FLEET_READ_MAX_AGE_MS);
  let last: FleetInstance[] = [];
  const refresh = () =>
    read().then((instances) => {
      last = instances;
      return instances;
    });
  const fleet: FleetView = {
    path,
    self,
    instances: () => {
      refresh().catch((error: unknown) => logger.debug({ err: error, path }, 'cannot read the fleet'));
      return last;
    },
    status: () =>
      refresh().then(
        (instances) => fleetStatus(path, self, instances),
        (error: unknown) => ({ ...fleetStatus(path, self, last), error: error instanceof Error ? error.message : String(error) }),
      ),
  };
  return { fleet, registration };
}

function startRegistry(
  config: Config,
  logger: Logger,
  cleanups: Array<() => void>,
  metrics: Metrics,
): { registry: RouteRegistry; zkState$?: Observable<ZkSessionState>; zk?: ZooKeeperDriver } {
  if (config.zookeeper !== undefined) {
    const zk = config.zookeeper;
    const driver = createZooKeeperDriver({
      address: zk.address,
      timeoutMs: zk.timeoutMs,
      auth: zk.auth,
      logger,
    });
    cleanups.push(() => driver.close());
    if (metrics.type !== 'none') {
      const states = driver.state$.subscribe((state) => metrics.zkState(state));
      cleanups.push(() => states.unsubscribe());
    }
    const registry = createZkRegistry({
      driver,
      root: zk.root,
      capacity: zk.tableWatcherCacheCapacity,
      timeoutMs: zk.timeoutMs,
      hooks: metrics.registryHooks,
      logger,
    });
    cleanups.push(() => registry.dispose());
    return { registry, zkState$: driver.state$, zk: driver };
  }
  const registry = createFileRegistry({
    file: config.registry.file!,
    watch: createFileWatcher(),
    hooks: metrics.registryHooks,
    logger,
  });
  cleanups.push(() => registry.dispose());
  return { registry };
}
