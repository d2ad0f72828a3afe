import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const unit = readFileSync(join(root, 'deploy/meta-proxy.service'), 'utf8');
const directive = (name: string): string[] => [...unit.matchAll(new RegExp(`^${name}=(.*)$`, 'gm'))].map((m) => (m[1] as string).trim());

describe('deploy/meta-proxy.service', () => {
  it('runs the CLI as a dedicated user with the documented paths', () => {
    expect(directive('User')).toEqual(['meta-proxy']);
    expect(directive('ExecStart')).toEqual(['/usr/bin/meta-proxy /etc/meta-proxy/meta-proxy.yaml /var/log/meta-proxy/meta-proxy.log']);
    expect(directive('Restart')).toEqual(['on-failure']);
    expect(directive('KillSignal')).toEqual(['SIGTERM']);
    expect(directive('NoNewPrivileges')).toEqual(['yes']);
    expect(directive('ProtectSystem')).toEqual(['strict']);
    expect(Number(directive('LimitNOFILE')[0])).toBeGreaterThanOrEqual(65536);
  });

  it('gives a stop more time than the default drain plus the shutdown grace', () => {
    const config = parseConfig('registry: { file: routes.yaml }\n', join(root, 'meta-proxy.yaml'));
    const stopMs = Number(/^(\d+)s$/.exec(directive('TimeoutStopSec')[0] ?? '')?.[1]) * 1000;
    // cliRun gives dispose() the drain time plus 5 s before it declares the shutdown failed.
    expect(stopMs).toBeGreaterThan(config.server.drainTimeoutMs + 5000);
  });
});
