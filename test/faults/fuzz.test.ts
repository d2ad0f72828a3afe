/**
 * Mutation fuzzing of everything that reads bytes from the network: the
 * request frame decoder (`tryDecodeFrame`, and `decodeFrames` over random
 * chunkings), the request body readers (`readMessageBegin`,
 * `readQueryConfigRequest`) and the MetaServer reply reader (`readMetaReply`,
 * plus the hp_* rewrite and the seqid rewrite that run on what it accepts).
 *
 * Inputs start from valid frames and are mutated: byte and bit flips,
 * truncations, 32-bit words (length fields above all) set to extremes,
 * splices of two frames, inserted and deleted runs. The only exceptions
 * allowed out are the coded `ProtocolError`s; the decoder never throws at all
 * (it returns its errors). A failure prints the seed and the input in hex;
 * `FUZZ_SEED=<n>` replays a run.
 */
import { describe, expect, it } from 'vitest';
import { Observable } from 'rxjs';
import { FrameError, ProtocolError } from '../../src/errors.js';
import { tryDecodeFrame, type FrameResult } from '../../src/protocol/frame.js';
import { decodeFrames } from '../../src/operators/decodeFrames.js';
import { readMessageBegin, readQueryConfigRequest } from '../../src/protocol/request.js';
import { RPC_QUERY_CONFIG_ACK, readMetaReply, stripHostPortFields, withSeqid } from '../../src/protocol/metaReply.js';
import type { RequestFrame } from '../../src/protocol/types.js';
import { encodeRequestV0, encodeRequestV1, listAppsArgs, queryConfigArgs } from '../../sim/wire.js';
import { handlerNotFound, listAppsReply, queryConfigError, queryConfigForward, queryConfigOk, stamp } from '../../sim/replies.js';

const SEED = Number(process.env['FUZZ_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
const REQUEST_INPUTS = 1_000_000;
const REPLY_INPUTS = 1_000_000;
const STREAM_INPUTS = 50_000;
const MAX_FRAME_BYTES = 1 << 20;

/** mulberry32: small, fast, and the same sequence for the same seed. */
function random(seed: number) {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (n: number): number => Math.floor(next() * n) };
}
type Random = ReturnType<typeof random>;

const EXTREMES = [
  0, 1, 2, 3, 4, 15, 16, 17, 47, 48, 49, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000,
  MAX_FRAME_BYTES - 48, MAX_FRAME_BYTES - 16, MAX_FRAME_BYTES, MAX_FRAME_BYTES + 1,
  0x7ffffffe, 0x7fffffff, 0x80000000, 0x80000001, 0xfffffffe, 0xffffffff,
];

/** One mutation of `input` (or of a splice of it with another seed). */
function mutate(input: Buffer, seeds: Buffer[], r: Random, depth = 0): Buffer {
  let b: Buffer = Buffer.from(input);
  switch (r.int(depth === 0 ? 8 : 7)) {
    case 0: // bytes set to random values
      for (let n = 1 + r.int(4); n > 0 && b.length > 0; n--) b[r.int(b.length)] = r.int(256);
      return b;
    case 1: // single bits flipped
      for (let n = 1 + r.int(3); n > 0 && b.length > 0; n--) b[r.int(b.length)]! ^= 1 << r.int(8);
      return b;
    case 2: // truncated
      return b.subarray(0, r.int(b.length + 1));
    case 3: {
      // a 32-bit word set to an extreme: half the time a header length field
      if (b.length < 4) return b;
      const headerWords = [4, 8, 12, 16, 20];
      const at = r.next() < 0.5 ? headerWords[r.int(headerWords.length)]! : r.int(b.length - 3);
      if (at + 4 <= b.length) b.writeUInt32BE(EXTREMES[r.int(EXTREMES.length)]! >>> 0, at);
      return b;
    }
    case 4: {
      // splice: a prefix of this one, a suffix of another
      const other = seeds[r.int(seeds.length)]!;
      return Buffer.concat([b.subarray(0, r.int(b.length + 1)), other.subarray(r.int(other.length + 1))]);
    }
    case 5: {
      // random bytes inserted
      const at = r.int(b.length + 1);
      const junk = Buffer.alloc(1 + r.int(16));
      for (let i = 0; i < junk.length; i++) junk[i] = r.int(256);
      return Buffer.concat([b.subarray(0, at), junk, b.subarray(at)]);
    }
    case 6: {
      // a run deleted
      const at = r.int(b.length + 1);
      return Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + r.int(16))]);
    }
    default:
      b = mutate(b, seeds, r, depth + 1);
      return mutate(b, seeds, r, depth + 1);
  }
}

