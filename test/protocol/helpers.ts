import fc from 'fast-check';
import { expect } from 'vitest';
import { ProtocolError } from '../../src/errors.js';
import type { HostPort, PartitionConfiguration, QueryConfigResponse, RpcAddress } from '../../src/protocol/queryConfig.js';
import type { AppInfo, ListAppsResponse } from '../../src/protocol/listApps.js';

/**
 * Bytes from a dump written as in docs/PROTOCOL.md: hex groups separated by spaces
 * (or `|`), and double-quoted ASCII strings.
 */
export function dump(text: string): Buffer {
  const parts: Buffer[] = [];
  const token = /"([^"]*)"|([0-9a-fA-F]+)|(\s+|\|)/gy;
  let m: RegExpExecArray | null;
  let at = 0;
  while (at < text.length) {
    token.lastIndex = at;
    m = token.exec(text);
    if (!m) throw new Error(`unreadable dump at ${at}: ${text.slice(at, at + 10)}`);
    if (m[1] !== undefined) parts.push(Buffer.from(m[1], 'latin1'));
    else if (m[2] !== undefined) {
      if (m[2].length % 2 !== 0) throw new Error(`odd hex group ${m[2]}`);
      parts.push(Buffer.from(m[2], 'hex'));
    }
    at = token.lastIndex;
  }
  return Buffer.concat(parts);
}

/** Stock Node.js client, `query_cfg("temp")`, seq 0 (docs/PROTOCOL.md §1). */
export const NODE_QUERY_TEMP = dump(`
54484654 00000000 00000030 00000000 00000042 00000000 00000000 00000000 00000000 00000000 0000000000000000
80010001 00000026 "RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX" 00000000
0c 0001   0b 0001 00000004 "temp"   00   00
`);

/** Stock Java client, same query (v1, meta 37 bytes, body 74), transcribed from docs/PROTOCOL.md §1. */
export const JAVA_QUERY_TEMP = dump(`
54484654 00000001 00000025 0000004a
08 0001 ffffffff  08 0002 fffffffe  08 0003 000007d0  0a 0004 0000000000000000  02 0005 00  00
80010001 00000026 "RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX" 00000000
0c 0001   0b 0001 00000004 "temp"   0f 0002 08 00000000   00   00
`);

/** A v1 frame around the given meta struct bytes and body. */
export function v1Frame(meta: Buffer, body: Buffer): Buffer {
  const head = Buffer.alloc(16);
  head.write('THFT', 0, 'latin1');
  head.writeUInt32BE(1, 4);
  head.writeUInt32BE(meta.length, 8);
  head.writeUInt32BE(body.length, 12);
  return Buffer.concat([head, meta, body]);
}

/** Runs `f` and passes when it returns or throws a ProtocolError; any other throw fails the test. */
export function onlyProtocolErrors(f: () => unknown): 'ok' | 'protocol-error' {
  try {
    f();
    return 'ok';
  } catch (e) {
    expect(e).toBeInstanceOf(ProtocolError);
    return 'protocol-error';
  }
}

// ---- fast-check arbitraries -----------------------------------------------

const i32 = fc.integer({ min: -0x80000000, max: 0x7fffffff });
const i64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });

export const rpcAddressArb: fc.Arbitrary<RpcAddress> = fc.record({
  ip: fc.integer({ min: 0, max: 0xffffffff }),
  port: fc.integer({ min: 0, max: 0xffff }),
  type: fc.constantFrom(0, 1, 2),
});

export const hostPortArb: fc.Arbitrary<HostPort> = fc.record({
  host: fc.string({ maxLength: 40 }),
  port: fc.integer({ min: 0, max: 0xffff }),
  type: fc.integer({ min: -128, max: 127 }),
});

export const partitionArb: fc.Arbitrary<PartitionConfiguration> = fc.record(
  {
    pid: fc.record({ appId: i32, partitionIndex: i32 }),
    ballot: i64,
    maxReplicaCount: i32,
    primary: rpcAddressArb,
    secondaries: fc.array(rpcAddressArb, { maxLength: 3 }),
    lastDrops: fc.array(rpcAddressArb, { maxLength: 3 }),
    lastCommittedDecree: i64,
    partitionFlags: i32,
    hpPrimary: hostPortArb,
    hpSecondaries: fc.array(hostPortArb, { maxLength: 3 }),
    hpLastDrops: fc.array(hostPortArb, { maxLength: 3 }),
  },
  { requiredKeys: ['pid', 'ballot', 'maxReplicaCount', 'primary', 'secondaries', 'lastDrops', 'lastCommittedDecree', 'partitionFlags'] },
);

export const queryConfigArb: fc.Arbitrary<QueryConfigResponse> = fc.record({
  err: fc.constantFrom('ERR_OK', 'ERR_FORWARD_TO_OTHERS', 'ERR_OBJECT_NOT_FOUND', 'ERR_BUSY_CREATING'),
  appId: i32,
  partitionCount: i32,
  isStateful: fc.boolean(),
  partitions: fc.array(partitionArb, { maxLength: 5 }),
});

export const appInfoArb: fc.Arbitrary<AppInfo> = fc.record(
  {
    status: i32,
    appType: fc.string({ maxLength: 10 }),
    appName: fc.string({ maxLength: 20 }),
    appId: i32,
    partitionCount: i32,
    envs: fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 3 }).map(
      (d) => new Map(Object.entries(d)),
    ),
    isStateful: fc.boolean(),
    maxReplicaCount: i32,
    expireSecond: i64,
    createSecond: i64,
    dropSecond: i64,
    duplicating: fc.boolean(),
    initPartitionCount: i32,
    isBulkLoading: fc.boolean(),
    atomicIdempotent: fc.boolean(),
  },
  {
    requiredKeys: [
      'status', 'appType', 'appName', 'appId', 'partitionCount', 'envs', 'isStateful',
      'maxReplicaCount', 'expireSecond', 'createSecond', 'dropSecond', 'initPartitionCount',
    ],
  },
);

export const listAppsArb: fc.Arbitrary<ListAppsResponse> = fc.record(
  {
    err: fc.constantFrom('ERR_OK', 'ERR_FORWARD_TO_OTHERS'),
    infos: fc.array(appInfoArb, { maxLength: 4 }),
    hintMessage: fc.string({ maxLength: 20 }),
  },
  { requiredKeys: ['err', 'infos'] },
);

/** A partition as a 2.6+ meta writes it: addresses and their host_port twins. */
export function samplePartition(index: number, withHostPorts: boolean): PartitionConfiguration {
  const addr = (last: number): RpcAddress => ({ ip: (10 << 24) | last, port: 34801, type: 1 });
  const hp = (last: number): HostPort => ({ host: `replica${last}.example`, port: 34801, type: 1 });
  const pc: PartitionConfiguration = {
    pid: { appId: 2, partitionIndex: index },
    ballot: 7n,
    maxReplicaCount: 3,
    primary: addr(1),
    secondaries: [addr(2), addr(3)],
    lastDrops: [],
    lastCommittedDecree: 12345n,
    partitionFlags: 0,
  };
  if (withHostPorts) {
    pc.hpPrimary = hp(1);
    pc.hpSecondaries = [hp(2), hp(3)];
    pc.hpLastDrops = [];
  }
  return pc;
}
