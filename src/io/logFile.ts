import { fstatSync, renameSync, rmSync } from 'node:fs';
import { readdir, stat, unlink } from 'node:fs/promises';
import { once } from 'node:events';
import { basename, dirname, join } from 'node:path';
import { pino } from 'pino';

export interface LogFileOptions {
  /** Absolute path of the live file: it always has this name. */
  file: string;
  /** Rotate once the live file reaches this size; 0 leaves rotation to someone else (logrotate). */
  maxSizeBytes: number;
  /** Rotated files kept (`<file>.1` … `<file>.<maxFiles>`); older ones are deleted when rotating. */
  maxFiles: number;
  /** Rotated files last written longer ago than this are deleted; 0 keeps them whatever their age. */
  maxAgeMs: number;
  /** Called for a failed write, reopen, rotation or sweep; the log goes on to the file it has. */
  onError(error: Error, what: string): void;
  /** Called once the live file is a fresh one after a rotation, with the rotated files deleted. */
  onRotated?(removed: string[]): void;
}

/** The live log file: what pino writes to, and the operations on it. */
export interface LogFile {
  /** pino's destination (SonicBoom). */
  readonly stream: ReturnType<typeof pino.destination>;
  /**
   * Opens the path again (after logrotate renamed the file). Lines already
   * handed over land in the old file, later ones in the new: none is lost or split.
   */
  reopen(): void;
  /** Deletes rotated files beyond the count or age limits; resolves the paths removed. */
  sweep(now: number): Promise<string[]>;
  /** Flushes and closes the file. Idempotent. */
  close(): Promise<void>;
}

const CLOSE_TIMEOUT_MS = 5000;

/**
 * JSON lines to exactly `file`, through pino's own asynchronous destination
 * (SonicBoom): its `reopen()` is what an external logrotate needs, and the
 * built-in rotation is the classic scheme on top of it — shift `<file>.1` …
 * `<file>.<n>` up by one, rename the live file to `<file>.1`, reopen.
 */
export function openLogFile(options: LogFileOptions): LogFile {
  const { file, maxSizeBytes, maxFiles, maxAgeMs, onError } = options;
  const stream = pino.destination({ dest: file, sync: false, mkdir: true });
  let size = 0;
  let rotating = false;
  /** A reopen asked for and not yet done (SonicBoom finishes the write in flight first). */
  let reopening = false;
  let closed: Promise<void> | undefined;

  stream.on('error', (error: Error) => {
    // A failed open leaves SonicBoom on the descriptor it had: the lines go on to the old file.
    const what = reopening ? 'reopen' : 'write';
    reopening = false;
    rotating = false;
    onError(error, what);
  });
  // Size of the file just opened: an existing file is appended to, a reopened one may be new.
  stream.on('ready', () => {
    reopening = false;
    try {
      size = fstatSync((stream as unknown as { fd: number }).fd).size;
    } catch {
      size = 0;
    }
    if (!rotating) return;
    rotating = false;
    sweep(Date.now()).then(
      (removed) => {
        // Closed meanwhile: the stream takes no more lines.
        if (closed === undefined) options.onRotated?.(removed);
      },
      (error: unknown) => onError(error as Error, 'sweep'),
    );
  });

  const rotate = () => {
    rotating = true;
    try {
      // Synchronous, so no write can slip between the renames: the descriptor
      // keeps pointing at the renamed file until reopen() swaps it.
      rmSync(rotatedName(file, maxFiles), { force: true });
      for (let n = maxFiles - 1; n >= 1; n--) renameIfPresent(rotatedName(file, n), rotatedName(file, n + 1));
      renameSync(file, rotatedName(file, 1));
    } catch (error) {
      rotating = false;
      // Try again only after another full file: a rename that failed once (a read-only
      // folder) would otherwise fail on every write.
      size = 0;
      onError(error as Error, 'rotate');
      return;
    }
    reopen();
  };

  const reopen = () => {
    try {
      stream.reopen();
      reopening = true;
    } catch (error) {
      onError(error as Error, 'reopen');
    }
  };

  if (maxSizeBytes > 0) {
    stream.on('write', (bytes: number) => {
      size += bytes;
      if (size >= maxSizeBytes && !rotating && closed === undefined) rotate();
    });
  }

  const sweep = (now: number) => removeRotatedLogs(file, { maxFiles, maxAgeMs, now });

  const close = async () => {
    const ended = (async () => {
      // A reopen in progress must finish first: SonicBoom drops an end() that arrives
      // between the write it waits for and the new file's open.
      if (reopening) await once(stream, 'ready');
      const done = once(stream, 'close');
      stream.end();
      await done;
    })().catch(() => undefined);
    // Bounded, so a hung disk cannot hold the shutdown.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([ended, new Promise((resolveTimeout) => (timer = setTimeout(resolveTimeout, CLOSE_TIMEOUT_MS)))]);
    clearTimeout(timer);
  };

  return {
    stream,
    reopen: () => {
      if (closed === undefined) reopen();
    },
    sweep,
    close: () => (closed ??= close()),
  };
}

/** `proxy.log` → `proxy.log.3`. */
function rotatedName(file: string, n: number): string {
  return `${file}.${n}`;
}

/** The number of a rotated file of `file` (`proxy.log.3` → 3), or undefined for any other name. */
export function rotatedNumber(file: string, name: string): number | undefined {
  const prefix = `${basename(file)}.`;
  if (!name.startsWith(prefix)) return undefined;
  const rest = name.slice(prefix.length);
  return /^[1-9]\d{0,8}$/.test(rest) ? Number(rest) : undefined;
}

function renameIfPresent(from: string, to: string): void {
  try {
    renameSync(from, to);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

/**
 * Deletes the rotated files of `file` numbered above `maxFiles` or last
 * written more than `maxAgeMs` before `now` (0: no age limit). The live file
 * is never touched. Returns the paths removed.
 */
export async function removeRotatedLogs(
  file: string,
  limits: { maxFiles: number; maxAgeMs: number; now: number },
): Promise<string[]> {
  const folder = dirname(file);
  const removed: string[] = [];
  for (const name of await readdir(folder)) {
    const n = rotatedNumber(file, name);
    if (n === undefined) continue;
    const path = join(folder, name);
    try {
      const expired = n > limits.maxFiles || (limits.maxAgeMs > 0 && limits.now - (await stat(path)).mtimeMs > limits.maxAgeMs);
      if (!expired) continue;
      await unlink(path);
      removed.push(path);
    } catch (error) {
      // Someone else (logrotate, an operator) removed it first: nothing left to do.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  return removed.sort();
}
