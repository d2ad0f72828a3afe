import { PassThrough } from 'node:stream';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { parseSimArgs, runSimCli } from '../../sim/cliMain.js';
import { SimPegasusClient } from '../../sim/pegasusClient.js';

describe('simulator command line with replica servers', () => {
  it('parses --replicas and --config-sync-ms', () => {
    expect(parseSimArgs(['--name', 'A', '--tables', 'temp:2', '--replicas', '--config-sync-ms', '50'])).toEqual({
      name: 'A',
      tables: { temp: { appId: 1, partitionCount: 2 } },
      replicas: true,
      configSyncIntervalMs: 50,
    });
    expect(() => parseSimArgs(['--name', 'A', '--config-sync-ms', 'soon'])).toThrow(/needs an integer/);
  });

  it('prints the replica addresses, sets and deletes envs, and counts replica ops', async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    const done = runSimCli(['--name', 'R', '--metas', '1', '--tables', 'temp:4', '--replicas', '--config-sync-ms', '30'], input, output);
    const lines = createInterface({ input: output })[Symbol.asyncIterator]();
    const next = async () => JSON.parse((await lines.next()).value as string) as Record<string, unknown>;
    const hello = (await next()) as { metas: string[]; replicas: string[] };
    expect(hello.replicas).toHaveLength(3);

    const client = new SimPegasusClient({ metas: hello.metas, table: 'temp', opTimeoutMs: 500 });
    try {
      expect((await client.set('k', 'v')).ok).toBe(true);
      input.write('{"cmd":"replicaOps","table":"temp"}\n');
      expect(await next()).toEqual({ ok: true, counts: { ok: 1, refused: 0, dropped: 0 } });
      input.write('{"cmd":"setEnvs","table":"temp","envs":{"replica.deny_client_request":"reconfig*all"}}\n');
      expect(await next()).toEqual({ ok: true });
      input.write('{"cmd":"envs","table":"temp"}\n');
      expect(await next()).toEqual({ ok: true, envs: { 'replica.deny_client_request': 'reconfig*all' } });
      input.write('{"cmd":"setEnvs","table":"temp","envs":{"replica.deny_client_request":"never"}}\n');
      expect(await next()).toMatchObject({ ok: false, error: expect.stringContaining('ERR_INVALID_PARAMETERS') });
      input.write('{"cmd":"delEnvs","table":"temp","keys":["replica.deny_client_request"]}\n{"cmd":"envs","table":"temp"}\n');
      expect(await next()).toEqual({ ok: true });
      expect(await next()).toEqual({ ok: true, envs: {} });
    } finally {
      client.close();
      input.end();
      await done;
    }
  });
});
