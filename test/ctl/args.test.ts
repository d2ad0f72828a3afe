import { describe, expect, it } from 'vitest';
import { CommandUsageError, parseCtlArgs } from '../../src/ctl/args.js';

const usage = (argv: string[]) => {
  try {
    parseCtlArgs(argv);
  } catch (err) {
    expect(err).toBeInstanceOf(CommandUsageError);
    return (err as CommandUsageError).message;
  }
  throw new Error(`${argv.join(' ')} parsed`);
};

describe('parseCtlArgs', () => {
  it('reads --config anywhere, defaulting to ./meta-proxy.yaml', () => {
    expect(parseCtlArgs(['list'])).toEqual({ configFile: 'meta-proxy.yaml', command: { kind: 'list', json: false } });
    expect(parseCtlArgs(['list', '--json', '--config=/etc/p.yaml']).configFile).toBe('/etc/p.yaml');
    expect(parseCtlArgs(['--config', 'x.yaml', 'get', 't']).command).toEqual({ kind: 'get', table: 't', json: false });
  });

  it('validates set like the proxy reads route nodes: trimmed, deduplicated metas, non-empty cluster', () => {
    expect(parseCtlArgs(['set', 't', '--cluster', ' c1 ', '--meta', 'a.example:1, 10.0.0.1:2,a.example:1']).command).toEqual({
      kind: 'set',
      table: 't',
      route: { cluster: 'c1', metas: ['a.example:1', '10.0.0.1:2'] },
      force: false,
    });
    expect(usage(['set', 't', '--cluster', 'c', '--meta', '300.0.0.1:1'])).toContain('neither an IPv4 address nor a host name');
    expect(usage(['set', 't', '--cluster', 'c', '--meta', 'h:0'])).toContain('outside 1-65535');
    expect(usage(['set', 't', '--cluster', 'c', '--meta', ' , '])).toContain('at least one');
    expect(usage(['set', 't', '--cluster', '', '--meta', 'h:1'])).toContain('non-empty cluster name');
    expect(usage(['set', '..', '--cluster', 'c', '--meta', 'h:1'])).toContain('not a node name');
    expect(usage(['set', 't', '--meta', 'h:1'])).toBe('set needs --cluster.');
  });

  it('parses switch and import options', () => {
    expect(parseCtlArgs(['switch', '--from', 'A', '--to', 'B', '--meta', 'b:1', '--tables', 't1, t2,t1', '--dry-run']).command).toEqual({
      kind: 'switch',
      from: 'A',
      to: { cluster: 'B', metas: ['b:1'] },
      tables: ['t1', 't2'],
      dryRun: true,
      fence: true,
      configSyncMs: 30_000,
      fleetWaitMs: 10_000,
    });
    expect(parseCtlArgs(['switch', '--from', 'A', '--to', 'B', '--meta', 'b:1', '--fleet-wait-ms', '0', '--wait-clients', '30']).command).toMatchObject({ fleetWaitMs: 0, waitClientsS: 30 });
    expect(usage(['switch', '--from', 'A', '--to', 'B', '--meta', 'b:1', '--wait-clients', '3', '--no-fence'])).toContain('makes no sense with --no-fence');
    expect(parseCtlArgs(['switch', '--from', 'A', '--to', 'B', '--meta', 'b:1', '--config-sync-ms', '250']).command).toMatchObject({ configSyncMs: 250 });
    expect(usage(['switch', '--from', 'A', '--to', 'B', '--meta', 'b:1', '--config-sync-ms', '-1'])).toContain('--config-sync-ms needs a whole number');
    expect(parseCtlArgs(['switch', '--from', 'A', '--to', 'B', '--meta', 'b:1', '--no-fence']).command).toMatchObject({ fence: false, dryRun: false });
    expect(parseCtlArgs(['import', '--cluster', 'A', '--meta', 'a:1', '--overwrite']).command).toEqual({
      kind: 'import',
      cluster: { cluster: 'A', metas: ['a:1'] },
      dryRun: false,
      overwrite: true,
    });
  });

  it('parses fence and fences', () => {
    expect(parseCtlArgs(['fence', 't1', 't2', 't1', '--cluster', 'A']).command).toEqual({
      kind: 'fence',
      tables: ['t1', 't2'],
      cluster: { name: 'A' },
      lift: false,
      mode: 'reconfig*all',
      dryRun: false,
    });
    expect(parseCtlArgs(['fence', 't', '--meta', 'a:1,a:2', '--lift']).command).toMatchObject({ cluster: { metas: ['a:1', 'a:2'] }, lift: true });
    expect(parseCtlArgs(['fence', 't', '--cluster', 'A', '--meta', 'a:1', '--mode', 'timeout*write']).command).toMatchObject({
      cluster: { name: 'A', metas: ['a:1'] },
      mode: 'timeout*write',
    });
    expect(usage(['fence', '--cluster', 'A'])).toBe('fence needs the table name.');
    expect(usage(['fence', 't'])).toBe('fence needs --cluster NAME or --meta LIST.');
    expect(usage(['fence', 't', '--cluster', 'A', '--mode', 'deny*all'])).toContain('--mode must be one of reconfig*all');
    expect(usage(['fence', 't', '--cluster', 'A', '--lift', '--mode', 'reconfig*all'])).toContain('makes no sense with --lift');
    expect(parseCtlArgs(['fences']).command).toEqual({ kind: 'fences', json: false });
    expect(parseCtlArgs(['fences', '--cluster', 'B', '--json']).command).toEqual({ kind: 'fences', cluster: { name: 'B' }, json: true });
  });

  it('rejects what it does not know, and gives help per command', () => {
    expect(usage(['list', '--force'])).toBe('Unknown option --force for list.');
    expect(usage(['--json', 'list'])).toContain('options come after the command');
    expect(usage(['get', 't', 'u'])).toBe('Unexpected argument: u.');
    expect(usage(['set', 't', '--force=yes', '--cluster', 'c', '--meta', 'h:1'])).toBe('--force takes no value.');
    expect(usage(['set', 't', '--cluster', '--meta', 'h:1'])).toBe('--cluster needs a value.');
    expect(usage([])).toBe('No command given.');
    expect(parseCtlArgs(['delete', '--help']).command).toEqual({ kind: 'help', topic: 'delete' });
    expect(parseCtlArgs(['help', 'check']).command).toEqual({ kind: 'help', topic: 'check' });
    expect(parseCtlArgs(['--version']).command).toEqual({ kind: 'version' });
  });
});
