import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger, LogFileError, type LoggerOptions } from '../../src/io/logger.js';
import { removeRotatedLogs, rotatedNumber } from '../../src/io/logFile.js';

const dirs: string[] = [];
function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'meta-proxy-log-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) {
    chmodSync(dir, 0o700);
    rmSync(dir, { recursive: true, force: true });
  }
});

const options = (file: string, extra: Partial<LoggerOptions> = {}): LoggerOptions => ({
  file,
  level: 'info',
  maxSizeBytes: 1 << 20,
  maxFiles: 10,
  maxAgeDays: 7,
  ...extra,
});

const bytesIn = (dir: string) => readdirSync(dir).reduce((sum, name) => sum + statSync(join(dir, name)).size, 0);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const lines = (path: string) =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);

describe('createLogger with a file', () => {
  it('writes one JSON object per line to exactly the path given', async () => {
    const dir = scratch();
    const { logger, close } = createLogger(options(join(dir, 'proxy.log')));
    logger.info({ table: 'temp', cluster: 'c1' }, 'route changed');
    logger.debug({ table: 'hidden' }, 'below the level');
    await close();
    expect(readdirSync(dir)).toEqual(['proxy.log']);
    const [entry, ...rest] = lines(join(dir, 'proxy.log'));
    expect(rest).toEqual([]);
    expect(entry).toMatchObject({ level: 'info', name: 'meta-proxy', table: 'temp', cluster: 'c1', msg: 'route changed' });
    expect(typeof entry?.time).toBe('string');
  });

  it('appends to a file that is already there', async () => {
    const dir = scratch();
    const file = join(dir, 'proxy.log');
    writeFileSync(file, '{"msg":"from before"}\n');
    const { logger, close } = createLogger(options(file));
    logger.info('after a restart');
    await close();
    expect(lines(file).map((entry) => entry.msg)).toEqual(['from before', 'after a restart']);
  });

  it('rotates by size: the path stays the live file, older ones are <file>.1 … <file>.<max_files>', async () => {
    const dir = scratch();
    const file = join(dir, 'proxy.log');
    const { logger, close } = createLogger(options(file, { maxSizeBytes: 2048, maxFiles: 3 }));
    for (let i = 0; i < 60; i++) {
      const before = bytesIn(dir);
      logger.info({ i, padding: 'x'.repeat(100) }, 'filler');
      // Each entry reaches the disk before the next, so rotations happen between them.
      for (let wait = 0; wait < 400 && bytesIn(dir) === before; wait++) await sleep(5);
    }
    logger.info({ i: 'last' }, 'the last line');
    await close();
    expect(readdirSync(dir).sort()).toEqual(['proxy.log', 'proxy.log.1', 'proxy.log.2', 'proxy.log.3']);
    // The newest line is in the live file; each rotated file is about the size limit.
    expect(lines(file).at(-1)).toMatchObject({ msg: 'the last line' });
    for (const n of [1, 2, 3]) expect(statSync(`${file}.${n}`).size).toBeGreaterThanOrEqual(2048);
    // Numbered from newest to oldest, and nothing in between is lost: the entries of
    // .3, .2, .1 and the live file are consecutive.
    const kept = [3, 2, 1].flatMap((n) => lines(`${file}.${n}`)).concat(lines(file));
    const numbers = kept.map((entry) => entry.i).filter((i): i is number => typeof i === 'number');
    expect(numbers).toEqual(Array.from({ length: numbers.length }, (_, k) => numbers[0]! + k));
    expect(numbers.at(-1)).toBe(59);
    expect(kept.some((entry) => entry.msg === 'log file rotated')).toBe(true);
  });

  it('loses no line when rotations happen under a burst of writes', async () => {
    const dir = scratch();
    const file = join(dir, 'proxy.log');
    const { logger, close } = createLogger(options(file, { maxSizeBytes: 8192, maxFiles: 1000 }));
    for (let burst = 0; burst < 20; burst++) {
      for (let i = 0; i < 100; i++) logger.info({ i: burst * 100 + i, padding: 'y'.repeat(60) }, 'burst');
      await sleep(2);
    }
    await close();
    const names = readdirSync(dir);
    expect(names.length).toBeGreaterThan(10);
    const numbers = names
      .flatMap((name) => lines(join(dir, name)))
      .map((entry) => entry.i)
      .filter((i): i is number => typeof i === 'number')
      .sort((a, b) => a - b);
    expect(numbers).toEqual([...Array(2000).keys()]);
  });

  it('with max_size_mb 0 never rotates or removes anything', async () => {
    const dir = scratch();
    const file = join(dir, 'proxy.log');
    writeFileSync(`${file}.9`, '{}\n');
    const old = (Date.now() - 30 * 24 * 60 * 60 * 1000) / 1000;
    utimesSync(`${file}.9`, old, old);
    const { logger, close } = createLogger(options(file, { maxSizeBytes: 0, maxFiles: 1, maxAgeDays: 1 }));
    for (let i = 0; i < 50; i++) logger.info({ i, padding: 'x'.repeat(100) }, 'filler');
    await sleep(100);
    await close();
    expect(readdirSync(dir).sort()).toEqual(['proxy.log', 'proxy.log.9']);
    expect(lines(file)).toHaveLength(50);
  });

  it('reopen() after the file was renamed writes to a fresh file at the path', async () => {
    const dir = scratch();
    const file = join(dir, 'proxy.log');
    const handle = createLogger(options(file));
    handle.logger.info('before');
    for (let i = 0; i < 200 && !(existsSync(file) && statSync(file).size > 0); i++) await sleep(5);
    renameSync(file, `${file}.1`);
    handle.logger.info('between the rename and the reopen');
    expect(handle.reopen()).toBe(true);
    handle.logger.info('after');
    await handle.close();
    expect(lines(`${file}.1`).map((entry) => entry.msg)).toEqual(['before', 'between the rename and the reopen']);
    expect(lines(file).map((entry) => entry.msg)).toEqual(['after']);
  });

  it('creates missing folders and refuses a folder or file it cannot write, naming the file', () => {
    const dir = scratch();
    const blocker = join(dir, 'not-a-folder');
    writeFileSync(blocker, '');
    expect(() => createLogger(options(join(blocker, 'x.log')))).toThrow(LogFileError);
    expect(() => createLogger(options(join(blocker, 'x.log')))).toThrow(join(blocker, 'x.log'));
    if (process.getuid?.() === 0) return; // root writes anything: the permission cases cannot be made here
    const readOnly = join(dir, 'ro.log');
    writeFileSync(readOnly, '');
    chmodSync(readOnly, 0o444);
    expect(() => createLogger(options(readOnly))).toThrow(readOnly);
  });
});

