import { describe, expect, it } from 'vitest';
import { sameRouteState, type RouteState } from '../src/model/route.js';
import { metaAddressProblem, parseRoute, tableNameProblem } from '../src/streams/parseRoute.js';

const json = (value: unknown) => Buffer.from(JSON.stringify(value));

describe('parseRoute', () => {
  it('reads cluster_name and a comma-separated meta_addrs, trimming entries', () => {
    expect(parseRoute('temp', json({ cluster_name: ' c1 ', meta_addrs: ' 10.0.0.1:34601 , 10.0.0.2:34601' }), 7)).toEqual({
      kind: 'route',
      table: 'temp',
      cluster: 'c1',
      metas: ['10.0.0.1:34601', '10.0.0.2:34601'],
      version: 7,
    });
  });

  it('accepts meta_addrs as an array, a single address, host names, and skips empty and repeated entries', () => {
    const state = parseRoute('t', json({ cluster_name: 'c', meta_addrs: ['meta-1.example.com:34601', '', 'meta_2:1', 'meta-1.example.com:34601'] }), 0);
    expect(state).toMatchObject({ kind: 'route', metas: ['meta-1.example.com:34601', 'meta_2:1'] });
    expect(parseRoute('t', '{"cluster_name":"c","meta_addrs":"127.0.0.1:34601,"}', 3)).toMatchObject({ kind: 'route', metas: ['127.0.0.1:34601'] });
    expect(parseRoute('t', json({ cluster_name: 'c', meta_addrs: '[::1]:34601' }), 0)).toMatchObject({ kind: 'route', metas: ['[::1]:34601'] });
  });

  it('keeps fields it does not know about out of the way', () => {
    expect(parseRoute('t', json({ cluster_name: 'c', meta_addrs: 'a:1', owner: 'x' }), 0)).toMatchObject({ kind: 'route', cluster: 'c' });
  });

  it.each([
    ['not JSON', '{cluster_name:', /not JSON/],
    ['an array', '[1,2]', /not an object/],
    ['null', 'null', /not an object/],
    ['no cluster_name', '{"meta_addrs":"a:1"}', /cluster_name/],
    ['an empty cluster_name', '{"cluster_name":" ","meta_addrs":"a:1"}', /cluster_name/],
    ['no meta_addrs', '{"cluster_name":"c"}', /meta_addrs is missing/],
    ['meta_addrs of numbers', '{"cluster_name":"c","meta_addrs":[1]}', /meta_addrs is missing/],
    ['no address at all', '{"cluster_name":"c","meta_addrs":" , "}', /lists no address/],
    ['an address without port', '{"cluster_name":"c","meta_addrs":"10.0.0.1"}', /no ":port"/],
    ['port 0', '{"cluster_name":"c","meta_addrs":"10.0.0.1:0"}', /outside 1-65535/],
    ['port 70000', '{"cluster_name":"c","meta_addrs":"h:70000"}', /outside 1-65535/],
    ['a bad IPv4', '{"cluster_name":"c","meta_addrs":"10.0.0.300:1"}', /neither an IPv4 address nor a host name/],
    ['a host with a space', '{"cluster_name":"c","meta_addrs":"my host:1"}', /neither an IPv4 address nor a host name/],
  ])('says why a node holding %s is invalid', (_what, data, reason) => {
    const state = parseRoute('t', data, 0);
    expect(state.kind).toBe('invalid');
    expect(state.kind === 'invalid' && state.reason).toMatch(reason);
  });

  it('checks table names and addresses on their own', () => {
    expect(tableNameProblem('temp')).toBeUndefined();
    expect(tableNameProblem('a.b-c_d:1')).toBeUndefined();
    expect(tableNameProblem('')).toMatch(/empty/);
    expect(tableNameProblem('a/b')).toMatch(/'\/'/);
    expect(tableNameProblem('..')).toMatch(/not a node name/);
    expect(tableNameProblem('a\u0000b')).toMatch(/control/);
    expect(metaAddressProblem('localhost:34601')).toBeUndefined();
    expect(metaAddressProblem(':34601')).toMatch(/host is missing/);
  });
});

describe('sameRouteState', () => {
  const route = (cluster: string, metas: string[], version: number): RouteState => ({ kind: 'route', table: 't', cluster, metas, version });
  const a = route('c1', ['m:1'], 0);
  const a2 = route('c1', ['m:1'], 1);
  const b = route('c2', ['m:1'], 2);
  const m: RouteState = { kind: 'missing', table: 't' };

  it('ignores the version, compares cluster, metas in order, and reasons of failures', () => {
    expect(sameRouteState(a, a2)).toBe(true);
    expect(sameRouteState(a, b)).toBe(false);
    expect(sameRouteState(m, { kind: 'missing', table: 't' })).toBe(true);
    expect(sameRouteState(route('c', ['a:1', 'b:1'], 0), route('c', ['b:1', 'a:1'], 0))).toBe(false);
    expect(sameRouteState({ kind: 'invalid', table: 't', reason: 'x' }, { kind: 'invalid', table: 't', reason: 'y' })).toBe(false);
    expect(sameRouteState(m, { kind: 'missing', table: 'u' })).toBe(false);
  });
});
