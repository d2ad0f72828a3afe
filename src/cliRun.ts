import { config as rxjsConfig } from 'rxjs';
import type { Logger } from 'pino';
import { parseArgs, USAGE } from './cliArgs.js';
import { loadConfig, redactConfig } from './config/load.js';
import { summarizeConfig } from './config/summary.js';
import type { Config } from './config/types.js';
import { ConfigError, UsageError } from './errors.js';
import { createLogger, type LoggerHandle } from './io/logger.js';
import type { RunningProxy } from './main.js';
import { runPrimary, workerConfig, workerLogFile, type WorkerProcess } from './cliWorkers.js';

export type { WorkerProcess } from './cliWorkers.js';

/** The part of a running proxy the command uses. */
export type ServingProxy = Pick<RunningProxy, 'address' | 'adminAddress' | 'dispose'>;

/** Everything the command needs from the process, passed in so the flow can be tested in-process. */
export interface CliEnv {
  argv: readonly string[];
  version: string;
  stdout(text: string): void;
  stderr(text: string): void;
  run(config: Config, logger: Logger): Promise<ServingProxy>;
  /** Calls `handler` on SIGTERM and SIGINT; returns the deregistration. */
  onSignal(handler: (signal: string) => void): () => void;
  /** Calls `handler` on SIGHUP (reopen the log file); returns the deregistration. */
  onHangup?(handler: () => void): () => void;
  /** Calls `handler` on an uncaught exception; returns the deregistration. */
  onFatal(handler: (error: unknown) => void): () => void;
  /** Leaves immediately, skipping the orderly shutdown. */
  exitNow(code: number): void;
  /** Extra time beyond `server.drain_timeout_ms` that `dispose()` gets before shutdown is declared failed. */
  disposeGraceMs?: number;
  /**
   * Starts a worker process running this same command. Present in a process
   * that may become the primary of `server.workers` > 1; absent in a worker.
   */
  forkWorker?(slot: number): WorkerProcess;
  /** Set in a worker: its slot, 1..workers (log lines, log file name and admin port carry it). */
  workerId?: number;
  /** In a worker: tells the primary it is serving. */
  workerReady?(): void;
  /** CPU cores, for `server.workers: 0` / `auto`. Default 1. */
  cores?: number;
}

const EXIT_OK = 0;
const EXIT_FATAL = 1;
const EXIT_USAGE = 2;

/**
 * The `meta-proxy` command. Resolves with the exit code once there is nothing
 * left to do: at once for --help, --version and --check-config; after a clean
 * shutdown when running.
 */
