import { describe, expect, it } from 'vitest';
import { formatHostPort, parseHostPort } from '../../src/protocol/hostPort.js';
import { closestKey, editDistance } from '../../src/config/suggest.js';

describe('parseHostPort', () => {
  const connect = { minPort: 1 };
  const listen = { minPort: 0, defaultHost: '0.0.0.0' };

  it('reads IPv4, host names and bracketed IPv6', () => {
    expect(parseHostPort('10.1.2.3:2181', connect)).toEqual({ host: '10.1.2.3', port: 2181 });
    expect(parseHostPort(' zk-1.example.com:2181 ', connect)).toEqual({ host: 'zk-1.example.com', port: 2181 });
    expect(parseHostPort('[::1]:34601', connect)).toEqual({ host: '::1', port: 34601 });
  });

  it('fills the default host for ":port" only when allowed', () => {
    expect(parseHostPort(':9091', listen)).toEqual({ host: '0.0.0.0', port: 9091 });
    expect(parseHostPort(':9091', connect)).toEqual({ error: 'the host is missing' });
  });

  it('checks the port range at both ends', () => {
    expect(parseHostPort('h:0', listen)).toEqual({ host: 'h', port: 0 });
    expect(parseHostPort('h:0', connect)).toEqual({ error: 'port 0 is outside 1-65535' });
    expect(parseHostPort('h:65535', connect)).toEqual({ host: 'h', port: 65535 });
    expect(parseHostPort('h:65536', connect)).toEqual({ error: 'port 65536 is outside 1-65535' });
    expect(parseHostPort('h:-1', connect)).toEqual({ error: 'the port "-1" is not a number' });
    expect(parseHostPort('h:80x', connect)).toEqual({ error: 'the port "80x" is not a number' });
  });

  it('rejects malformed hosts', () => {
    expect(parseHostPort('1.2.3.256:80', connect)).toHaveProperty('error');
    expect(parseHostPort('bad host:80', connect)).toHaveProperty('error');
    expect(parseHostPort('[zz]:80', connect)).toEqual({ error: '"zz" is not an IPv6 address' });
    expect(parseHostPort('::1:80', connect)).toHaveProperty('error');
  });

  it('formats back, bracketing IPv6', () => {
    expect(formatHostPort({ host: '::1', port: 1 })).toBe('[::1]:1');
    expect(formatHostPort({ host: 'a', port: 2 })).toBe('a:2');
  });
});

describe('closestKey', () => {
  const known = ['address', 'root', 'timeout', 'table_watcher_cache_capacity', 'auth'];

  it('matches other spellings of the same words', () => {
    expect(closestKey('tableWatcherCacheCapacity', known)).toBe('table_watcher_cache_capacity');
    expect(closestKey('Table-Watcher-Cache-Capacity', known)).toBe('table_watcher_cache_capacity');
  });

  it('matches typos and swapped letters, not unrelated words', () => {
    expect(closestKey('adress', known)).toBe('address');
    expect(closestKey('timoeut', known)).toBe('timeout');
    expect(closestKey('servers', known)).toBeUndefined();
    expect(editDistance('ab', 'ba')).toBe(1);
    expect(editDistance('kitten', 'sitting')).toBe(3);
  });
});
