import type { Observable } from 'rxjs';

/** What a watched file holds now. Failures are values: a file watch never errors. */
export type FileSnapshot =
  | { kind: 'content'; text: string }
  | { kind: 'missing' }
  | { kind: 'error'; reason: string };

/**
 * The file-watching driver's runtime function. Cold: subscribing reads the
 * file and emits what it holds, then again whenever that changes (also when an
 * editor replaces the file by renaming a new one over it). Unsubscribing stops
 * watching.
 */
export type FileWatcher = (file: string) => Observable<FileSnapshot>;
