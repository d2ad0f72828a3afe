import { accessSync, constants, existsSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { pino, type Logger } from 'pino';
import { MetaProxyError } from '../errors.js';
import type { Config } from '../config/types.js';
import { openLogFile } from './logFile.js';

export interface LoggerOptions {
  /** Write to this file (rotated) instead of stdout. */
  file?: string;
  level: Config['log']['level'];
  /** Rotate the file once it reaches this size; 0 = never (an external logrotate does it). */
  maxSizeBytes: number;
  /** Rotated files kept beside the live one. */
  maxFiles: number;
  /** Delete rotated files last written more than this many days ago; 0 keeps them. */
  maxAgeDays: number;
}

export interface LoggerHandle {
  logger: Logger;
  /**
   * Opens the log file again at its path (SIGHUP, after an external logrotate
   * renamed it). Returns false when logging to stdout: nothing to reopen.
   */
  reopen(): boolean;
  /** Flushes what is buffered and releases the file (or stdout). Idempotent. */
  close(): Promise<void>;
}

/** The log file could not be created or written. Exit code 1. */
export class LogFileError extends MetaProxyError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('META_PROXY_LOG_FILE', message, options);
  }
}

const DAY_MS = 24 * 60 * 60 * 1000;
// Rotation deletes what is over the limits; this sweep bounds how long a file
// can outlive its age limit when the log grows too slowly to rotate.
const SWEEP_INTERVAL_MS = 60 * 60 * 1000;

/**
 * JSON lines to stdout, or with `file` to exactly that file: rotated by size
 * to `<file>.1` … `<file>.<maxFiles>` (the live file keeps its name), rotated
 * files past their age removed at start, at each rotation and every hour.
 * With `maxSizeBytes` 0 the proxy neither rotates nor removes anything: an
 * external logrotate owns the old files and sends SIGHUP (`reopen`).
 */
export function createLogger(options: LoggerOptions): LoggerHandle {
  if (options.file === undefined) {
    // Synchronous: the proxy logs events, not requests, and an asynchronous write that meets a full pipe
    // (EAGAIN) is retried after lines written later, so lines would leave out of order.
    const destination = pino.destination({ dest: 1, sync: true });
    const logger = pino(baseOptions(options.level), destination);
    let closed: Promise<void> | undefined;
    return {
      logger,
      reopen: () => false,
      close: () => (closed ??= flush(logger)),
    };
  }

  const file = resolve(options.file);
  ensureWritableFolder(file);
  const rotates = options.maxSizeBytes > 0;
  // Set once the logger exists; a failure before that can only be reported on stderr.
  let logger: Logger | undefined;
  const logFile = openLogFile({
    file,
    maxSizeBytes: options.maxSizeBytes,
    maxFiles: options.maxFiles,
    maxAgeMs: options.maxAgeDays * DAY_MS,
    // A failing disk must not take the proxy down: say so on stderr (the journal), go on.
    onError: (error, what) => {
      process.stderr.write(`meta-proxy: log file ${file}: ${what} failed: ${error.message}\n`);
    },
    onRotated: (removed) => logger?.info({ file, ...(removed.length > 0 && { removed }) }, 'log file rotated'),
  });
  logger = pino(baseOptions(options.level), logFile.stream);
  const log = logger;

  let closed: Promise<void> | undefined;
  const sweep = () => {
    logFile.sweep(Date.now()).then(
      (removed) => {
        if (removed.length > 0 && closed === undefined) log.info({ removed, maxFiles: options.maxFiles, maxAgeDays: options.maxAgeDays }, 'removed old log files');
      },
      (error: unknown) => {
        if (closed === undefined) log.warn({ err: error, file }, 'could not remove old log files');
      },
    );
  };
  let sweeper: NodeJS.Timeout | undefined;
  if (rotates) {
    sweep();
    sweeper = setInterval(sweep, SWEEP_INTERVAL_MS);
    sweeper.unref();
  }

  return {
    logger: log,
    reopen: () => {
      logFile.reopen();
      return true;
    },
    close: () =>
      (closed ??= (async () => {
        clearInterval(sweeper);
        await logFile.close();
      })()),
  };
}

function baseOptions(level: LoggerOptions['level']) {
  return {
    name: 'meta-proxy',
    level,
    timestamp: pino.stdTimeFunctions.isoTime,
    // Level names read better than numbers for operators grepping files.
    formatters: { level: (label: string) => ({ level: label }) },
  };
}

function flush(logger: Logger): Promise<void> {
  return new Promise((resolveFlush) => logger.flush(() => resolveFlush()));
}

/**
 * Fails early, with the path, rather than losing every line to an asynchronous
 * open that fails after start-up.
 */
function ensureWritableFolder(file: string): void {
  const folder = dirname(file);
  try {
    mkdirSync(folder, { recursive: true });
    accessSync(folder, constants.W_OK);
    if (existsSync(file)) accessSync(file, constants.W_OK);
  } catch (error) {
    throw new LogFileError(`Cannot write the log file ${file}: ${(error as Error).message}`, { cause: error });
  }
}
