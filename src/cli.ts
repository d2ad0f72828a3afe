#!/usr/bin/env node
import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { runCli, type CliEnv, type WorkerProcess } from './cliRun.js';
import { readVersion } from './version.js';

const SIGNALS = ['SIGTERM', 'SIGINT'] as const;
/** Primary → worker: drain and exit. Worker → primary: serving. Primary → worker: reopen your log file. */
const SHUTDOWN = 'meta-proxy:shutdown';
const READY = 'meta-proxy:ready';
const REOPEN_LOG = 'meta-proxy:reopen-log';

// Node's default for SIGHUP is to exit, and logrotate's postrotate (or a process
// manager) may send it at any moment: take it over first thing, for the whole life
// of the process; the command plugs its handlers in once it has a log to reopen.
const hangupHandlers = new Set<() => void>();
const onProcessHangup = () => {
  for (const handler of hangupHandlers) handler();
};
process.on('SIGHUP', onProcessHangup);
if (cluster.isWorker) {
  process.on('message', (message: unknown) => {
    if (message === REOPEN_LOG) onProcessHangup();
  });
}

/** SIGHUP of this process; in a worker also the primary's forwarded one. */
const onHangup: CliEnv['onHangup'] = (handler) => {
  const own = () => handler();
  hangupHandlers.add(own);
  return () => hangupHandlers.delete(own);
};

/** Signals of this process; in a worker also the primary's shutdown request and the primary's disappearance. */
const onSignal: CliEnv['onSignal'] = (handler) => {
  let signalled = false;
  const onProcessSignal = (signal: string) => {
    signalled = true;
    handler(signal);
  };
  // Ctrl-C signals the primary and every worker at once; the primary's own
  // request that follows must not count as a second signal (which exits at once).
  const fromPrimary = (reason: string) => {
    if (signalled) return;
    signalled = true;
    handler(reason);
  };
  const onMessage = (message: unknown) => {
    if (message === SHUTDOWN) fromPrimary('shutdown requested by the primary');
  };
  const onDisconnect = () => fromPrimary('primary gone');
  for (const signal of SIGNALS) process.on(signal, onProcessSignal);
  if (cluster.isWorker) {
    process.on('message', onMessage);
    process.on('disconnect', onDisconnect);
  }
  return () => {
    for (const signal of SIGNALS) process.off(signal, onProcessSignal);
    process.off('message', onMessage);
    process.off('disconnect', onDisconnect);
  };
};

/** Tells a worker its slot; cluster's own ids grow with every replacement. */
const SLOT_VARIABLE = 'META_PROXY_WORKER_SLOT';

function forkWorker(slot: number): WorkerProcess {
  const worker = cluster.fork({ [SLOT_VARIABLE]: String(slot) });
  return {
    id: slot,
    pid: worker.process.pid,
    onReady: (handler) => {
      worker.on('message', (message: unknown) => {
        if (message === READY) handler();
      });
    },
    onExit: (handler) => {
      worker.once('exit', (code, signal) => handler(code, signal));
    },
    shutdown: () => {
      if (worker.isConnected()) worker.send(SHUTDOWN);
      else worker.process.kill('SIGTERM');
    },
    reopenLog: () => {
      if (worker.isConnected()) worker.send(REOPEN_LOG);
    },
    kill: () => worker.process.kill('SIGKILL'),
  };
}

const code = await runCli({
  argv: process.argv.slice(2),
  version: readVersion(),
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  // Loaded only when serving, so --help and --check-config work without the native ZooKeeper addon.
  run: async (config, logger) => (await import('./main.js')).run(config, logger),
  onSignal,
  onHangup,
  onFatal: (handler) => {
    process.on('uncaughtException', handler);
    return () => process.off('uncaughtException', handler);
  },
  exitNow: (exitCode) => process.exit(exitCode),
  cores: availableParallelism(),
  ...(cluster.isWorker
    ? { workerId: Number(process.env[SLOT_VARIABLE] ?? cluster.worker!.id), workerReady: () => void process.send?.(READY) }
    : { forkWorker }),
});
// Exit explicitly: once the proxy is disposed nothing useful is left, and a stray handle must not keep it alive.
process.exit(code);
