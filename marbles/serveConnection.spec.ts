import { describe, expect, it } from 'vitest';
import { TestScheduler } from 'rxjs/testing';
import { NEVER, Observable, switchMap } from 'rxjs';
import { serveConnection, type ServeOptions } from '../src/streams/serveConnection.js';
import type { ClientConnection } from '../src/model/connectionTypes.js';
import type { Route } from '../src/model/route.js';
import type { MetaAnswer } from '../src/model/upstream.js';
import { queryFrame, readReply, requestBody, v0Frame, queryConfigArgs } from '../sim/client.js';
import { answer as answerOf, core, metaOf } from './support/core.js';

const A: Route = { kind: 'route', table: 't', cluster: 'A', metas: [metaOf('A')], version: 1 };
const answer = () => answerOf('A');

interface FakeConnection extends ClientConnection {
  written: Buffer[];
  events: string[];
}

function fakeConnection(chunks$: Observable<Buffer>, closed$: Observable<void>): FakeConnection {
  const written: Buffer[] = [];
  const events: string[] = [];
  return {
    id: 1,
    peer: '127.0.0.1:5555',
    chunks$,
    closed$,
    drain$: NEVER,
    written,
    events,
    write: (frame) => (written.push(frame), true),
    pause: () => events.push('pause'),
    resume: () => events.push('resume'),
    end: () => events.push('end'),
    destroy: () => events.push('destroy'),
  };
}

/** Serving options over the real routing core: table t is routed to A, whose meta answers `call$`. */
function options(scheduler: TestScheduler, call$: Observable<MetaAnswer>, extra: Partial<ServeOptions> = {}): ServeOptions {
  const { router } = core(scheduler, () => new Observable((s) => s.next(A)), { A: call$ });
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
    scheduler.run(({ hot, cold, flush }) => {
      const unknown = v0Frame(requestBody('RPC_FOO', 2, queryConfigArgs('t')));
      const chunks$ = hot<Buffer>('-q-u-----', { q: queryFrame('t', 1), u: unknown });
      const call$ = cold<MetaAnswer>('----x|', { x: answer() });
      const connection = fakeConnection(chunks$, NEVER);
      serveConnection(connection, options(scheduler, call$));
      flush();
      expect(connection.written.map(describeReply)).toEqual(['ERR_HANDLER_NOT_FOUND/-#2', 'A#1']);
    });
  });

  it('a client that disconnects cancels its upstream calls', () => {
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b));
    scheduler.run(({ hot, cold, expectSubscriptions, flush }) => {
      const chunks$ = hot<Buffer>('-q------', { q: queryFrame('t', 1) });
      const closed$ = hot<void>('   ----c---', { c: undefined });
      const call$ = cold<MetaAnswer>('------x|', { x: answer() });
      //                               -^--!
      const connection = fakeConnection(chunks$, closed$);
      serveConnection(connection, options(scheduler, call$));
      expectSubscriptions(call$.subscriptions).toBe('-^--!');
      flush();
      expect(connection.written).toEqual([]);
    });
  });

  it('closes the connection on a frame with a bad magic, after answering nothing for it', () => {
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b));
    scheduler.run(({ hot, cold, flush }) => {
      const chunks$ = hot<Buffer>('-g-', { g: Buffer.from('GET / HTTP/1.1\r\n\r\n') });
      const connection = fakeConnection(chunks$, NEVER);
      const rejected: string[] = [];
      serveConnection(connection, { ...options(scheduler, cold('-')), hooks: { frameRejected: (_p, reason) => rejected.push(reason) } });
      flush();
      expect(connection.events).toContain('destroy');
      expect(rejected).toEqual(['bad-magic']);
    });
  });

  it('stops reading at the in-flight limit and resumes when answers leave', () => {
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b));
    scheduler.run(({ hot, cold, flush }) => {
      const two = Buffer.concat([queryFrame('t', 1, { indices: [0] }), queryFrame('t', 2, { indices: [1] })]);
      const chunks$ = hot<Buffer>('-b-----', { b: two });
      const call$ = cold<MetaAnswer>('---x|', { x: answer() });
      const connection = fakeConnection(chunks$, NEVER);
      serveConnection(connection, options(scheduler, call$, { maxInFlightPerConnection: 2 }));
      flush();
      expect(connection.events).toEqual(['pause', 'resume']);
      expect(connection.written.map(describeReply).sort()).toEqual(['A#1', 'A#2']);
    });
  });

  it('stops reading while the client does not drain its replies, listening for drain only while blocked', () => {
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b));
    scheduler.run(({ hot, cold, flush, expectSubscriptions }) => {
      const chunks$ = hot<Buffer>('-a------', { a: queryFrame('t', 1) });
      const call$ = cold<MetaAnswer>('-x|', { x: answer() });
      const drain$ = hot<void>('     -----d--');
      //                             ^-! subscribed from the full write (frame 2) to the drain (frame 5)
      const connection = { ...fakeConnection(chunks$, NEVER), drain$, write: () => false };
      serveConnection(connection, options(scheduler, call$));
      expectSubscriptions(drain$.subscriptions).toBe('--^--!');
      flush();
      expect(connection.events).toEqual(['pause', 'resume']);
    });
  });

  it('closes a connection that holds a partial frame longer than the partial-frame timeout', () => {
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b));
    scheduler.run(({ hot, cold, flush }) => {
      const half = queryFrame('t', 1).subarray(0, 20);
      const chunks$ = hot<Buffer>('-h-----', { h: half });
      const connection = fakeConnection(chunks$, NEVER);
      serveConnection(connection, options(scheduler, cold('-'), { partialFrameTimeoutMs: 5 }));
      scheduler.schedule(() => expect(connection.events).toEqual([]), 5);
      flush();
      expect(connection.events).toEqual(['destroy']);
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
      const connection = fakeConnection(chunks$, NEVER);
      serveConnection(connection, options(scheduler, call$, { partialFrameTimeoutMs: 5 }));
      scheduler.schedule(() => expect(connection.events).toEqual([]), 13);
      flush();
      // Idle after the last chunk (at 9) with 10 bytes of frame 4 held: closed at 14.
      expect(connection.events).toEqual(['destroy']);
      expect(connection.written.length).toBe(3);
    });
  });

  it('drain(): stops reading and emits once the requests in flight are answered', () => {
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b));
    scheduler.run(({ hot, cold, expectObservable }) => {
      const chunks$ = hot<Buffer>('-q------', { q: queryFrame('t', 1) });
      const call$ = cold<MetaAnswer>('---x|', { x: answer() });
      const connection = fakeConnection(chunks$, NEVER);
      const session = serveConnection(connection, options(scheduler, call$));
      const drained$ = hot('--d', { d: 0 }).pipe(switchMap(() => session.drain()));
      expectObservable(drained$).toBe('----d', { d: undefined });
      scheduler.schedule(() => expect(connection.events).toEqual(['pause']), 3);
    });
  });
});
