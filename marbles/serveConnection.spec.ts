import { describe, expect, it } from 'vitest';
import { TestScheduler } from 'rxjs/testing';
import { NEVER, Observable, Subject, of, switchMap } from 'rxjs';
import { serveConnection, type ServeOptions } from '../src/streams/serveConnection.js';
import type { ClientConnection } from '../src/model/connectionTypes.js';
import type { Route, RouteState } from '../src/model/route.js';
import type { MetaAnswer } from '../src/model/upstream.js';
import { queryFrame, readReply, requestBody, v0Frame, queryConfigArgs } from '../sim/client.js';
import { answer as answerOf, core, metaOf } from './support/core.js';

const A: Route = { kind: 'route', table: 't', cluster: 'A', metas: [metaOf('A')], version: 1 };
const answer = () => answerOf('A');

interface FakeConnection extends ClientConnection {
  written: Buffer[];
  /** Each write, described (`A#1`, `ERR_OK/ERR_BUSY#3`), at the frame it was made. */
  replies$: Observable<string>;
  /** `pause@3`: what the connection was told, at which frame. */
  events: string[];
}

function fakeConnection(scheduler: TestScheduler, chunks$: Observable<Buffer>, closed$: Observable<void>): FakeConnection {
  const written: Buffer[] = [];
  const replies = new Subject<string>();
  const events: string[] = [];
  const log = (what: string) => events.push(`${what}@${scheduler.now()}`);
  return {
    id: 1,
    peer: '127.0.0.1:5555',
    chunks$,
    closed$,
    drain$: NEVER,
    written,
    replies$: replies,
    events,
    write: (frame) => (written.push(frame), replies.next(describeReply(frame)), true),
    pause: () => log('pause'),
    resume: () => log('resume'),
    end: () => log('end'),
    destroy: () => log('destroy'),
  };
}

/** Table `gone` has no route node: its queries are answered while they are submitted. */
const routeOf = (table: string): Observable<RouteState> => (table === 'gone' ? of({ kind: 'missing', table }) : new Observable((s) => s.next(A)));

/** Serving options over the real routing core: table t is routed to A, whose meta answers `call$`. */
function options(scheduler: TestScheduler, call$: Observable<MetaAnswer>, extra: Partial<ServeOptions> = {}): ServeOptions {
  const { router } = core(scheduler, routeOf, { A: call$ });
  return {
    router,
    scheduler,
    defaultTimeoutMs: 1000,
    maxTimeoutMs: 60_000,
    hooks: {},
    maxFrameBytes: 1 << 20,
    maxInFlightPerConnection: 16,
    partialFrameTimeoutMs: 0,
    ...extra,
  };
}

const describeReply = (frame: Buffer) =>
  frame.length === 5 ? `A#${frame.readInt32BE(0)}` : `${readReply(frame).headerError}/${readReply(frame).err ?? '-'}#${readReply(frame).seqid}`;

