import { describe, expect, it } from 'vitest';
import { joinHostLists, waitForRoutes, type FleetAccess } from '../../src/ctl/fleetWait.js';
import type { FleetInstance, InstanceAnswer } from '../../src/ctl/fleet.js';
import type { ClientHostList } from '../../src/model/clientHostTypes.js';

const instance = (name: string, extra: Partial<FleetInstance> = {}): FleetInstance => ({
  name, listen: name, admin: `http://${name}`, version: '1', pid: 1, startedAt: null, routesRoot: '/routes', ready: true, ...extra,
});
const row = (table: string, cluster: string, metas: string[]) => ({ table, kind: 'route', cluster, metas });
const B = { cluster: 'B', metas: ['b:1', 'b:2'] };

/** A fleet whose instances answer `/tables` from a script: one answer per ask, the last one repeated. */
function scriptedFleet(script: Record<string, InstanceAnswer[]>): FleetAccess & { asked: Record<string, number> } {
  const asked: Record<string, number> = {};
  return {
    path: '/meta-proxy/instances',
    routesRoot: '/routes',
    asked,
    read: async () => [],
    ask: async (i) => {
      const n = (asked[i.name] = (asked[i.name] ?? 0) + 1);
      const answers = script[i.name] ?? [];
      return answers[Math.min(n, answers.length) - 1] ?? { reachable: false, reason: 'no script' };
    },
  };
}

describe('waitForRoutes', () => {
  it('waits for each instance until it serves the new route for every cached table, and names the others at the limit', async () => {
    const tables = (rows: unknown[]): InstanceAnswer => ({ reachable: true, answers: { '/tables': rows } });
    const fleet = scriptedFleet({
      fast: [tables([row('t1', 'B', B.metas), row('t2', 'B', B.metas)])],
      slow: [tables([row('t1', 'A', ['a:1'])]), tables([row('t1', 'A', ['a:1'])]), tables([row('t1', 'B', B.metas)])],
      stuck: [tables([row('t1', 'B', ['b:1']), row('t2', 'A', ['a:1'])])],
      gone: [{ reachable: false, reason: 'connection refused' }],
    });
    const states = await waitForRoutes(
      fleet,
      [instance('fast'), instance('slow'), instance('stuck'), instance('gone'), instance('quiet', { admin: null }), instance('other', { routesRoot: '/else' })],
      ['t1', 't2'],
      B,
      600,
    );
    expect(states.map((s) => [s.instance, s.status])).toEqual([
      ['fast', 'serving'],
      ['slow', 'serving'],
      ['stuck', 'lagging'],
      ['gone', 'unreachable'],
      ['quiet', 'unreachable'],
      ['other', 'elsewhere'],
    ]);
    expect(states[1]).toMatchObject({ serving: ['t1'], notCached: ['t2'] });
    // Other metas for the same cluster are not the new route either.
    expect(states[2]).toMatchObject({ stale: [{ table: 't1', serves: 'B (b:1)' }, { table: 't2', serves: 'A (a:1)' }] });
    expect(fleet.asked.slow).toBe(3);
    expect(fleet.asked.quiet).toBeUndefined();
    expect(fleet.asked.other).toBeUndefined();
  });
});

describe('joinHostLists', () => {
  const SWITCH = Date.parse('2026-01-01T10:00:00Z');
  const at = (offsetS: number) => new Date(SWITCH + offsetS * 1000).toISOString();
  const list = (since: string | null, hosts: ClientHostList['hosts']): ClientHostList => ({ table: 't', cluster: 'B', since, hosts });
  const entry = (host: string, offsetS: number, cluster: string, counted: boolean, followed: boolean) => ({ host, lastAt: at(offsetS), cluster, counted, followed });

  it('counts a host once across instances: used before the switch anywhere, followed when any instance saw it get the new cluster', () => {
    const joined = joinHostLists(
      't',
      [
        // Saw the switch: h1 followed here, h2 did not ask again, h3 is new since.
        list(at(0), [entry('h1', 5, 'B', true, true), entry('h2', -30, 'A', true, false), entry('h3', 5, 'B', false, false)]),
        // Did not see a change (its first query came after the switch): h2 asked it after the switch and got B.
        list(null, [entry('h2', 8, 'B', true, false), entry('h4', -10, 'A', true, false)]),
        null,
      ],
      'B',
      SWITCH,
      3_600_000,
    );
    expect(joined).toEqual({ table: 't', hosts: ['h1', 'h2', 'h4'], followed: ['h1', 'h2'], pending: ['h4'] });
  });

  it('leaves out hosts whose last query before the switch is older than the window', () => {
    const joined = joinHostLists('t', [list(null, [entry('old', -7200, 'A', true, false), entry('recent', -60, 'A', true, false)])], 'B', SWITCH, 3_600_000);
    expect(joined.hosts).toEqual(['recent']);
  });
});