export async function runCli(env: CliEnv): Promise<number> {
  let command;
  try {
    command = parseArgs(env.argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    env.stderr(`meta-proxy: ${error.message}\n\n${USAGE}`);
    return EXIT_USAGE;
  }
  if (command.kind === 'help') {
    env.stdout(USAGE);
    return EXIT_OK;
  }
  if (command.kind === 'version') {
    env.stdout(`${env.version}\n`);
    return EXIT_OK;
  }

  let config: Config;
  try {
    config = loadConfig(command.configFile);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    env.stderr(`meta-proxy: invalid configuration:\n${error.message}\n`);
    return EXIT_USAGE;
  }
  if (command.kind === 'check') {
    env.stdout(`config OK: ${config.file}\n${summarizeConfig(config)}\n`);
    return EXIT_OK;
  }

  const workerId = env.workerId;
  const logFile = command.logFile === undefined || workerId === undefined ? command.logFile : workerLogFile(command.logFile, workerId);
  let handle: LoggerHandle;
  try {
    handle = createLogger({ ...(logFile !== undefined && { file: logFile }), ...config.log });
  } catch (error) {
    env.stderr(`meta-proxy: ${(error as Error).message}\n`);
    return EXIT_FATAL;
  }
  if (workerId !== undefined) handle = { ...handle, logger: handle.logger.child({ worker: workerId }) };
  const workers = config.server.workers === 0 ? Math.max(1, env.cores ?? 1) : config.server.workers;
  if (workers > 1 && env.forkWorker !== undefined) return servePrimary(env, config, handle, workers, logFile);
  return serve(env, workerId === undefined ? config : workerConfig(config, workerId), handle, logFile);
}

async function servePrimary(env: CliEnv, config: Config, handle: LoggerHandle, workers: number, logFile: string | undefined): Promise<number> {
  const { logger } = handle;
  // The workers see the primary's IPC channel close and drain on their own.
  const offFatal = env.onFatal((error) => {
    logger.fatal({ err: error }, 'uncaught exception in the primary; exiting');
    env.stderr(`meta-proxy: fatal: ${describe(error)}\n`);
    env.exitNow(EXIT_FATAL);
  });
  // Each worker reopens its own file: runPrimary forwards the signal to them.
  const offHangup = env.onHangup?.(() => reopenLog(handle, logFile));
  logger.info({ version: env.version, logFile, workers, config: redactConfig(config) }, 'starting meta-proxy');
  const code = await runPrimary({ ...env, forkWorker: env.forkWorker! }, config, logger, workers);
  offHangup?.();
  offFatal();
  logger.info({ code }, code === EXIT_OK ? 'stopped' : 'stopped with errors');
  await handle.close();
  return code;
}

async function serve(env: CliEnv, config: Config, handle: LoggerHandle, logFile: string | undefined): Promise<number> {
  const { logger } = handle;
  const previousUnhandled = rxjsConfig.onUnhandledError;
  // A throw that escapes a stream (e.g. in a custom metric's teardown) is logged, never a crash.
  rxjsConfig.onUnhandledError = (error: unknown) => logger.error({ err: error }, 'unhandled error in a stream');
  const offFatal = env.onFatal((error) => {
    logger.fatal({ err: error }, 'uncaught exception; exiting');
    env.stderr(`meta-proxy: fatal: ${describe(error)}\n`);
    env.exitNow(EXIT_FATAL);
  });

  let signalled: (signal: string) => void = () => undefined;
  const stopRequested = new Promise<string>((resolve) => (signalled = resolve));
  let firstSignal: string | undefined;
  const offSignal = env.onSignal((signal) => {
    if (firstSignal === undefined) {
      firstSignal = signal;
      signalled(signal);
      return;
    }
    logger.warn({ signal, firstSignal }, 'second signal during shutdown; exiting at once');
    env.exitNow(EXIT_FATAL);
  });
  const offHangup = env.onHangup?.(() => reopenLog(handle, logFile));

  const finish = async (code: number) => {
    offHangup?.();
    offSignal();
    offFatal();
    rxjsConfig.onUnhandledError = previousUnhandled;
    await handle.close();
    return code;
  };

  logger.info({ version: env.version, logFile, config: redactConfig(config) }, 'starting meta-proxy');
  if (config.zookeeper && config.registry.file !== undefined) {
    logger.warn({ registryFile: config.registry.file }, 'registry.file is ignored: routes come from the zookeeper section');
  }
  let proxy: ServingProxy;
  try {
    proxy = await env.run(config, logger);
  } catch (error) {
    logger.fatal({ err: error }, 'failed to start');
    env.stderr(`meta-proxy: failed to start: ${describe(error)}\n`);
    // A problem only found while wiring (a custom metric module that will not load) is still the config's.
    return finish(error instanceof ConfigError ? EXIT_USAGE : EXIT_FATAL);
  }
  logger.info({ address: proxy.address, adminAddress: proxy.adminAddress ?? null }, 'listening');
  env.workerReady?.();

  const signal = await stopRequested;
  logger.info({ signal, drainTimeoutMs: config.server.drainTimeoutMs }, 'shutting down');
  const deadlineMs = config.server.drainTimeoutMs + (env.disposeGraceMs ?? 5000);
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    proxy.dispose().then(
      () => 'stopped' as const,
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        return 'failed' as const;
      },
    ),
    new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), deadlineMs))),
  ]);
  clearTimeout(timer);
  if (outcome === 'late') logger.error({ deadlineMs }, 'shutdown did not finish in time');
  else if (outcome === 'stopped') logger.info({ signal }, 'stopped');
  return finish(outcome === 'stopped' ? EXIT_OK : EXIT_FATAL);
}

/** SIGHUP: the file at the path may be a new one (logrotate renamed the old); the line says so in the new one. */
function reopenLog(handle: LoggerHandle, logFile: string | undefined): void {
  if (handle.reopen()) handle.logger.info({ logFile }, 'SIGHUP: log file reopened');
  else handle.logger.info('SIGHUP: logging to stdout, no file to reopen');
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