function requestSeeds(): Buffer[] {
  const seeds: Buffer[] = [];
  const query = 'RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX';
  for (const table of ['temp', 'a_much_longer_table_name_for_splices', '']) {
    for (const indices of [undefined, [], [0], [1, 3, 5, 7]]) {
      seeds.push(encodeRequestV0(query, 7, queryConfigArgs(table, indices), 1500));
      seeds.push(encodeRequestV1(query, 8, queryConfigArgs(table, indices), 1500, true));
      seeds.push(encodeRequestV1(query, 9, queryConfigArgs(table, indices), 1500, false));
    }
  }
  seeds.push(encodeRequestV0('RPC_CM_LIST_APPS', 10, listAppsArgs()));
  seeds.push(encodeRequestV1('RPC_CM_LIST_NODES', 11, Buffer.from([0])));
  return seeds;
}

function replySeeds(): Buffer[] {
  // Two partitions: enough for every field kind, small enough that a million inputs stay quick.
  const table = { appId: 2, partitionCount: 2 };
  const leader = { ip: 0x7f000001, port: 34601, host: 'meta-1.example' };
  return [
    queryConfigOk('A', table, [], false),
    queryConfigOk('A', table, [], true),
    queryConfigOk('A', table, [1], true),
    queryConfigError('ERR_OBJECT_NOT_FOUND'),
    queryConfigForward(leader, false),
    queryConfigForward(leader, true),
    queryConfigForward(undefined, false),
    listAppsReply('ERR_OK', { temp: table, other: { appId: 3, partitionCount: 8 } }),
    handlerNotFound('RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX'),
  ].map((template) => stamp(template, 5));
}

/** Only coded protocol errors may leave a reader. */
function expectCoded(error: unknown): void {
  if (!(error instanceof ProtocolError)) throw error;
}

/** Decodes every frame of `buf` the way a connection would, reading each body; returns the last result. */
function decodeAll(buf: Buffer): FrameResult {
  let at = 0;
  for (;;) {
    const result = tryDecodeFrame(buf, at, MAX_FRAME_BYTES);
    if (result.kind !== 'frame') return result;
    if (result.size <= 0 || at + result.size > buf.length || result.size > MAX_FRAME_BYTES) {
      throw new Error(`frame of ${result.size} bytes at ${at} of ${buf.length}`);
    }
    try {
      const begin = readMessageBegin(result.frame.body);
      readQueryConfigRequest(result.frame.body, begin.argsOffset);
    } catch (error) {
      expectCoded(error);
    }
    at += result.size;
    if (at === buf.length) return result;
  }
}

/** Reads a reply as the upstream connection does, then rewrites it as the relay may; true when it was readable. */
function readReply(frame: Buffer): boolean {
  let reply;
  try {
    reply = readMetaReply(frame);
  } catch (error) {
    expectCoded(error);
    return false;
  }
  try {
    withSeqid(frame, reply, 42);
    if (reply.name === RPC_QUERY_CONFIG_ACK) stripHostPortFields(frame, reply);
  } catch (error) {
    expectCoded(error);
  }
  return true;
}

/** Memory seen during a loop: the peak heap and RSS, in MiB. */
function memoryProbe() {
  const base = process.memoryUsage();
  let peakHeap = base.heapUsed;
  let peakRss = base.rss;
  return {
    sample(): void {
      const now = process.memoryUsage();
      peakHeap = Math.max(peakHeap, now.heapUsed);
      peakRss = Math.max(peakRss, now.rss);
    },
    report() {
      const mib = (n: number) => Math.round(n / 1048576);
      return { baseHeapMb: mib(base.heapUsed), peakHeapMb: mib(peakHeap), peakRssMb: mib(peakRss), heapGrowthMb: mib(peakHeap - base.heapUsed) };
    },
  };
}

/** Runs `body` on `count` mutated inputs; a throw fails with the seed and the input. */
function fuzz(count: number, seeds: Buffer[], salt: number, body: (input: Buffer, r: Random) => void) {
  const r = random(SEED + salt);
  const memory = memoryProbe();
  // Most inputs end in a coded error, and capturing a stack is most of what
  // an exception costs: without it a million inputs take seconds, not tens.
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    for (let i = 0; i < count; i++) {
      const input = mutate(seeds[r.int(seeds.length)]!, seeds, r);
      try {
        body(input, r);
      } catch (error) {
        Error.stackTraceLimit = stackTraceLimit;
        throw new Error(`input ${i} (FUZZ_SEED=${SEED}) threw ${String(error)}:\n${input.toString('hex')}`, { cause: error });
      }
      if (i % 20_000 === 0) memory.sample();
    }
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
  }
  (globalThis as { gc?: () => void }).gc?.();
  memory.sample();
  return memory.report();
}

