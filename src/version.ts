import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The version in the project's package.json. Looked up by walking up from this
 * file, because it runs both from `src/` (tests) and from `dist/src/` (the bin).
 */
export function readVersion(from: string = import.meta.url): string {
  let folder = dirname(fileURLToPath(from));
  for (;;) {
    try {
      const manifest = JSON.parse(readFileSync(join(folder, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (manifest.name === 'meta-proxy' && typeof manifest.version === 'string') return manifest.version;
    } catch {
      // No (readable) package.json here: keep climbing.
    }
    const parent = dirname(folder);
    if (parent === folder) return 'unknown';
    folder = parent;
  }
}
