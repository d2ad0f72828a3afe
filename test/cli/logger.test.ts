import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger, LogFileError, removeExpiredLogs, rolledFilePattern } from '../../src/io/logger.js';

const dirs: string[] = [];
function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'meta-proxy-log-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const bytesIn = (dir: string) => readdirSync(dir).reduce((sum, name) => sum + statSync(join(dir, name)).size, 0);

const lines = (path: string) =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);

describe('createLogger with a file', () => {
  it('writes one JSON object per line, fields as given', async () => {
    const dir = scratch();
    const { logger, close } = createLogger({ file: join(dir, 'proxy.log'), level: 'info', maxSizeBytes: 1 << 20, maxAgeDays: 7 });
    logger.info({ table: 'temp', cluster: 'c1' }, 'route changed');
    logger.debug({ table: 'hidden' }, 'below the level');
    await close();
    expect(readdirSync(dir)).toEqual(['proxy.1.log']);
    const [entry, ...rest] = lines(join(dir, 'proxy.1.log'));
    expect(rest).toEqual([]);
    expect(entry).toMatchObject({ level: 'info', name: 'meta-proxy', table: 'temp', cluster: 'c1', msg: 'route changed' });
    expect(typeof entry?.time).toBe('string');
  });

  it('starts a new file once the size limit is reached', async () => {
    const dir = scratch();
    const file = join(dir, 'proxy.log');
    const { logger, close } = createLogger({ file, level: 'info', maxSizeBytes: 2048, maxAgeDays: 7 });
    for (let i = 0; i < 40; i++) {
      const before = bytesIn(dir);
      logger.info({ i, padding: 'x'.repeat(100) }, 'filler');
      // Wait for each entry to reach the disk, so the worker sees them one by one and
      // rolls between them rather than receiving one batch at close.
      for (let wait = 0; wait < 400 && bytesIn(dir) === before; wait++) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await close();
    const files = readdirSync(dir).sort();
    // 40 entries of ~200 bytes against a 2 KiB limit: several files.
    expect(files.length).toBeGreaterThanOrEqual(3);
    const { match } = rolledFilePattern(file);
    expect(files.every((name) => match(name) !== undefined)).toBe(true);
    const all = files.flatMap((name) => lines(join(dir, name)));
    expect(all.map((entry) => entry.i).sort((a, b) => Number(a) - Number(b))).toEqual([...Array(40).keys()]);
  });

  it('creates missing folders and refuses a folder it cannot write, naming the file', () => {
    const dir = scratch();
    const blocker = join(dir, 'not-a-folder');
    writeFileSync(blocker, '');
    expect(() => createLogger({ file: join(blocker, 'x.log'), level: 'info', maxSizeBytes: 1024, maxAgeDays: 1 })).toThrow(LogFileError);
    expect(() => createLogger({ file: join(blocker, 'x.log'), level: 'info', maxSizeBytes: 1024, maxAgeDays: 1 })).toThrow(join(blocker, 'x.log'));
  });
});

describe('removeExpiredLogs', () => {
  it('deletes rotated files older than the limit and always keeps the current one', async () => {
    const dir = scratch();
    const day = 24 * 60 * 60 * 1000;
    const now = Date.now();
    const ages: Record<string, number> = {
      'proxy.1.log': 10 * day,
      'proxy.2.log': 8 * day,
      'proxy.3.log': 2 * day,
      'proxy.4.log': 30 * day, // current (highest number), however old
      'other.1.log': 30 * day, // not ours
      'proxy.log.bak': 30 * day,
    };
    for (const [name, age] of Object.entries(ages)) {
      const path = join(dir, name);
      writeFileSync(path, '{}\n');
      utimesSync(path, (now - age) / 1000, (now - age) / 1000);
    }
    const removed = await removeExpiredLogs(join(dir, 'proxy.log'), 7 * day, now);
    expect(removed.sort()).toEqual([join(dir, 'proxy.1.log'), join(dir, 'proxy.2.log')]);
    expect(readdirSync(dir).sort()).toEqual(['other.1.log', 'proxy.3.log', 'proxy.4.log', 'proxy.log.bak']);
  });

  it('runs when the logger starts', async () => {
    const dir = scratch();
    const old = join(dir, 'proxy.1.log');
    writeFileSync(old, '{}\n');
    const longAgo = (Date.now() - 9 * 24 * 60 * 60 * 1000) / 1000;
    utimesSync(old, longAgo, longAgo);
    writeFileSync(join(dir, 'proxy.2.log'), '');
    const { logger, close } = createLogger({ file: join(dir, 'proxy.log'), level: 'info', maxSizeBytes: 1 << 20, maxAgeDays: 7 });
    for (let i = 0; i < 100 && existsSync(old); i++) await new Promise((resolve) => setTimeout(resolve, 10));
    logger.info('after the sweep');
    await close();
    expect(existsSync(old)).toBe(false);
    expect(lines(join(dir, 'proxy.2.log')).map((entry) => entry.msg)).toContain('removed expired log files');
  });
});

describe('rolledFilePattern', () => {
  it('follows pino-roll names with and without an extension', () => {
    expect(rolledFilePattern('/v/proxy.log').match('proxy.12.log')).toBe(12);
    expect(rolledFilePattern('/v/proxy.log').match('proxy.log')).toBeUndefined();
    expect(rolledFilePattern('/v/proxy').match('proxy.3.log')).toBe(3);
    expect(rolledFilePattern('/v.d/app.json').match('app.1.json')).toBe(1);
    expect(rolledFilePattern('/v.d/app.json').folder).toBe('/v.d');
  });
});
