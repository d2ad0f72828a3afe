/**
 * The file-watching driver: a file's content as a cold observable.
 *
 * The directory is watched, not the file: editors and `mv new old` replace the
 * file by renaming, which leaves a watch on the old inode deaf. Events are
 * debounced (an editor's truncate-then-write arrives as several), and a slow
 * stat poll catches what the directory watch misses (network file systems,
 * the directory itself being replaced).
 */
import { readFile, stat, watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { Observable } from 'rxjs';
import type { BaseLogger } from 'pino';
import type { FileSnapshot, FileWatcher } from '../model/fileWatchTypes.js';

export interface FileWatchOptions {
  /** Quiet time after a change event before the file is read. Default 20 ms. */
  debounceMs?: number;
  /** Interval of the fallback stat poll. Default 500 ms; 0 disables it. */
  pollMs?: number;
  logger?: Pick<BaseLogger, 'debug' | 'warn'>;
}

function check(name: string, value: number, min: number): void {
  if (!Number.isFinite(value) || value < min) {
    throw new TypeError(`File watch option ${name} must be a number of milliseconds of at least ${min}, not ${String(value)}.`);
  }
}

/** Validate the options once; returns the runtime function. */
export function createFileWatcher(options: FileWatchOptions = {}): FileWatcher {
  const debounceMs = options.debounceMs ?? 20;
  const pollMs = options.pollMs ?? 500;
  check('debounceMs', debounceMs, 0);
  check('pollMs', pollMs, 0);
  const logger = options.logger;

  return (fileName: string) =>
    new Observable<FileSnapshot>((subscriber) => {
      const file = resolve(fileName);
      const dir = dirname(file);
      const base = basename(file);
      let active = true;
      let reading = false;
      let again = false;
      let last: string | undefined;
      let lastStat = '';
      let debounce: NodeJS.Timeout | undefined;

      const emit = (snapshot: FileSnapshot): void => {
        // Only changes are news: a touch or a rewrite with the same bytes is not.
        const key = snapshot.kind === 'content' ? `c${snapshot.text}` : snapshot.kind === 'missing' ? 'm' : `e${snapshot.reason}`;
        if (!active || key === last) return;
        last = key;
        subscriber.next(snapshot);
      };

      const read = (): void => {
        if (!active) return;
        // One read at a time; a change during a read asks for one more after it.
        if (reading) {
          again = true;
          return;
        }
        reading = true;
        readFile(file, 'utf8', (err, text) => {
          reading = false;
          if (!active) return;
          if (err) {
            emit(err.code === 'ENOENT' ? { kind: 'missing' } : { kind: 'error', reason: `cannot read ${file}: ${err.message}` });
          } else {
            emit({ kind: 'content', text });
          }
          if (again) {
            again = false;
            read();
          }
        });
      };

      const changed = (): void => {
        clearTimeout(debounce);
        debounce = setTimeout(read, debounceMs);
      };

      let watcher: FSWatcher | undefined;
      try {
        watcher = watch(dir, { persistent: true }, (_event, name) => {
          // Some platforms omit the name; then any event in the directory may be ours.
          if (name === null || name === undefined || String(name) === base) changed();
        });
        watcher.on('error', (err) => {
          logger?.warn({ err, file }, 'directory watch failed; falling back to polling');
          watcher?.close();
          watcher = undefined;
        });
      } catch (err) {
        logger?.warn({ err, file }, 'cannot watch the directory; polling only');
      }

      const poll =
        pollMs > 0
          ? setInterval(() => {
              stat(file, (err, st) => {
                if (!active) return;
                const key = err ? `err:${err.code ?? ''}` : `${st.ino}:${st.size}:${st.mtimeMs}`;
                if (key !== lastStat) {
                  lastStat = key;
                  changed();
                }
              });
            }, pollMs)
          : undefined;

      read();

      return () => {
        active = false;
        clearTimeout(debounce);
        if (poll) clearInterval(poll);
        watcher?.close();
      };
    });
}