describe('serveConnection', () => {
  it('answers queries asynchronously and other RPCs at once, each under its seqid', () => {
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b));
    scheduler.run(({ hot, cold, expectObservable }) => {
      const unknown = v0Frame(requestBody('RPC_FOO', 2, queryConfigArgs('t')));
      const chunks$ = hot<Buffer>('-q-u-----', { q: queryFrame('t', 1), u: unknown });
      const call$ = cold<MetaAnswer>(' ----x|', { x: answer() });
      const expected = '           ---u-a---';
      const connection = fakeConnection(scheduler, chunks$, NEVER);
      serveConnection(connection, options(scheduler, call$));
      expectObservable(connection.replies$).toBe(expected, { u: 'ERR_HANDLER_NOT_FOUND/-#2', a: 'A#1' });
    });
  });

  it('a query its table answers while it is submitted (no route) is written at once through the same count: it neither pauses reading nor resumes it early', () => {
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b));
    scheduler.run(({ hot, cold, expectObservable, flush }) => {
      // c: a query of t, then one of gone, in one chunk.
      const c = Buffer.concat([queryFrame('t', 3), queryFrame('gone', 4)]);
      const chunks$ = hot<Buffer>('-g-h-c-------', { g: queryFrame('gone', 1), h: queryFrame('gone', 2), c });
      const call$ = cold<MetaAnswer>('     ---x|', { x: answer() });
      const expected = '           -g-h-k--a----';
      const connection = fakeConnection(scheduler, chunks$, NEVER);
      // A limit of one: a synchronous answer left counted would pause reading at g for good, and one counted
      // only after it came would resume reading at k while t's query is still in flight.
      const session = serveConnection(connection, options(scheduler, call$, { maxInFlightPerConnection: 1 }));
      const notFound = (seqid: number) => `ERR_OK/ERR_OBJECT_NOT_FOUND#${seqid}`;
      expectObservable(connection.replies$).toBe(expected, { g: notFound(1), h: notFound(2), k: notFound(4), a: 'A#3' });
      const inFlight: string[] = [];
      for (const frame of [2, 4, 6, 9]) scheduler.schedule(() => inFlight.push(`${session.inFlight()}@${frame}`), frame);
      flush();
      expect(inFlight).toEqual(['0@2', '0@4', '1@6', '0@9']);
      expect(connection.events).toEqual(['pause@5', 'resume@8']);
    });
  });

  it('answers frames beyond twice the in-flight limit ERR_BUSY at once, in the frame they were read', () => {
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b));
    scheduler.run(({ hot, cold, expectObservable }) => {
      const three = Buffer.concat([1, 2, 3].map((seqid) => queryFrame('t', seqid, { indices: [seqid] })));
      const chunks$ = hot<Buffer>('-c------', { c: three });
      const call$ = cold<MetaAnswer>(' --x|', { x: answer() });
      const expected = '           -b-(xy)--';
      const connection = fakeConnection(scheduler, chunks$, NEVER);
      serveConnection(connection, options(scheduler, call$, { maxInFlightPerConnection: 1 }));
      expectObservable(connection.replies$).toBe(expected, { b: 'ERR_OK/ERR_BUSY#3', x: 'A#1', y: 'A#2' });
    });
  });

  it('a client that disconnects cancels its upstream calls', () => {
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b));
    scheduler.run(({ hot, cold, expectSubscriptions, flush }) => {
      const chunks$ = hot<Buffer>('-q------', { q: queryFrame('t', 1) });
      const closed$ = hot<void>('   ----c---', { c: undefined });
      const call$ = cold<MetaAnswer>('------x|', { x: answer() });
      //                               -^--!
      const connection = fakeConnection(scheduler, chunks$, closed$);
      serveConnection(connection, options(scheduler, call$));
      expectSubscriptions(call$.subscriptions).toBe('-^--!');
      expectSubscriptions(chunks$.subscriptions).toBe('^---!');
      flush();
      expect(connection.written).toEqual([]);
    });
  });

  it('a client that ends its side is ended once its last reply is written', () => {
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b));
    scheduler.run(({ hot, cold, expectObservable, flush }) => {
      const chunks$ = hot<Buffer>('-q-|----', { q: queryFrame('t', 1) });
      const call$ = cold<MetaAnswer>(' ---x|', { x: answer() });
      const connection = fakeConnection(scheduler, chunks$, NEVER);
      const closed: string[] = [];
      const session = serveConnection(connection, options(scheduler, call$), () => closed.push(`closed@${scheduler.now()}`));
      expectObservable(connection.replies$).toBe('----a---', { a: 'A#1' });
      expectObservable(session.done$).toBe('----(d|)', { d: undefined });
      flush();
      expect(connection.events).toEqual(['end@4']);
      expect(closed).toEqual(['closed@4']);
    });
  });

  it('closes the connection on a frame with a bad magic, after answering nothing for it', () => {
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b));
    scheduler.run(({ hot, cold, flush, expectSubscriptions }) => {
      const chunks$ = hot<Buffer>('-g-', { g: Buffer.from('GET / HTTP/1.1\r\n\r\n') });
      const connection = fakeConnection(scheduler, chunks$, NEVER);
      const rejected: string[] = [];
      serveConnection(connection, { ...options(scheduler, cold('-')), hooks: { frameRejected: (_p, reason) => rejected.push(reason) } });
      expectSubscriptions(chunks$.subscriptions).toBe('^!');
      flush();
      expect(connection.events).toEqual(['destroy@1']);
      expect(connection.written).toEqual([]);
      expect(rejected).toEqual(['bad-magic']);
    });
  });

  it('stops reading at the in-flight limit and resumes when answers leave', () => {
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b));
    scheduler.run(({ hot, cold, expectObservable, flush }) => {
      const two = Buffer.concat([queryFrame('t', 1, { indices: [0] }), queryFrame('t', 2, { indices: [1] })]);
      const chunks$ = hot<Buffer>('-b-----', { b: two });
      const call$ = cold<MetaAnswer>(' ---x|', { x: answer() });
      const connection = fakeConnection(scheduler, chunks$, NEVER);
      serveConnection(connection, options(scheduler, call$, { maxInFlightPerConnection: 2 }));
      expectObservable(connection.replies$).toBe('----(xy)', { x: 'A#1', y: 'A#2' });
      flush();
      // Paused when the second query was read; resumed with the first reply (1 in flight).
      expect(connection.events).toEqual(['pause@1', 'resume@4']);
    });
  });

  it('stops reading while the client does not drain its replies, listening for drain only while blocked', () => {
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b));
    scheduler.run(({ hot, cold, flush, expectSubscriptions }) => {
      const chunks$ = hot<Buffer>('-a------', { a: queryFrame('t', 1) });
      const call$ = cold<MetaAnswer>('-x|', { x: answer() });
      const drain$ = hot<void>('     -----d--');
      //                             ^-! subscribed from the full write (frame 2) to the drain (frame 5)
      const connection = { ...fakeConnection(scheduler, chunks$, NEVER), drain$, write: () => false };
      serveConnection(connection, options(scheduler, call$));
      expectSubscriptions(drain$.subscriptions).toBe('--^--!');
      flush();
      expect(connection.events).toEqual(['pause@2', 'resume@5']);
    });
  });

  it('closes a connection that holds a partial frame longer than the partial-frame timeout', () => {
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b));
    scheduler.run(({ hot, cold, flush }) => {
      const half = queryFrame('t', 1).subarray(0, 20);
      const chunks$ = hot<Buffer>('-h-----', { h: half });
      const connection = fakeConnection(scheduler, chunks$, NEVER);
      serveConnection(connection, options(scheduler, cold('-'), { partialFrameTimeoutMs: 5 }));
      flush();
      expect(connection.events).toEqual(['destroy@6']);
    });
  });

  it('keeps a busy client whose chunks keep ending mid-frame: only idleness counts', () => {
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b));
    scheduler.run(({ hot, cold, flush }) => {
      const stream = Buffer.concat([1, 2, 3, 4].map((seqid) => queryFrame('t', seqid, { indices: [seqid] })));
      const third = Math.floor(stream.length / 3);
      // Three chunks 4 ms apart, each ending inside a frame; the timeout is 5 ms.
      const chunks$ = hot<Buffer>('-a---b---c---', {
        a: stream.subarray(0, third),
        b: stream.subarray(third, 2 * third),
        c: stream.subarray(2 * third, stream.length - 10),
      });
      const call$ = cold<MetaAnswer>('-x|', { x: answer() });
      const connection = fakeConnection(scheduler, chunks$, NEVER);
      serveConnection(connection, options(scheduler, call$, { partialFrameTimeoutMs: 5 }));
      flush();
      // Idle after the last chunk (at 9) with 10 bytes of frame 4 held: closed at 14.
      expect(connection.events).toEqual(['destroy@14']);
      expect(connection.written.length).toBe(3);
    });
  });

  it('drain(): stops reading and emits once the requests in flight are answered', () => {
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b));
    scheduler.run(({ hot, cold, expectObservable, flush }) => {
      const chunks$ = hot<Buffer>('-q------', { q: queryFrame('t', 1) });
      const call$ = cold<MetaAnswer>(' ---x|', { x: answer() });
      const connection = fakeConnection(scheduler, chunks$, NEVER);
      const session = serveConnection(connection, options(scheduler, call$));
      const drained$ = hot('--d', { d: 0 }).pipe(switchMap(() => session.drain()));
      expectObservable(drained$).toBe('----d', { d: undefined });
      flush();
      expect(connection.events).toEqual(['pause@2']);
    });
  });

  it('drain() with nothing in flight emits at once; after the connection is over it pauses nothing', () => {
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b));
    scheduler.run(({ hot, expectObservable, flush }) => {
      const first = fakeConnection(scheduler, NEVER, NEVER);
      const idle = serveConnection(first, options(scheduler, NEVER));
      expectObservable(hot('--d').pipe(switchMap(() => idle.drain()))).toBe('--d', { d: undefined });
      const second = fakeConnection(scheduler, NEVER, hot<void>('-c', { c: undefined }));
      const gone = serveConnection(second, options(scheduler, NEVER));
      expectObservable(hot('--d').pipe(switchMap(() => gone.drain()))).toBe('--d', { d: undefined });
      flush();
      expect(first.events).toEqual(['pause@2']);
      expect(second.events).toEqual([]);
    });
  });
});