describe('createLogger to stdout', () => {
  it('has nothing to reopen', async () => {
    const handle = createLogger({ level: 'info', maxSizeBytes: 1, maxFiles: 1, maxAgeDays: 1 });
    expect(handle.reopen()).toBe(false);
    await handle.close();
  });
});

describe('removeRotatedLogs', () => {
  it('deletes rotated files past the count or the age and never the live file or foreign names', async () => {
    const dir = scratch();
    const day = 24 * 60 * 60 * 1000;
    const now = Date.now();
    const ages: Record<string, number> = {
      'proxy.log': 30 * day, // live, however old
      'proxy.log.1': 1 * day,
      'proxy.log.2': 8 * day, // too old
      'proxy.log.3': 2 * day,
      'proxy.log.4': 2 * day, // beyond the count
      'proxy.log.1.gz': 30 * day, // logrotate's, not ours
      'proxy.1.log': 30 * day, // pino-roll's, from older versions
      'other.log.1': 30 * day,
    };
    for (const [name, age] of Object.entries(ages)) {
      const path = join(dir, name);
      writeFileSync(path, '{}\n');
      utimesSync(path, (now - age) / 1000, (now - age) / 1000);
    }
    const removed = await removeRotatedLogs(join(dir, 'proxy.log'), { maxFiles: 3, maxAgeMs: 7 * day, now });
    expect(removed).toEqual([join(dir, 'proxy.log.2'), join(dir, 'proxy.log.4')]);
    expect(readdirSync(dir).sort()).toEqual(['other.log.1', 'proxy.1.log', 'proxy.log', 'proxy.log.1', 'proxy.log.1.gz', 'proxy.log.3']);
    // No age limit: only the count.
    expect(await removeRotatedLogs(join(dir, 'proxy.log'), { maxFiles: 1, maxAgeMs: 0, now })).toEqual([join(dir, 'proxy.log.3')]);
  });

  it('runs when the logger starts', async () => {
    const dir = scratch();
    const old = join(dir, 'proxy.log.1');
    writeFileSync(old, '{}\n');
    const longAgo = (Date.now() - 9 * 24 * 60 * 60 * 1000) / 1000;
    utimesSync(old, longAgo, longAgo);
    const { logger, close } = createLogger(options(join(dir, 'proxy.log')));
    for (let i = 0; i < 100 && existsSync(old); i++) await sleep(10);
    await sleep(20);
    logger.info('after the sweep');
    await close();
    expect(existsSync(old)).toBe(false);
    expect(lines(join(dir, 'proxy.log')).map((entry) => entry.msg)).toContain('removed old log files');
  });

  it('reads only <file>.<n> as rotated names', () => {
    expect(rotatedNumber('/v/proxy.log', 'proxy.log.12')).toBe(12);
    expect(rotatedNumber('/v/proxy.log', 'proxy.log')).toBeUndefined();
    expect(rotatedNumber('/v/proxy.log', 'proxy.log.0')).toBeUndefined();
    expect(rotatedNumber('/v/proxy.log', 'proxy.log.1.gz')).toBeUndefined();
    expect(rotatedNumber('/v/proxy.log', 'proxy.log-20240101')).toBeUndefined();
    expect(rotatedNumber('/v/proxy', 'proxy.3')).toBe(3);
  });
});
