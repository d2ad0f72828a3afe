import { PassThrough } from 'node:stream';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { parseSimArgs, runSimCli, SimUsageError } from '../../sim/cliMain.js';
import { decodeQueryConfigReply } from '../../sim/decode.js';
import { encodeRequestV0, queryConfigArgs } from '../../sim/wire.js';
import { rawConnect } from './rawClient.js';

const QUERY = 'RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX';

describe('simulator command line', () => {
  it('parses the documented flags', () => {
    expect(parseSimArgs(['--name', 'A', '--metas', '2', '--tables', 'temp:8,other:4', '--leader', '1', '--host-port', '--ports', '1,2', '--answer-cost-us', '50'])).toEqual({
      name: 'A',
      metas: 2,
      tables: { temp: { appId: 1, partitionCount: 8 }, other: { appId: 2, partitionCount: 4 } },
      leader: 1,
      hostPort: true,
      ports: [1, 2],
      answerCostUs: 50,
    });
    expect(() => parseSimArgs(['--metas', '3'])).toThrow(SimUsageError);
    expect(() => parseSimArgs(['--name', 'A', '--tables', 'temp'])).toThrow(/table:partitionCount/);
    expect(() => parseSimArgs(['--name', 'A', '--bogus'])).toThrow(/unknown argument --bogus/);
  });

  it('prints where it listens, obeys JSON-line commands and stops when stdin ends', async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    const done = runSimCli(['--name', 'B', '--metas', '2', '--tables', 'temp:4'], input, output);
    const lines = createInterface({ input: output })[Symbol.asyncIterator]();
    const next = async () => JSON.parse((await lines.next()).value as string) as Record<string, unknown>;

    const hello = (await next()) as { name: string; metas: string[] };
    expect(hello.name).toBe('B');
    expect(hello.metas).toHaveLength(2);

    input.write('{"cmd":"setLeader","meta":1}\n');
    expect(await next()).toEqual({ ok: true });
    const raw = await rawConnect(hello.metas[1]!);
    raw.send(encodeRequestV0(QUERY, 1, queryConfigArgs('temp')));
    expect(decodeQueryConfigReply(await raw.next()).body!.err).toBe('ERR_OK');
    raw.close();

    input.write('{"cmd":"requestCount","meta":1}\n');
    expect(await next()).toEqual({ ok: true, count: 1 });
    input.write('{"cmd":"kill","meta":0}\n');
    expect(await next()).toEqual({ ok: true });
    await expect(rawConnect(hello.metas[0]!)).rejects.toThrow(/ECONNREFUSED/);
    input.write('{"cmd":"restart","meta":0}\n{"cmd":"setBehavior","meta":0,"mode":"slow","delayMs":5}\n');
    expect(await next()).toEqual({ ok: true });
    expect(await next()).toEqual({ ok: true });
    input.write('{"cmd":"serviceNotActiveFor","ms":10}\n{"cmd":"answerCost","us":20}\n{"cmd":"fly"}\nnot json\n');
    expect(await next()).toEqual({ ok: true });
    expect(await next()).toEqual({ ok: true });
    expect(await next()).toMatchObject({ ok: false, error: expect.stringContaining('unknown command fly') });
    expect(await next()).toMatchObject({ ok: false });

    input.end();
    await done;
    await expect(rawConnect(hello.metas[1]!)).rejects.toThrow(/ECONNREFUSED/);
  });

  it('stops on abort (SIGTERM in the real process)', async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    const stop = new AbortController();
    const done = runSimCli(['--name', 'C', '--metas', '1', '--tables', 'temp:1'], input, output, stop.signal);
    const hello = JSON.parse((await createInterface({ input: output })[Symbol.asyncIterator]().next()).value as string) as {
      metas: string[];
    };
    stop.abort();
    await done;
    await expect(rawConnect(hello.metas[0]!)).rejects.toThrow(/ECONNREFUSED/);
  });
});
