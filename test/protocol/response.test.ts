import { describe, expect, it } from 'vitest';
import { readMetaReply, replyFrameLength } from '../../src/protocol/metaReply.js';
import { decodeQueryConfigResponse } from '../../src/protocol/queryConfig.js';
import { encodeHandlerNotFound, encodeQueryConfigError, encodeReplyFrame } from '../../src/protocol/response.js';
import { dump } from './helpers.js';

describe('encodeHandlerNotFound', () => {
  it('equals the docs/PROTOCOL.md §3 example bytes for RPC_FOO seq 5', () => {
    const expected = dump('00000034 | 00000015 "ERR_HANDLER_NOT_FOUND" | 80010002 0000000b "RPC_FOO_ACK" 00000005');
    expect(encodeHandlerNotFound('RPC_FOO', 5).toString('hex')).toBe(expected.toString('hex'));
  });

  it('is read back as a body-less reply', () => {
    const frame = encodeHandlerNotFound('RPC_CM_CREATE_APP', -3);
    expect(replyFrameLength(frame, 0)).toBe(frame.length);
    expect(readMetaReply(frame)).toEqual({
      headerError: 'ERR_HANDLER_NOT_FOUND',
      name: 'RPC_CM_CREATE_APP_ACK',
      seqid: -3,
      seqidOffset: frame.length - 4,
    });
  });
});

describe('encodeQueryConfigError', () => {
  it('writes what a real meta writes for an unknown table', () => {
    const frame = encodeQueryConfigError('ERR_OBJECT_NOT_FOUND', 9);
    const expected = dump(`
      0000007e
      00000006 "ERR_OK"
      80010002 0000002a "RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX_ACK" 00000009
      0c 0000
        0c 0001 00000014 "ERR_OBJECT_NOT_FOUND"
        08 0002 00000000
        08 0003 00000000
        02 0004 00
        0f 0005 0c 00000000
        00
      00`);
    expect(frame.toString('hex')).toBe(expected.toString('hex'));
  });

  it('is read back with the body error and header ERR_OK', () => {
    const frame = encodeQueryConfigError('ERR_ZOOKEEPER_OPERATION', 1234);
    const reply = readMetaReply(frame);
    expect(reply).toMatchObject({ headerError: 'ERR_OK', seqid: 1234, bodyError: 'ERR_ZOOKEEPER_OPERATION' });
    expect(reply.forward).toBeUndefined();
    const { value, end } = decodeQueryConfigResponse(frame, reply.resultOffset! + 3);
    expect(value).toEqual({ err: 'ERR_ZOOKEEPER_OPERATION', appId: 0, partitionCount: 0, isStateful: false, partitions: [] });
    expect(end).toBe(frame.length - 1);
  });
});

describe('encodeReplyFrame', () => {
  it('wraps a response struct in result field 0 and fixes the length prefix', () => {
    const frame = encodeReplyFrame('ERR_OK', 'RPC_X_ACK', 1, dump('08 0001 00000002 00'));
    expect(frame.toString('hex')).toBe(
      dump('0000002f 00000006 "ERR_OK" 80010002 00000009 "RPC_X_ACK" 00000001 0c 0000 08 0001 00000002 00 00').toString('hex'),
    );
  });
});
