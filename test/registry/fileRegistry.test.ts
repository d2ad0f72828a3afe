import { mkdtempSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFileWatcher } from '../../src/io/fileWatch.js';
import { createFileRegistry } from '../../src/streams/fileRegistry.js';
import type { FileSnapshot } from '../../src/model/fileWatchTypes.js';
import type { RouteRegistry, RouteState } from '../../src/model/route.js';
import { waitFor } from './support.js';

let dir: string;
let file: string;
let registry: RouteRegistry | undefined;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'meta-proxy-routes-'));
  file = join(dir, 'routes.yaml');
});
afterEach(() => {
  registry?.dispose();
  registry = undefined;
  rmSync(dir, { recursive: true, force: true });
});

const yaml = (routes: Record<string, string>) =>
  Object.entries(routes)
    .map(([table, cluster]) => `${table}:\n  cluster_name: ${cluster}\n  meta_addrs: "127.0.0.1:34601,127.0.0.2:34601"\n`)
    .join('');
const isRoute = (cluster: string) => (s: RouteState) => s.kind === 'route' && s.cluster === cluster;

/** Write the file the way editors do: a new file renamed over the old one. */
function replaceByRename(text: string): void {
  const tmp = join(dir, `.routes.yaml.${process.pid}.tmp`);
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

describe('file route registry', () => {
  it('follows in-place edits and rename-replacements within a fraction of a second', async () => {
    writeFileSync(file, yaml({ t1: 'c1', t2: 'x1' }));
    registry = createFileRegistry({ file, watch: createFileWatcher() });
    await waitFor(registry.ready$, (ready) => ready, 'ready');
    const t1$ = registry.route('t1');
    expect(await waitFor(t1$, isRoute('c1'), 'c1')).toMatchObject({ metas: ['127.0.0.1:34601', '127.0.0.2:34601'] });

    let started = Date.now();
    writeFileSync(file, yaml({ t1: 'c2', t2: 'x1' }));
    await waitFor(t1$, isRoute('c2'), 'the in-place edit', 1000);
    expect(Date.now() - started).toBeLessThan(1000);

    started = Date.now();
    replaceByRename(yaml({ t1: 'c3', t2: 'x1' }));
    await waitFor(t1$, isRoute('c3'), 'the rename-replacement', 1000);
    expect(Date.now() - started).toBeLessThan(1000);

    replaceByRename(yaml({ t1: 'c3' }));
    await waitFor(registry.route('t2'), (s) => s.kind === 'missing', 't2 removed');
  });

  it('keeps the last good routes through a broken edit or a deleted file, marked stale', async () => {
    writeFileSync(file, JSON.stringify({ t1: { cluster_name: 'c1', meta_addrs: ['127.0.0.1:34601'] } }));
    const warnings: unknown[] = [];
    const logger = { debug() {}, info() {}, error() {}, warn: (obj: unknown) => warnings.push(obj) };
    registry = createFileRegistry({ file, watch: createFileWatcher(), logger });
    const t1$ = registry.route('t1');
    await waitFor(t1$, isRoute('c1'), 'c1');

    writeFileSync(file, '{"t1": {"cluster_name": "c2", "meta_addrs": [');
    await waitFor$(() => warnings.length > 0, 'the broken edit to be logged');
    expect(warnings[0]).toMatchObject({ file, reason: expect.stringMatching(/not YAML/) });
    expect(await waitFor(t1$, () => true, 'the kept route', 100)).toMatchObject({ cluster: 'c1' });
    expect(registry.tables()).toEqual([expect.objectContaining({ table: 't1', stale: true })]);

    writeFileSync(file, yaml({ t1: 'c2' }));
    await waitFor(t1$, isRoute('c2'), 'the fixed file');
    expect(registry.tables()).toEqual([expect.objectContaining({ table: 't1', stale: false })]);

    unlinkSync(file);
    await waitFor$(() => registry!.tables()[0]?.stale === true, 'the deletion to be noticed');
    expect(await waitFor(t1$, () => true, 'the kept route', 100)).toMatchObject({ cluster: 'c2' });
    writeFileSync(file, yaml({ t1: 'c3' }));
    await waitFor(t1$, isRoute('c3'), 'the re-created file');
  });

  it('is not ready while the file is missing, and loads it once it appears', async () => {
    registry = createFileRegistry({ file, watch: createFileWatcher() });
    expect(await waitFor(registry.route('t1'), () => true, 'a first answer')).toMatchObject({ kind: 'unavailable' });
    expect(await waitFor(registry.ready$, () => true, 'ready$')).toBe(false);
    writeFileSync(file, yaml({ t1: 'c1' }));
    await waitFor(registry.ready$, (ready) => ready, 'ready');
    await waitFor(registry.route('t1'), isRoute('c1'), 'c1');
  });
});

describe('file watcher', () => {
  it('emits only when the content changes and stops on unsubscribe', async () => {
    writeFileSync(file, 'a: 1\n');
    const seen: FileSnapshot[] = [];
    const subscription = createFileWatcher({ pollMs: 50 })(file).subscribe((s) => seen.push(s));
    await waitFor$(() => seen.length === 1, 'the first read');
    writeFileSync(file, 'a: 1\n'); // same bytes: not news
    await new Promise((r) => setTimeout(r, 150));
    writeFileSync(file, 'a: 2\n');
    await waitFor$(() => seen.length === 2, 'the change');
    subscription.unsubscribe();
    writeFileSync(file, 'a: 3\n');
    await new Promise((r) => setTimeout(r, 150));
    expect(seen).toEqual([
      { kind: 'content', text: 'a: 1\n' },
      { kind: 'content', text: 'a: 2\n' },
    ]);
  });
});

async function waitFor$(check: () => boolean, what: string, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
