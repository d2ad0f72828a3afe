import { describe, expect, it } from 'vitest';
import { TestScheduler } from 'rxjs/testing';
import { VirtualTimeScheduler, map } from 'rxjs';
import { createClientHosts, peerHost } from '../src/streams/clientHosts.js';
import type { RouteInfo } from '../src/model/route.js';

const MIN = 60_000;
const HOUR = 60 * MIN;

/** A clock the test moves by hand. */
function clock() {
  const scheduler = new VirtualTimeScheduler();
  return {
    scheduler,
    set(ms: number) {
      scheduler.frame = ms;
    },
  };
}

const routed = (table: string, cluster: string, changedAt = 0): RouteInfo => ({
  table,
  state: { kind: 'route', table, cluster, metas: [`${cluster}:34601`], version: 1 },
  stale: false,
  changedAt,
});

const query = (table: string, cluster: string | undefined, peer: string) => ({ table, cluster, code: 'ERR_OK', latencyMs: 1, peer });

describe('createClientHosts', () => {
  it('counts hosts (not connections) of the last hour before a change, and those that followed after it', () => {
    const time = clock();
    const tracker = createClientHosts({ scheduler: time.scheduler });
    const ask = (peer: string, cluster: string) => tracker.hooks.queryFinished(query('temp', cluster, peer));

    time.set(0);
    // Two connections of one host, and an IPv4-mapped IPv6 peer that is the same host as 10.0.0.3.
    ask('10.0.0.1:5001', 'A');
    ask('10.0.0.1:5002', 'A');
    ask('10.0.0.2:5001', 'A');
    ask('::ffff:10.0.0.3:6000', 'A');
    time.set(5 * MIN);
    ask('10.0.0.3:6001', 'A');
    expect(tracker.counts(routed('temp', 'A'))).toEqual({ hosts: 3, followed: null, since: null });

    // The switch, seen by the first answer from B: hosts 1 and 3 follow, 2 does not, 4 is new.
    time.set(10 * MIN);
    ask('10.0.0.1:5003', 'B');
    time.set(11 * MIN);
    ask('10.0.0.3:6002', 'B');
    ask('10.0.0.4:7000', 'B');
    const since = new Date(10 * MIN).toISOString();
    expect(tracker.counts(routed('temp', 'B', 10 * MIN))).toEqual({ hosts: 3, followed: 2, since });
    time.set(12 * MIN);
    ask('10.0.0.2:5001', 'B');
    expect(tracker.counts(routed('temp', 'B', 10 * MIN))).toEqual({ hosts: 3, followed: 3, since });
    // Hours later, the hosts of the change still count; the next change starts over.
    time.set(5 * HOUR);
    expect(tracker.counts(routed('temp', 'B', 10 * MIN))).toEqual({ hosts: 3, followed: 3, since });
    expect(tracker.hostCount('temp')).toBe(4);
  });

  it('lists each host with whether it counts and whether it followed, as the counts count them', () => {
    const time = clock();
    const tracker = createClientHosts({ scheduler: time.scheduler });
    expect(tracker.list(routed('temp', 'A'))).toBeNull();
    time.set(HOUR);
    tracker.hooks.queryFinished(query('temp', 'A', '10.0.0.1:1'));
    tracker.hooks.queryFinished(query('temp', 'A', '10.0.0.2:1'));
    expect(tracker.list(routed('temp', 'A'))).toEqual({
      table: 'temp',
      cluster: 'A',
      since: null,
      hosts: [
        { host: '10.0.0.1', lastAt: new Date(HOUR).toISOString(), cluster: 'A', counted: true, followed: false },
        { host: '10.0.0.2', lastAt: new Date(HOUR).toISOString(), cluster: 'A', counted: true, followed: false },
      ],
    });
    time.set(HOUR + 2 * MIN);
    tracker.hooks.queryFinished(query('temp', 'B', '10.0.0.2:2'));
    tracker.hooks.queryFinished(query('temp', 'B', '10.0.0.3:1'));
    const after = tracker.list(routed('temp', 'B', HOUR + MIN))!;
    expect(after.since).toBe(new Date(HOUR + MIN).toISOString());
    expect(after.hosts.map((h) => [h.host, h.counted, h.followed])).toEqual([
      ['10.0.0.1', true, false],
      ['10.0.0.2', true, true],
      ['10.0.0.3', false, false],
    ]);
    const counts = tracker.counts(routed('temp', 'B', HOUR + MIN));
    expect(counts).toMatchObject({ hosts: after.hosts.filter((h) => h.counted).length, followed: after.hosts.filter((h) => h.followed).length });
  });

  it('sees a switch nobody has asked about yet in the registry route, with the registry time', () => {
    const time = clock();
    const tracker = createClientHosts({ scheduler: time.scheduler });
    time.set(HOUR);
    for (let i = 1; i <= 40; i += 1) tracker.hooks.queryFinished(query('temp', 'A', `10.1.0.${i}:4000`));
    time.set(HOUR + 2 * MIN);
    const since = new Date(HOUR + MIN).toISOString();
    expect(tracker.counts(routed('temp', 'B', HOUR + MIN))).toEqual({ hosts: 40, followed: 0, since });
    time.set(HOUR + 3 * MIN);
    for (let i = 1; i <= 37; i += 1) tracker.hooks.queryFinished(query('temp', 'B', `10.1.0.${i}:4001`));
    time.set(HOUR + 4 * MIN);
    expect(tracker.counts(routed('temp', 'B', HOUR + MIN))).toEqual({ hosts: 40, followed: 37, since });
  });

  it('takes the registry time of a change first seen in an answer when it is earlier', () => {
    const time = clock();
    const tracker = createClientHosts({ scheduler: time.scheduler });
    time.set(0);
    tracker.hooks.queryFinished(query('temp', 'A', '10.0.0.1:1'));
    time.set(3 * MIN);
    tracker.hooks.queryFinished(query('temp', 'B', '10.0.0.1:1'));
    expect(tracker.counts(routed('temp', 'B', 2 * MIN))).toEqual({ hosts: 1, followed: 1, since: new Date(2 * MIN).toISOString() });
  });

  it('does not count a host seen more than the window before the change, nor one answered by the old cluster', () => {
    const time = clock();
    const tracker = createClientHosts({ scheduler: time.scheduler, windowMs: HOUR });
    time.set(0);
    tracker.hooks.queryFinished(query('temp', 'A', '10.0.0.1:1'));
    time.set(30 * MIN);
    tracker.hooks.queryFinished(query('temp', 'A', '10.0.0.2:1'));
    // A→B at 70 min: host 1 was last seen 70 minutes before, beyond the hour.
    time.set(70 * MIN);
    expect(tracker.counts(routed('temp', 'B', 70 * MIN))).toMatchObject({ hosts: 1, followed: 0 });
    // Back to A: host 2 answered by A after the second change counts as followed for that change, not for B.
    time.set(80 * MIN);
    expect(tracker.counts(routed('temp', 'A', 80 * MIN))).toMatchObject({ hosts: 1, followed: 0, since: new Date(80 * MIN).toISOString() });
    time.set(81 * MIN);
    tracker.hooks.queryFinished(query('temp', 'A', '10.0.0.2:2'));
    expect(tracker.counts(routed('temp', 'A', 80 * MIN))).toMatchObject({ hosts: 1, followed: 1 });
  });

  it('forgets a host an hour after its last query when there was no change', () => {
    const time = clock();
    const tracker = createClientHosts({ scheduler: time.scheduler });
    time.set(0);
    tracker.hooks.queryFinished(query('temp', 'A', '10.0.0.1:1'));
    time.set(30 * MIN);
    tracker.hooks.queryFinished(query('temp', 'A', '10.0.0.2:1'));
    time.set(HOUR + MIN);
    expect(tracker.counts(routed('temp', 'A'))).toEqual({ hosts: 1, followed: null, since: null });
    expect(tracker.hostCount('temp')).toBe(1);
    time.set(2 * HOUR);
    expect(tracker.counts(routed('temp', 'A'))).toEqual({ hosts: 0, followed: null, since: null });
    expect(tracker.hostCount('temp')).toBe(0);
  });

  it('keeps at most the host cap per table under 100 000 distinct addresses, evicting the least recently asking', () => {
    const time = clock();
    const tracker = createClientHosts({ scheduler: time.scheduler, hostsPerTable: 1000 });
    time.set(0);
    tracker.hooks.queryFinished(query('temp', 'A', '192.168.0.1:1'));
    for (let i = 0; i < 100_000; i += 1) {
      time.set(i);
      tracker.hooks.queryFinished(query('temp', 'A', `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:1`));
      // One host keeps asking: it is never the one to go.
      if (i % 500 === 0) tracker.hooks.queryFinished(query('temp', 'A', '192.168.0.1:1'));
    }
    expect(tracker.hostCount('temp')).toBe(1000);
    expect(tracker.counts(routed('temp', 'A')).hosts).toBe(1000);
    // The newest addresses are the ones kept, and the host that kept asking.
    time.set(100_000);
    tracker.hooks.queryFinished(query('temp', 'B', '10.1.134.159:2'));
    tracker.hooks.queryFinished(query('temp', 'B', '192.168.0.1:2'));
    expect(tracker.counts(routed('temp', 'B', 100_000))).toMatchObject({ hosts: 1000, followed: 2 });
  });

  it('tracks at most the table cap, no query without a route, and forgets an evicted table', () => {
    const time = clock();
    const tracker = createClientHosts({ scheduler: time.scheduler, maxTables: 2 });
    tracker.hooks.queryFinished(query('no_route', undefined, '10.0.0.1:1'));
    for (const table of ['t1', 't2', 't3']) tracker.hooks.queryFinished(query(table, 'A', '10.0.0.1:1'));
    expect(tracker.tableCount).toBe(2);
    expect(tracker.counts(routed('t3', 'A')).hosts).toBe(0);
    tracker.forget('t1');
    expect(tracker.tableCount).toBe(1);
    expect(tracker.counts(routed('t1', 'A')).hosts).toBe(0);
  });

  it('reads the host of each connection once, when it opens', () => {
    const time = clock();
    const tracker = createClientHosts({ scheduler: time.scheduler });
    tracker.hooks.connectionOpened('[::1]:4000');
    tracker.hooks.queryFinished(query('temp', 'A', '[::1]:4000'));
    tracker.hooks.connectionClosed('[::1]:4000');
    tracker.hooks.queryFinished(query('temp', 'A', '::1:4001'));
    expect(tracker.counts(routed('temp', 'A')).hosts).toBe(1);
  });

  it('is driven by the scheduler it is given: a marble stream of queries, counted at each read', () => {
    const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
    scheduler.run(({ hot, expectObservable }) => {
      const tracker = createClientHosts({ scheduler, windowMs: 10 });
      // Hosts 1 and 2 ask A; the registry says B from 5 on; host 1 asks B at 12, host 2 at 26.
      const queries = hot('  a-b---------c-------------d', {
        a: query('temp', 'A', '10.0.0.1:1'),
        b: query('temp', 'A', '10.0.0.2:1'),
        c: query('temp', 'B', '10.0.0.1:2'),
        d: query('temp', 'B', '10.0.0.2:2'),
      });
      const reads = hot('    ---------r---------r--------r');
      const expected = '     ---------x---------y--------z';
      queries.subscribe((event) => tracker.hooks.queryFinished(event));
      const since = new Date(5).toISOString();
      expectObservable(reads.pipe(map(() => tracker.counts(routed('temp', 'B', 5))))).toBe(expected, {
        x: { hosts: 2, followed: 0, since },
        y: { hosts: 2, followed: 1, since },
        // Host 2 last asked at 2, inside [5 - 10, 5): it counts, and follows at 26.
        z: { hosts: 2, followed: 2, since },
      });
    });
  });

  it('reads a peer as its host', () => {
    expect(peerHost('127.0.0.2:40000')).toBe('127.0.0.2');
    expect(peerHost('::ffff:127.0.0.2:40000')).toBe('127.0.0.2');
    expect(peerHost('::1:40000')).toBe('::1');
    expect(peerHost('fe80::1%eth0:1')).toBe('fe80::1%eth0');
    expect(peerHost('[2001:db8::1]:34601')).toBe('2001:db8::1');
  });
});
