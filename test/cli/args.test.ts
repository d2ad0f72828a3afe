import { describe, expect, it } from 'vitest';
import { parseArgs } from '../../src/cliArgs.js';
import { UsageError } from '../../src/errors.js';

describe('parseArgs', () => {
  it('takes the original positional form', () => {
    expect(parseArgs(['meta-proxy.yaml'])).toEqual({ kind: 'run', configFile: 'meta-proxy.yaml' });
    expect(parseArgs(['meta-proxy.yaml', '/var/log/mp.log'])).toEqual({
      kind: 'run',
      configFile: 'meta-proxy.yaml',
      logFile: '/var/log/mp.log',
    });
  });

  it('accepts --check-config before or after the file, or with =', () => {
    const expected = { kind: 'check', configFile: 'c.yaml' };
    expect(parseArgs(['--check-config', 'c.yaml'])).toEqual(expected);
    expect(parseArgs(['c.yaml', '--check-config'])).toEqual(expected);
    expect(parseArgs(['--check-config=c.yaml'])).toEqual(expected);
  });

  it('lets --help and --version win over everything else', () => {
    expect(parseArgs(['--help'])).toEqual({ kind: 'help' });
    expect(parseArgs(['-h', '--bogus', 'a', 'b', 'c'])).toEqual({ kind: 'help' });
    expect(parseArgs(['--version'])).toEqual({ kind: 'version' });
    expect(parseArgs(['c.yaml', '-v'])).toEqual({ kind: 'version' });
  });

  it('treats everything after -- as files', () => {
    expect(parseArgs(['--', '--odd.yaml'])).toEqual({ kind: 'run', configFile: '--odd.yaml' });
  });

  it.each([
    [[], 'The configuration file is missing.'],
    [['a.yaml', 'b.log', 'c'], 'Too many arguments: c.'],
    [['--verbose', 'a.yaml'], 'Unknown option: --verbose.'],
    [['--check-config'], '--check-config needs the configuration file to check.'],
    [['--check-config', 'a.yaml', 'b.log'], '--check-config takes one configuration file, got 2: a.yaml b.log.'],
    [['--check-config=a.yaml', 'b.yaml'], '--check-config takes one configuration file, got 2: a.yaml b.yaml.'],
    [['--check-config='], '--check-config= needs a file name.'],
  ])('rejects %j', (argv, message) => {
    expect(() => parseArgs(argv)).toThrow(UsageError);
    expect(() => parseArgs(argv)).toThrow(message);
  });
});
