/**
 * The simulator's command line, as a function of its streams so it can be run
 * in-process by tests and by `sim/cli.ts` as a separate process (benchmarks).
 *
 *   --name A --metas 3 --tables temp:8,other:4 [--leader 1] [--host-port] [--host H] [--ports p1,p2,p3] [--answer-cost-us N]
 *       [--replicas] [--config-sync-ms N]
 *
 * `--tables @FILE` reads the same list from FILE (commas or newlines), for
 * table counts a command line cannot hold (the benchmark routes 100k tables).
 *
 * Prints `{"name","metas":[...]}` (and `"replicas":[...]` with --replicas) once listening, then executes one JSON command
 * per stdin line and answers each with one JSON line.
 */
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { startSimCluster, type SimClusterOptions, type SimMode } from './cluster.js';
import type { SimTable } from './replies.js';

export class SimUsageError extends Error {
  override name = 'SimUsageError';
}

function int(flag: string, v: string | undefined): number {
  const n = Number(v);
  if (v === undefined || !Number.isInteger(n)) throw new SimUsageError(`${flag} needs an integer, got ${v ?? 'nothing'}`);
  return n;
}

/** `temp:8,other:4` → tables with app ids 1, 2, ... in the order given. */
function parseTables(v: string | undefined): Record<string, SimTable> {
  if (v === undefined) throw new SimUsageError('--tables needs a value like temp:8,other:4');
  let list = v;
  if (v.startsWith('@')) {
    try {
      list = readFileSync(v.slice(1), 'utf8');
    } catch (err) {
      throw new SimUsageError(`--tables ${v}: cannot read the file: ${(err as Error).message}`);
    }
  }
  const tables: Record<string, SimTable> = {};
  let appId = 1;
  for (const part of list.split(/[,\s]+/).filter(Boolean)) {
    const [table, count] = part.split(':');
    const partitionCount = Number(count);
    if (!table || !Number.isInteger(partitionCount) || partitionCount <= 0) {
      throw new SimUsageError(`--tables entry "${part}" is not table:partitionCount`);
    }
    tables[table] = { appId: appId++, partitionCount };
  }
  return tables;
}

export function parseSimArgs(argv: readonly string[]): SimClusterOptions {
  const o: SimClusterOptions = { name: '' };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    switch (flag) {
      case '--name':
        o.name = argv[++i] ?? '';
        break;
      case '--metas':
        o.metas = int(flag, argv[++i]);
        break;
      case '--tables':
        o.tables = parseTables(argv[++i]);
        break;
      case '--leader':
        o.leader = int(flag, argv[++i]);
        break;
      case '--host-port':
        o.hostPort = true;
        break;
      case '--host':
        o.host = argv[++i];
        break;
      case '--answer-cost-us':
        o.answerCostUs = int(flag, argv[++i]);
        break;
      case '--replicas':
        o.replicas = true;
        break;
      case '--config-sync-ms':
        o.configSyncIntervalMs = int(flag, argv[++i]);
        break;
      case '--ports':
        o.ports = (argv[++i] ?? '').split(',').map((p) => int(flag, p));
        break;
      default:
        throw new SimUsageError(`unknown argument ${flag}`);
    }
  }
  if (!o.name) throw new SimUsageError('--name is required');
  return o;
}

type Command =
  | { cmd: 'kill' | 'restart'; meta: number }
  | { cmd: 'setLeader'; meta: number }
  | { cmd: 'setBehavior'; meta: number; mode: SimMode; delayMs?: number }
  | { cmd: 'serviceNotActiveFor'; ms: number }
  | { cmd: 'answerCost'; us: number }
  | { cmd: 'requestCount'; meta: number }
  | { cmd: 'setEnvs'; table: string; envs: Record<string, string> }
  | { cmd: 'delEnvs'; table: string; keys: string[] }
  | { cmd: 'envs'; table: string }
  | { cmd: 'replicaOps'; table?: string; since?: number };

/** Runs the simulator until `input` ends or `stop` aborts; resolves once every port is closed. */
export async function runSimCli(
  argv: readonly string[],
  input: Readable,
  output: Writable,
  stop?: AbortSignal,
): Promise<void> {
  const cluster = await startSimCluster(parseSimArgs(argv));
  const hello = cluster.replicas.length
    ? { name: cluster.name, metas: cluster.metas, replicas: cluster.replicas }
    : { name: cluster.name, metas: cluster.metas };
  output.write(`${JSON.stringify(hello)}\n`);
  const lines = createInterface({ input, crlfDelay: Infinity });
  const onStop = (): void => lines.close();
  if (stop?.aborted) onStop();
  stop?.addEventListener('abort', onStop, { once: true });
  try {
    for await (const line of lines) {
      if (!line.trim()) continue;
      let reply: Record<string, unknown>;
      try {
        const c = JSON.parse(line) as Command;
        switch (c.cmd) {
          case 'kill':
            await cluster.kill(c.meta);
            reply = { ok: true };
            break;
          case 'restart':
            await cluster.restart(c.meta);
            reply = { ok: true };
            break;
          case 'setLeader':
            cluster.setLeader(c.meta);
            reply = { ok: true };
            break;
          case 'setBehavior':
            cluster.setBehavior(c.meta, c.delayMs === undefined ? { mode: c.mode } : { mode: c.mode, delayMs: c.delayMs });
            reply = { ok: true };
            break;
          case 'serviceNotActiveFor':
            cluster.serviceNotActiveFor(c.ms);
            reply = { ok: true };
            break;
          case 'answerCost':
            cluster.setAnswerCost(c.us);
            reply = { ok: true };
            break;
          case 'requestCount':
            reply = { ok: true, count: cluster.requestCount(c.meta) };
            break;
          case 'setEnvs':
            cluster.setEnvs(c.table, c.envs);
            reply = { ok: true };
            break;
          case 'delEnvs':
            cluster.delEnvs(c.table, c.keys);
            reply = { ok: true };
            break;
          case 'envs':
            reply = { ok: true, envs: cluster.envs(c.table) ?? null };
            break;
          case 'replicaOps': {
            const filter: { table?: string; since?: number } = {};
            if (c.table !== undefined) filter.table = c.table;
            if (c.since !== undefined) filter.since = c.since;
            reply = { ok: true, counts: cluster.replicaOps(filter) };
            break;
          }
          default:
            reply = { ok: false, error: `unknown command ${String((c as { cmd?: unknown }).cmd)}` };
        }
      } catch (err) {
        reply = { ok: false, error: (err as Error).message };
      }
      output.write(`${JSON.stringify(reply)}\n`);
    }
  } finally {
    stop?.removeEventListener('abort', onStop);
    await cluster.close();
  }
}
