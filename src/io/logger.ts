import { accessSync, constants, mkdirSync } from 'node:fs';
import { readdir, stat, unlink } from 'node:fs/promises';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { basename, dirname, join, resolve } from 'node:path';
import { pino, type DestinationStream, type Logger } from 'pino';
import { MetaProxyError } from '../errors.js';
import type { Config } from '../config/types.js';

export interface LoggerOptions {
  /** Write to this file (rotated) instead of stdout. */
  file?: string;
  level: Config['log']['level'];
  /** Rotate the file once it reaches this size. */
  maxSizeBytes: number;
  /** Delete rotated files last written more than this many days ago; 0 keeps them. */
  maxAgeDays: number;
}

export interface LoggerHandle {
  logger: Logger;
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
// Rotation happens inside the transport's worker, out of sight; an hourly sweep bounds how
// long an expired file can outlive its age limit.
const SWEEP_INTERVAL_MS = 60 * 60 * 1000;
const CLOSE_TIMEOUT_MS = 5000;

/**
 * JSON lines to stdout, or with `file` to that file rotated by size (pino-roll,
 * in a worker thread so writing never blocks the proxy) with expired rotated
 * files removed at start and every hour after.
 */
export function createLogger(options: LoggerOptions): LoggerHandle {
  if (options.file === undefined) {
    const destination = pino.destination({ dest: 1, sync: false });
    const logger = pino(baseOptions(options.level), destination);
    let closed: Promise<void> | undefined;
    return {
      logger,
      close: () => (closed ??= flush(logger)),
    };
  }

  const file = resolve(options.file);
  ensureWritableFolder(file);
  const transport = pino.transport({
    target: createRequire(import.meta.url).resolve('pino-roll'),
    options: { file, size: `${Math.max(1, Math.floor(options.maxSizeBytes))}b`, mkdir: true },
  }) as DestinationStream & NodeJS.EventEmitter & { end(): void };
  // A failing disk must not take the proxy down with an unhandled 'error' event.
  transport.on('error', (error: unknown) => {
    process.stderr.write(`meta-proxy: cannot write the log file ${file}: ${String(error)}\n`);
  });
  const logger = pino(baseOptions(options.level), transport);

  const sweep = () => {
    if (options.maxAgeDays <= 0) return;
    removeExpiredLogs(file, options.maxAgeDays * DAY_MS, Date.now()).then(
      (removed) => {
        if (removed.length > 0) logger.info({ removed, maxAgeDays: options.maxAgeDays }, 'removed expired log files');
      },
      (error: unknown) => logger.warn({ err: error, file }, 'could not remove expired log files'),
    );
  };
  sweep();
  const sweeper = setInterval(sweep, SWEEP_INTERVAL_MS);
  sweeper.unref();

  let closed: Promise<void> | undefined;
  const close = async () => {
    clearInterval(sweeper);
    await flush(logger);
    const done = once(transport, 'close');
    transport.end();
    // The transport's worker is unref'd: this timer keeps the process alive until the
    // worker has written everything, and bounds the wait if the disk hangs.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([done, new Promise((resolveTimeout) => (timer = setTimeout(resolveTimeout, CLOSE_TIMEOUT_MS)))]);
    clearTimeout(timer);
  };
  return { logger, close: () => (closed ??= close()) };
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

/** Fails early, with the path, rather than losing every line to a worker that cannot open it. */
function ensureWritableFolder(file: string): void {
  const folder = dirname(file);
  try {
    mkdirSync(folder, { recursive: true });
    accessSync(folder, constants.W_OK);
  } catch (error) {
    throw new LogFileError(`Cannot write the log file ${file}: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * How pino-roll names the files of `file`: `<stem>.<n>.<ext>` (ext defaults to
 * `log`), mirrored from its file-name rules so the sweep finds exactly its files.
 */
export function rolledFilePattern(file: string): { folder: string; match(name: string): number | undefined } {
  let stem = file;
  let extension: string | undefined = 'log';
  if (basename(file).includes('.')) {
    const parts = file.split('.');
    const last = parts.pop() ?? '';
    stem = parts.join('.');
    extension = last === '' ? 'log' : last.length > 1 ? last : undefined;
  }
  const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const pattern = new RegExp(`^${escape(basename(stem))}\\.(\\d+)${extension ? `\\.${escape(extension)}` : ''}$`);
  return {
    folder: dirname(stem),
    match: (name) => {
      const found = pattern.exec(name);
      return found ? Number(found[1]) : undefined;
    },
  };
}

/**
 * Deletes rotated files of `file` last written before `now - maxAgeMs`. The
 * highest-numbered file is the one being written and is always kept.
 * Returns the paths removed.
 */
export async function removeExpiredLogs(file: string, maxAgeMs: number, now: number): Promise<string[]> {
  const { folder, match } = rolledFilePattern(resolve(file));
  const rolled = (await readdir(folder))
    .map((name) => ({ path: join(folder, name), number: match(name) }))
    .filter((entry): entry is { path: string; number: number } => entry.number !== undefined)
    .sort((a, b) => a.number - b.number);
  rolled.pop();
  const removed: string[] = [];
  for (const entry of rolled) {
    try {
      const { mtimeMs } = await stat(entry.path);
      if (now - mtimeMs > maxAgeMs) {
        await unlink(entry.path);
        removed.push(entry.path);
      }
    } catch (error) {
      // Someone else (logrotate, an operator) removed it first: nothing left to do.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  return removed;
}
