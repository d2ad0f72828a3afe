import type { Logger } from 'pino';
import type { Config } from './config/types.js';

/** One worker process, as the primary sees it. `node:cluster` in the real command, fakes in tests. */
export interface WorkerProcess {
  /** Its slot, 1..workers: a replacement takes the slot of the worker it replaces. */
  readonly id: number;
  readonly pid: number | undefined;
  /** Called once the worker is serving (its `run()` resolved). */
  onReady(handler: () => void): void;
  /** Called once, when the process is gone. */
  onExit(handler: (code: number | null, signal: string | null) => void): void;
  /** Asks for an orderly shutdown: stop accepting, drain, exit. */
  shutdown(): void;
  /** Passes a SIGHUP on: the worker reopens its own log file. */
  reopenLog(): void;
  /** Kills it at once. */
  kill(): void;
}

export interface PrimaryEnv {
  /** Starts a worker running the same command in `slot` (1..workers), which becomes its id. */
  forkWorker(slot: number): WorkerProcess;
  onSignal(handler: (signal: string) => void): () => void;
  /** SIGHUP of the primary: passed on to every worker. */
  onHangup?(handler: () => void): () => void;
  exitNow(code: number): void;
  /** Time beyond `server.drain_timeout_ms` the workers get to exit before they are killed. Default 5000 ms. */
  disposeGraceMs?: number;
  /** Pause before replacing a worker that died while serving. Default 1000 ms. */
  respawnDelayMs?: number;
}

/** More deaths than this within a minute means something is wrong with every worker, not one. */
const MAX_RESPAWNS_PER_MINUTE = 5;
const MINUTE_MS = 60_000;

/**
 * The primary of a proxy run as several processes: forks `count` workers
 * (each a whole proxy; `node:cluster` shares the listen port among them),
 * replaces one that dies while serving, and on SIGTERM/SIGINT asks every
 * worker to drain and waits for all of them.
 *
 * Resolves with the exit code: 0 when every worker stopped cleanly; when a
 * worker fails to start, its own code if it was 2 (a configuration problem
 * found while wiring), else 1; 1 when a worker had to be killed.
 */
export function runPrimary(env: PrimaryEnv, config: Config, logger: Logger, count: number): Promise<number> {
  return new Promise((resolve) => {
    const live = new Map<number, WorkerProcess>();
    const ready = new Set<number>();
    const respawnTimers = new Set<NodeJS.Timeout>();
    let deaths: number[] = [];
    let stopping = false;
    let announced = false;
    let exitCode = 0;
    let killTimer: NodeJS.Timeout | undefined;
    let firstSignal: string | undefined;

    const finishIfDone = (): void => {
      if (!stopping || live.size > 0) return;
      clearTimeout(killTimer);
      offSignal();
      offHangup?.();
      resolve(exitCode);
    };

    const stopAll = (): void => {
      if (stopping) return;
      stopping = true;
      for (const timer of respawnTimers) clearTimeout(timer);
      respawnTimers.clear();
      for (const worker of live.values()) worker.shutdown();
      const deadlineMs = config.server.drainTimeoutMs + (env.disposeGraceMs ?? 5000);
      killTimer = setTimeout(() => {
        logger.error({ deadlineMs, workers: [...live.keys()] }, 'workers did not stop in time; killing them');
        exitCode = 1;
        for (const worker of live.values()) worker.kill();
      }, deadlineMs);
      finishIfDone();
    };

    const spawn = (slot: number): void => {
      const worker = env.forkWorker(slot);
      live.set(worker.id, worker);
      worker.onReady(() => {
        ready.add(worker.id);
        if (!announced && ready.size === count) {
          announced = true;
          logger.info({ workers: count }, 'every worker is listening');
        }
      });
      worker.onExit((code, signal) => {
        live.delete(worker.id);
        const served = ready.delete(worker.id);
        if (stopping) {
          if (code !== 0) {
            logger.warn({ worker: worker.id, pid: worker.pid, code, signal }, 'worker did not stop cleanly');
            if (exitCode === 0) exitCode = 1;
          }
          finishIfDone();
          return;
        }
        if (!served) {
          logger.fatal({ worker: worker.id, pid: worker.pid, code, signal }, 'a worker failed to start; stopping the others');
          exitCode = code === 2 ? 2 : 1;
          stopAll();
          return;
        }
        const now = Date.now();
        deaths = deaths.filter((at) => now - at < MINUTE_MS);
        if (deaths.length >= MAX_RESPAWNS_PER_MINUTE) {
          logger.fatal({ worker: worker.id, code, signal, deathsInLastMinute: deaths.length + 1 }, 'workers keep dying; stopping');
          exitCode = 1;
          stopAll();
          return;
        }
        deaths.push(now);
        logger.error({ worker: worker.id, pid: worker.pid, code, signal }, 'a worker died; starting a replacement');
        const timer = setTimeout(() => {
          respawnTimers.delete(timer);
          if (!stopping) spawn(worker.id);
        }, env.respawnDelayMs ?? 1000);
        respawnTimers.add(timer);
      });
    };

    const offSignal = env.onSignal((signal) => {
      if (firstSignal === undefined) {
        firstSignal = signal;
        logger.info({ signal, workers: live.size, drainTimeoutMs: config.server.drainTimeoutMs }, 'shutting down: every worker drains');
        stopAll();
        return;
      }
      logger.warn({ signal, firstSignal }, 'second signal during shutdown; killing the workers and exiting at once');
      for (const worker of live.values()) worker.kill();
      env.exitNow(1);
    });

    // A worker that gets SIGHUP itself as well (systemctl kill signals the whole unit) just reopens twice.
    const offHangup = env.onHangup?.(() => {
      for (const worker of live.values()) worker.reopenLog();
    });

    logger.info({ workers: count }, 'starting workers');
    for (let slot = 1; slot <= count; slot++) spawn(slot);
  });
}

/**
 * The configuration a worker runs: the admin port (when fixed) moves up by
 * the worker's slot minus one, so each worker's /metrics and /readyz can be
 * scraped on its own (a shared port would answer from a different worker on
 * each request).
 */
export function workerConfig(config: Config, id: number): Config {
  const admin = config.admin.listen;
  if (admin === null || admin.port === 0 || id <= 1) return config;
  // A fixed advertised admin port moves with it, so the fleet's node points at the worker that wrote it.
  const advertise = config.admin.advertise;
  const moved = advertise !== undefined && advertise.port !== 0 ? { advertise: { ...advertise, port: advertise.port + id - 1 } } : {};
  return { ...config, admin: { ...config.admin, listen: { ...admin, port: admin.port + id - 1 }, ...moved } };
}

/** The log file of worker `id`: `proxy.log` → `proxy-w2.log`, so workers never share (or rotate) one file. */
export function workerLogFile(file: string, id: number): string {
  const slash = file.lastIndexOf('/');
  const dot = file.lastIndexOf('.');
  return dot > slash + 1 ? `${file.slice(0, dot)}-w${id}${file.slice(dot)}` : `${file}-w${id}`;
}
