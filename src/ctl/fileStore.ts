/**
 * Routes in the embedded registry file (`registry.file`): a YAML or JSON map
 * of table → `{cluster_name, meta_addrs}`, which every proxy using it watches.
 *
 * A write re-reads the file, checks that each route it changes is still what
 * the command read, and replaces the file whole (temporary file + rename), so
 * a proxy never reads half a file and a multi-table change lands at once.
 * Writers of this tool take turns through a lock file beside it; an editor
 * that ignores the lock can still race, which the re-read narrows to the
 * moment of the rename.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import yaml from 'js-yaml';
import { routeFromValue, tableNameProblem } from '../streams/parseRoute.js';
import { ConflictError, CtlFailure } from './errors.js';
import { routeValue, type RouteChange, type RouteStore, type StoredRoute } from './routeStore.js';

const HEADER = '# meta-proxy routes: table -> { cluster_name, meta_addrs }. Rewritten by meta-proxy-ctl (comments are not kept).\n';
/** How long a writer waits for another one's lock before giving up. */
const LOCK_WAIT_MS = 3000;

/** A stable 31-bit fingerprint of an entry's value: the file registry's "version". */
function fingerprint(value: unknown): number {
  let h = 0x811c9dc5;
  const text = JSON.stringify(value) ?? 'undefined';
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 1;
}

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function openFileStore(file: string): RouteStore {
  const where = `file ${file}`;
  const asJson = extname(file).toLowerCase() === '.json';
  const lockFile = `${file}.lock`;

  /** The file's map, exactly as written (entries that are not routes included). */
  const readDoc = async (): Promise<Record<string, unknown>> => {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new CtlFailure(`Cannot read the routes file ${file}: ${(err as Error).message}. Check registry.file in the configuration.`, { cause: err });
    }
    if (text.trim() === '') throw new CtlFailure(`The routes file ${file} is empty; write {} into it for "no routes".`);
    let doc: unknown;
    try {
      doc = yaml.load(text);
    } catch (err) {
      throw new CtlFailure(`The routes file ${file} is not YAML/JSON: ${(err as Error).message.split('\n')[0]}. Fix it by hand first.`, { cause: err });
    }
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
      throw new CtlFailure(`The routes file ${file} must map table names to { cluster_name, meta_addrs }. Fix it by hand first.`);
    }
    return doc as Record<string, unknown>;
  };

  const stored = (table: string, value: unknown): StoredRoute => {
    const version = fingerprint(value);
    const problem = tableNameProblem(table);
    const state = problem !== undefined ? { kind: 'invalid' as const, table, reason: problem } : routeFromValue(table, value, version);
    return { table, state, version };
  };

  const lock = async (): Promise<() => Promise<void>> => {
    const until = Date.now() + LOCK_WAIT_MS;
    for (;;) {
      try {
        const handle = await open(lockFile, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o644);
        await handle.writeFile(`${process.pid}\n`);
        await handle.close();
        return () => unlink(lockFile).catch(() => undefined);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw new CtlFailure(`Cannot create the lock file ${lockFile}: ${(err as Error).message}.`, { cause: err });
        }
        if (Date.now() > until) {
          throw new CtlFailure(`Another meta-proxy-ctl is writing ${file} (lock file ${lockFile}). Re-run in a moment; if no other one is running, delete the lock file.`);
        }
        await delay(25);
      }
    }
  };

  const serialize = (doc: Record<string, unknown>): string =>
    asJson ? `${JSON.stringify(doc, null, 2)}\n` : `${HEADER}${yaml.dump(doc, { flowLevel: 1, lineWidth: -1 })}`;

  const writeWhole = async (text: string): Promise<void> => {
    const temp = join(dirname(file), `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
    const mode = (await stat(file).catch(() => undefined))?.mode ?? 0o644;
    try {
      const handle = await open(temp, 'wx', mode & 0o777);
      try {
        await handle.writeFile(text, 'utf8');
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, file);
    } catch (err) {
      await unlink(temp).catch(() => undefined);
      throw new CtlFailure(`Cannot rewrite the routes file ${file}: ${(err as Error).message}. It was left as it was.`, { cause: err });
    }
  };

  return {
    where,
    async list() {
      const doc = await readDoc();
      return Object.keys(doc)
        .sort()
        .map((table) => stored(table, doc[table]));
    },
    async get(table) {
      const doc = await readDoc();
      return Object.hasOwn(doc, table) ? stored(table, doc[table]) : null;
    },
    async commit(changes) {
      if (changes.length === 0) return;
      const unlock = await lock();
      try {
        const doc = await readDoc();
        for (const change of changes) {
          const present = Object.hasOwn(doc, change.table);
          const expect = change.expect;
          if (expect === 'absent' && present) throw new ConflictError(change.table, 'created', where);
          if (typeof expect === 'object') {
            if (!present) throw new ConflictError(change.table, 'deleted', where);
            if (fingerprint(doc[change.table]) !== expect.version) throw new ConflictError(change.table, 'changed', where);
          }
          if (change.kind === 'delete') {
            if (!present) throw new CtlFailure(`There is no route for table ${JSON.stringify(change.table)} in ${where}: nothing to delete.`);
            delete doc[change.table];
          } else {
            doc[change.table] = routeValue(change.route);
          }
        }
        await writeWhole(serialize(doc));
      } finally {
        await unlock();
      }
    },
    close() {
      // Nothing is held open between commands.
    },
  };
}
