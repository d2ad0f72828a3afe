import fc from 'fast-check';
import { TBinaryProtocol, TFramedTransport, Thrift } from 'thrift';
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../src/errors.js';
import { readMetaReply } from '../../src/protocol/metaReply.js';
import { encodeReplyFrame } from '../../src/protocol/response.js';
import { ThriftReader } from '../../src/protocol/thrift.js';
import {
  APP_ENV_OP_CLEAR,
  APP_ENV_OP_DEL,
  APP_ENV_OP_SET,
  encodeUpdateAppEnvArgs,
  encodeUpdateAppEnvResponse,
  readUpdateAppEnv,
  readUpdateAppEnvResponse,
  RPC_UPDATE_APP_ENV_ACK,
} from '../../src/protocol/updateAppEnv.js';
import { dump, onlyProtocolErrors } from './helpers.js';

const KEY = 'replica.deny_client_request';

describe('encodeUpdateAppEnvArgs', () => {
  it('writes configuration_update_app_env_request inside the args wrapper, byte for byte', () => {
    const set = encodeUpdateAppEnvArgs({ appName: 'temp', op: APP_ENV_OP_SET, keys: [KEY], values: ['reconfig*all'] });
    expect(set.toString('hex')).toBe(
      dump(`0c 0001
              0b 0001 00000004 "temp"
              08 0002 00000001
              0f 0003 0b 00000001 0000001b "${KEY}"
              0f 0004 0b 00000001 0000000c "reconfig*all"
              00
            00`).toString('hex'),
    );
    const del = encodeUpdateAppEnvArgs({ appName: 'temp', op: APP_ENV_OP_DEL, keys: [KEY] });
    expect(del.toString('hex')).toBe(dump(`0c 0001 0b 0001 00000004 "temp" 08 0002 00000002 0f 0003 0b 00000001 0000001b "${KEY}" 00 00`).toString('hex'));
    const clear = encodeUpdateAppEnvArgs({ appName: 't', op: APP_ENV_OP_CLEAR, clearPrefix: 'replica.' });
    expect(clear.toString('hex')).toBe(dump('0c 0001 0b 0001 00000001 "t" 08 0002 00000003 0b 0005 00000008 "replica." 00 00').toString('hex'));
  });

  it('is read back by the thrift package as the IDL declares it', () => {
    const args = encodeUpdateAppEnvArgs({ appName: 'temp', op: APP_ENV_OP_SET, keys: ['a', KEY], values: ['1', 'timeout*write'] });
    const p = new TBinaryProtocol(new TFramedTransport(args));
    const seen: Record<number, unknown> = {};
    p.readStructBegin();
    expect(p.readFieldBegin()).toMatchObject({ ftype: Thrift.Type.STRUCT, fid: 1 });
    p.readStructBegin();
    for (;;) {
      const { ftype, fid } = p.readFieldBegin();
      if (ftype === Thrift.Type.STOP) break;
      if (ftype === Thrift.Type.STRING) seen[fid] = p.readString();
      else if (ftype === Thrift.Type.I32) seen[fid] = p.readI32();
      else if (ftype === Thrift.Type.LIST) {
        const { etype, size } = p.readListBegin();
        expect(etype).toBe(Thrift.Type.STRING);
        seen[fid] = Array.from({ length: size }, () => p.readString());
      } else throw new Error(`unexpected field ${fid}`);
    }
    expect(seen).toEqual({ 1: 'temp', 2: APP_ENV_OP_SET, 3: ['a', KEY], 4: ['1', 'timeout*write'] });
  });

  it('refuses a SET whose keys and values do not pair up', () => {
    expect(() => encodeUpdateAppEnvArgs({ appName: 't', op: APP_ENV_OP_SET, keys: [KEY], values: [] })).toThrow(RangeError);
  });
});

describe('configuration_update_app_env_response', () => {
  it('round-trips, and err is read as the inline error_code it is', () => {
    fc.assert(
      fc.property(fc.constantFrom('ERR_OK', 'ERR_APP_NOT_EXIST', 'ERR_INVALID_PARAMETERS', 'ERR_FORWARD_TO_OTHERS'), fc.string(), (err, hintMessage) => {
        const bytes = encodeUpdateAppEnvResponse({ err, hintMessage });
        expect(readUpdateAppEnvResponse(new ThriftReader(bytes, 0, bytes.length, 'test'))).toEqual({ err, hintMessage });
      }),
    );
    expect(encodeUpdateAppEnvResponse({ err: 'ERR_OK', hintMessage: '' }).toString('hex')).toBe(dump('0c 0001 00000006 "ERR_OK" 0b 0002 00000000 00').toString('hex'));
  });

  it('throws only ProtocolError on truncated or mutated bytes, and when err is missing', () => {
    const bytes = encodeUpdateAppEnvResponse({ err: 'ERR_APP_NOT_EXIST', hintMessage: 'app(temp) does not exist' });
    for (let cut = 0; cut < bytes.length; cut++) {
      expect(onlyProtocolErrors(() => readUpdateAppEnvResponse(new ThriftReader(bytes.subarray(0, cut), 0, cut, 'test'))), `cut ${cut}`).toBe('protocol-error');
    }
    const noErr = dump('0b 0002 00000001 "h" 00');
    expect(() => readUpdateAppEnvResponse(new ThriftReader(noErr, 0, noErr.length, 'test'))).toThrow(ProtocolError);
  });
});

describe('an update-app-env reply frame', () => {
  it('is read with its body err, so a follower\'s forward is seen and followed', () => {
    const forward = encodeReplyFrame('ERR_OK', RPC_UPDATE_APP_ENV_ACK, 9, encodeUpdateAppEnvResponse({ err: 'ERR_FORWARD_TO_OTHERS', hintMessage: '' }));
    const reply = readMetaReply(forward);
    expect(reply).toMatchObject({ headerError: 'ERR_OK', name: RPC_UPDATE_APP_ENV_ACK, seqid: 9, bodyError: 'ERR_FORWARD_TO_OTHERS' });
    expect(reply.forward).toBeUndefined();
    const ok = encodeReplyFrame('ERR_OK', RPC_UPDATE_APP_ENV_ACK, 10, encodeUpdateAppEnvResponse({ err: 'ERR_OK', hintMessage: 'set ok' }));
    expect(readUpdateAppEnv(ok, readMetaReply(ok))).toEqual({ err: 'ERR_OK', hintMessage: 'set ok' });
  });

  it('without a body (a meta that has no such handler) is a ProtocolError for the reader', () => {
    const frame = encodeReplyFrame('ERR_HANDLER_NOT_FOUND', RPC_UPDATE_APP_ENV_ACK, 3);
    expect(() => readUpdateAppEnv(frame, readMetaReply(frame))).toThrow(ProtocolError);
  });
});