const figures: Record<string, unknown> = {};

describe(`fuzzing the readers of network bytes (FUZZ_SEED=${SEED})`, () => {
  it(`request frames: ${REQUEST_INPUTS} mutated inputs through tryDecodeFrame and the body readers`, () => {
    const seeds = requestSeeds();
    const kinds = { frame: 0, need: 0, error: 0 };
    const memory = fuzz(REQUEST_INPUTS, seeds, 1, (input) => {
      const result = decodeAll(input);
      kinds[result.kind]++;
      if (result.kind === 'error' && !(result.error instanceof FrameError)) throw result.error;
    });
    figures['request frames'] = { inputs: REQUEST_INPUTS, crashes: 0, ...kinds, ...memory };
    // The mutations must reach every outcome, or the fuzzing proves little.
    expect(kinds.frame).toBeGreaterThan(REQUEST_INPUTS / 20);
    expect(kinds.need).toBeGreaterThan(REQUEST_INPUTS / 20);
    expect(kinds.error).toBeGreaterThan(REQUEST_INPUTS / 20);
    expect(memory.heapGrowthMb).toBeLessThan(256);
  }, 120_000);

  it(`MetaServer replies: ${REPLY_INPUTS} mutated inputs through readMetaReply`, () => {
    const seeds = replySeeds();
    let accepted = 0;
    const memory = fuzz(REPLY_INPUTS, seeds, 2, (input, r) => {
      // Half the time the length prefix is made right, so the reader gets past it.
      if (input.length >= 4 && r.next() < 0.5) input.writeUInt32BE(input.length, 0);
      if (readReply(input)) accepted++;
    });
    figures['MetaServer replies'] = { inputs: REPLY_INPUTS, crashes: 0, accepted, ...memory };
    expect(accepted).toBeGreaterThan(REPLY_INPUTS / 50);
    expect(memory.heapGrowthMb).toBeLessThan(256);
  }, 120_000);

  it(`decodeFrames: ${STREAM_INPUTS} byte streams cut at random agree with whole-buffer decoding`, () => {
    const seeds = requestSeeds();
    let frames = 0;
    const memory = fuzz(STREAM_INPUTS, seeds, 3, (first, r) => {
      const parts = [first];
      for (let n = r.int(4); n > 0; n--) {
        const seed = seeds[r.int(seeds.length)]!;
        parts.push(r.next() < 0.7 ? seed : mutate(seed, seeds, r));
      }
      const stream = Buffer.concat(parts);
      const cuts = new Set<number>();
      for (let n = r.int(8); n > 0; n--) cuts.add(r.int(stream.length + 1));
      const points = [0, ...[...cuts].sort((x, y) => x - y), stream.length];
      const chunks = points.slice(1).map((end, i) => stream.subarray(points[i]!, end)).filter((c) => c.length > 0);

      const expected: RequestFrame[] = [];
      let at = 0;
      let end: FrameResult | undefined;
      while (at < stream.length) {
        end = tryDecodeFrame(stream, at, MAX_FRAME_BYTES);
        if (end.kind !== 'frame') break;
        expected.push(end.frame);
        at += end.size;
      }

      const got: RequestFrame[] = [];
      let failure: unknown;
      let completed = false;
      new Observable<Buffer>((subscriber) => {
        for (const chunk of chunks) subscriber.next(chunk);
        subscriber.complete();
      })
        .pipe(decodeFrames({ maxFrameBytes: MAX_FRAME_BYTES }))
        .subscribe({ next: (f) => got.push(f), error: (e: unknown) => (failure = e), complete: () => (completed = true) });

      if (got.length !== expected.length) throw new Error(`decodeFrames gave ${got.length} frames, whole-buffer decoding ${expected.length}`);
      got.forEach((frame, i) => {
        const want = expected[i]!;
        if (!frame.body.equals(want.body) || frame.header.clientTimeoutMs !== want.header.clientTimeoutMs || frame.header.version !== want.header.version) {
          throw new Error(`frame ${i} differs`);
        }
      });
      frames += got.length;
      if (end?.kind === 'error') {
        if (!(failure instanceof FrameError) || failure.reason !== end.error.reason) throw new Error(`expected a ${end.error.reason} FrameError, got ${String(failure)}`);
      } else if (failure !== undefined || !completed) {
        throw new Error(`expected completion, got ${String(failure)}`);
      }
    });
    figures['decodeFrames streams'] = { inputs: STREAM_INPUTS, crashes: 0, frames, ...memory };
    expect(frames).toBeGreaterThan(STREAM_INPUTS / 2);
    console.log(`fuzz figures (FUZZ_SEED=${SEED}):\n${JSON.stringify(figures, null, 1)}`);
  }, 120_000);
});
