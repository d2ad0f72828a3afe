import fc from 'fast-check';
import { TBinaryProtocol, TBufferedTransport, Thrift } from 'thrift';
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../src/errors.js';
import {
  decodeListAppsResponse,
  encodeListAppsArgs,
  encodeListAppsResponse,
  readListApps,
  type AppInfo,
} from '../../src/protocol/listApps.js';
import { RPC_LIST_APPS_ACK, readMetaReply } from '../../src/protocol/metaReply.js';
import { encodeReplyFrame } from '../../src/protocol/response.js';
import { dump, listAppsArb, onlyProtocolErrors } from './helpers.js';

const TEMP: AppInfo = {
  status: 1,
  appType: 'pegasus',
  appName: 'temp',
  appId: 2,
  partitionCount: 8,
  envs: new Map([['replica.deny_client_request', 'reconfig*all']]),
  isStateful: true,
  maxReplicaCount: 3,
  expireSecond: 0n,
  createSecond: 1700000000n,
  dropSecond: 0n,
  duplicating: false,
  initPartitionCount: 8,
};

describe('encodeListAppsArgs', () => {
  it('writes the wrapper around {1: status}', () => {
    expect(encodeListAppsArgs().toString('hex')).toBe(dump('0c 0001 08 0001 00000000 00 00').toString('hex'));
    expect(encodeListAppsArgs(1).toString('hex')).toBe(dump('0c 0001 08 0001 00000001 00 00').toString('hex'));
  });
});

describe('configuration_list_apps_response codec', () => {
  it('round-trips any response', () => {
    fc.assert(
      fc.property(listAppsArb, (value) => {
        const bytes = encodeListAppsResponse(value);
        const { value: back, end } = decodeListAppsResponse(bytes, 0);
        expect(back).toEqual(value);
        expect(end).toBe(bytes.length);
      }),
      { numRuns: 200 },
    );
  });

  it('reads a response written by the thrift package, skipping a field it does not know', () => {
    let bytes: Buffer | undefined;
    const transport = new TBufferedTransport(undefined, (buf) => {
      bytes = buf;
    });
    const p = new TBinaryProtocol(transport);
    p.writeFieldBegin('err', Thrift.Type.STRUCT, 1);
    p.writeString('ERR_OK'); // error_code: a bare string under a STRUCT type byte
    p.writeFieldBegin('infos', Thrift.Type.LIST, 2);
    p.writeListBegin(Thrift.Type.STRUCT, 1);
    p.writeFieldBegin('status', Thrift.Type.I32, 1);
    p.writeI32(1);
    p.writeFieldBegin('app_name', Thrift.Type.STRING, 3);
    p.writeString('temp');
    p.writeFieldBegin('future', Thrift.Type.MAP, 40);
    p.writeMapBegin(Thrift.Type.I32, Thrift.Type.LIST, 1);
    p.writeI32(1);
    p.writeListBegin(Thrift.Type.STRING, 1);
    p.writeString('x');
    p.writeFieldBegin('partition_count', Thrift.Type.I32, 5);
    p.writeI32(8);
    p.writeFieldBegin('is_stateful', Thrift.Type.BOOL, 7);
    p.writeBool(true);
    p.writeFieldBegin('create_second', Thrift.Type.I64, 10);
    p.writeI64(1700000000);
    p.writeFieldStop();
    p.writeFieldBegin('hint_message', Thrift.Type.STRING, 3);
    p.writeString('hint');
    p.writeFieldStop();
    p.flush();
    const { value } = decodeListAppsResponse(bytes!, 0);
    expect(value.err).toBe('ERR_OK');
    expect(value.hintMessage).toBe('hint');
    expect(value.infos).toHaveLength(1);
    expect(value.infos[0]).toMatchObject({ status: 1, appName: 'temp', partitionCount: 8, isStateful: true, createSecond: 1700000000n });
  });

  it('throws only ProtocolError on truncated or mutated bytes', () => {
    const bytes = encodeListAppsResponse({ err: 'ERR_OK', infos: [TEMP], hintMessage: 'h' });
    for (let cut = 0; cut < bytes.length; cut++) {
      expect(onlyProtocolErrors(() => decodeListAppsResponse(bytes.subarray(0, cut), 0)), `cut ${cut}`).toBe('protocol-error');
    }
    fc.assert(
      fc.property(fc.nat(bytes.length - 1), fc.integer({ min: 0, max: 255 }), (at, byte) => {
        const mutated = Buffer.from(bytes);
        mutated[at] = byte;
        onlyProtocolErrors(() => decodeListAppsResponse(mutated, 0));
      }),
      { numRuns: 3000 },
    );
  });
});

describe('readListApps', () => {
  it('reads the tables of a list-apps reply frame', () => {
    const frame = encodeReplyFrame('ERR_OK', RPC_LIST_APPS_ACK, 6, encodeListAppsResponse({ err: 'ERR_OK', infos: [TEMP] }));
    const reply = readMetaReply(frame);
    expect(reply.bodyError).toBe('ERR_OK');
    expect(readListApps(frame, reply)).toEqual({ error: 'ERR_OK', apps: [TEMP] });
  });

  it('throws ProtocolError for a reply without a body', () => {
    const frame = encodeReplyFrame('ERR_HANDLER_NOT_FOUND', RPC_LIST_APPS_ACK, 6);
    expect(() => readListApps(frame, readMetaReply(frame))).toThrow(ProtocolError);
  });
});
