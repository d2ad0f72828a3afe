/**
 * `npm run demo`: shows what meta-proxy is for, with nothing but Node.js.
 *
 * Two simulated Pegasus clusters (A and B) run in this process; the real
 * `meta-proxy` CLI runs as its own process with the embedded file registry.
 * A client asks the proxy for table `temp`; a live client writes and reads
 * `temp` on A's replica servers all along; the real `meta-proxy-ctl switch`
 * moves the route to B and fences the table on A, and the live client
 * follows to B at its next op. The proxy's status page is up while the demo
 * runs (its URL is printed); `--hold[=SECONDS]` keeps the proxy up that much
 * longer (default 30 s), with live traffic and a switch every 10 s, so a
 * person can watch it.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { startSimCluster, type SimCluster } from '../sim/cluster.js';
import { runClientLoop, SimPegasusClient, type SimClientOp } from '../sim/pegasusClient.js';
import { TestClient, queryConfigArgs, requestBody, v0Frame, type Reply } from '../sim/client.js';

const cli = new URL('../src/cli.js', import.meta.url).pathname;
const ctlBin = new URL('../src/ctl.js', import.meta.url).pathname;
/** How often the simulated replicas learn table envs (a real cluster: config_sync_interval_ms, 30 s). */
const CONFIG_SYNC_MS = 500;
const say = (text: string) => console.log(text);
const USAGE = 'usage: npm run demo [-- --hold[=SECONDS]]';

/** Seconds to keep the proxy up after the demo's steps: 0 without `--hold`. */
function holdSeconds(argv: readonly string[]): number {
  let hold = 0;
  for (const arg of argv) {
    const match = /^--hold(?:=(\d+))?$/.exec(arg);
    if (match === null) throw new Error(`unknown argument ${arg}\n${USAGE}`);
    hold = match[1] === undefined ? 30 : Number(match[1]);
  }
  return hold;
}

/** Runs the real `meta-proxy-ctl`; resolves its exit code and output. */
function runCtl(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [ctlBin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, out }));
  });
}

function writeRoutes(file: string, routes: Record<string, SimCluster>) {
  const body = Object.entries(routes)
    .map(([table, c]) => `${table}: { cluster_name: ${c.name}, meta_addrs: "${c.metas.join(',')}" }`)
    .join('\n');
  // Write-then-rename, as an editor or a deployment tool would.
  writeFileSync(`${file}.tmp`, `${body}\n`);
  renameSync(`${file}.tmp`, file);
}

let clusters: SimCluster[] = [];
/** The cluster whose replica server is at `address`. */
const clusterAt = (address: string | undefined): string => clusters.find((c) => address !== undefined && c.replicas.includes(address))?.name ?? '?';

function describe(reply: Reply): string {
  if (reply.err !== 'ERR_OK') return `seqid ${reply.seqid}: ${reply.err} (in the reply body, header ${reply.headerError})`;
  return `seqid ${reply.seqid}: ${reply.err}, app_id ${reply.appId}, ${reply.partitionCount} partitions, partition 0 primary ${reply.primary ?? '-'} → cluster ${clusterAt(reply.primary)}`;
}

/** Where a live client's ops in [from, to) landed: `A 120 ops, B 0 ops, 1 failed (ERR_INVALID_STATE)`. */
function landed(ops: readonly SimClientOp[], from: number, to = Infinity): string {
  const within = ops.filter((op) => op.t >= from && op.t < to);
  const per = new Map<string, number>(clusters.map((c) => [c.name, 0]));
  for (const op of within) if (op.ok) per.set(clusterAt(op.replica), (per.get(clusterAt(op.replica)) ?? 0) + 1);
  const failed = within.filter((op) => !op.ok);
  const parts = [...per].map(([name, n]) => `${n} on ${name}`);
  parts.push(failed.length === 0 ? 'none failed' : `${failed.length} failed (${[...new Set(failed.map((op) => op.error))].join(', ')})`);
  return parts.join(', ');
}

async function main() {
  let hold: number;
  try {
    hold = holdSeconds(process.argv.slice(2));
  } catch (error) {
    console.error((error as Error).message);
    process.exit(2);
  }
  const dir = mkdtempSync(join(tmpdir(), 'meta-proxy-demo-'));
  const replicas = { replicas: true, configSyncIntervalMs: CONFIG_SYNC_MS };
  const a = await startSimCluster({ name: 'A', metas: 3, leader: 1, tables: { temp: { appId: 2, partitionCount: 8 } }, ...replicas });
  const b = await startSimCluster({ name: 'B', metas: 3, leader: 0, tables: { temp: { appId: 5, partitionCount: 8 } }, ...replicas });
  clusters = [a, b];
  say(`cluster A: metas ${a.metas.join(', ')} (leader ${a.metas[1]}), replica servers ${a.replicas.join(', ')}`);
  say(`cluster B: metas ${b.metas.join(', ')} (leader ${b.metas[0]}), replica servers ${b.replicas.join(', ')}`);
  say(`(the simulated replicas learn table envs every ${CONFIG_SYNC_MS} ms; real ones every config_sync_interval_ms, 30 s by default)`);

  const routes = join(dir, 'routes.yaml');
  writeRoutes(routes, { temp: a });
  const config = join(dir, 'meta-proxy.yaml');
  writeFileSync(
    config,
    [
      'registry:',
      `  file: ${routes}`,
      'metric:',
      '  type: prometheus',
      '  tags: [service=meta_proxy_demo]',
      'server:',
      '  listen: 127.0.0.1:0',
      'admin:',
      '  listen: 127.0.0.1:0',
      'log:',
      '  level: info',
      '',
    ].join('\n'),
  );
  const proxy = spawn(process.execPath, [cli, config], { stdio: ['ignore', 'pipe', 'inherit'] });
  let adminPort: number | undefined;
  const port = await new Promise<number>((resolve, reject) => {
    proxy.once('exit', (code) => reject(new Error(`meta-proxy exited with code ${code}`)));
    createInterface({ input: proxy.stdout! }).on('line', (line) => {
      try {
        const entry = JSON.parse(line) as { msg?: string; listen?: { port: number }; admin?: { port: number } };
        if (entry.msg === 'admin HTTP server listening' && entry.admin) adminPort = entry.admin.port;
        if (entry.msg === 'meta-proxy listening' && entry.listen) resolve(entry.listen.port);
      } catch {
        // not a log line
      }
    });
  });
  say(`meta-proxy (its own process, pid ${proxy.pid}) listening on 127.0.0.1:${port}; route file ${routes}`);
  say(`status page: http://127.0.0.1:${adminPort}/  (live while the demo runs${hold > 0 ? ` and ${hold} s after` : '; --hold keeps it up longer'})`);

  try {
    const client = await TestClient.connect(port);
    say('\n1. table temp routed to cluster A; a v0 (Go/Node.js-style) and a v1 (Java-style) query:');
    say(`   ${describe(await client.query('temp', 1, { version: 0 }))}`);
    say(`   ${describe(await client.query('temp', 2, { version: 1 }))}`);
    say('   (the proxy started at A\'s first meta, a follower, and followed its forward to the leader)');

    say('\n2. an RPC the proxy does not serve, then an unknown table:');
    const other = await client.request(v0Frame(requestBody('RPC_CM_LIST_NODES', 4, queryConfigArgs(''))), 4);
    say(`   seqid ${other.seqid}: ${other.name} with header ${other.headerError} (the connection stays open)`);
    say(`   ${describe(await client.query('no_such_table', 3))}`);

    say('\n3. a live client (as an application keeps one): it asked the proxy for temp once, caches the');
    say('   configuration and writes and reads on the replica servers directly, every 20 ms');
    const live = new SimPegasusClient({ metas: [`127.0.0.1:${port}`], table: 'temp' });
    const loop = runClientLoop(live, { intervalMs: 20 });
    const liveSince = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    say(`   its ops in the last second: ${landed(live.ops, liveSince)}`);

    say('\n4. meta-proxy-ctl switch --from A --to B: the route moves, then temp is fenced on A');
    say('   (replica.deny_client_request = reconfig*all), so A\'s replicas turn the live client away and it asks again');
    const switchStarted = Date.now();
    const switched = await runCtl(['--config', config, 'switch', '--from', 'A', '--to', 'B', '--meta', b.metas.join(','), '--config-sync-ms', String(CONFIG_SYNC_MS)]);
    const fencedAt = Date.now();
    for (const line of switched.out.trimEnd().split('\n')) say(`   | ${line}`);
    if (switched.code !== 0) throw new Error(`meta-proxy-ctl switch exited with ${switched.code}`);
    const onB = () => live.ops.find((op) => op.t >= switchStarted && op.ok && clusterAt(op.replica) === 'B');
    while (onB() === undefined && Date.now() - fencedAt < 10_000) await new Promise((resolve) => setTimeout(resolve, 20));
    const first = onB();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await loop.stop();
    say(`   the live client's ops before the switch: ${landed(live.ops, liveSince, switchStarted)}`);
    say(`   from the switch until the fence reached A's replicas: ${landed(live.ops, switchStarted, first?.t ?? Infinity)}`);
    say(`   from its first op on B (${first === undefined ? 'never' : `${first.t - fencedAt} ms after the fence was set`}) on: ${landed(live.ops, first?.t ?? Infinity)}`);
    say(`   A's replicas served ${a.replicaOps({ table: 'temp', since: fencedAt + CONFIG_SYNC_MS }).ok} of its ops once the fence was in force; it asked the proxy ${live.stats().configQueries} times in all`);
    say(`   a new query through the proxy: ${describe(await client.query('temp', 20))}`);
    live.close();
    let seq = 30;
    if (hold > 0) {
      say(`\n5. holding the proxy up for ${hold} s: a live client and a query every 200 ms; temp switches cluster every 10 s`);
      say(`   watch it on the status page: http://127.0.0.1:${adminPort}/`);
      const watcher = new SimPegasusClient({ metas: [`127.0.0.1:${port}`], table: 'temp' });
      const watching = runClientLoop(watcher, { intervalMs: 200 });
      const until = Date.now() + hold * 1000;
      let nextSwitch = Date.now() + 10_000;
      let current = b;
      while (Date.now() < until) {
        if (Date.now() >= nextSwitch) {
          const next = current === b ? a : b;
          const moved = await runCtl(['--config', config, 'switch', '--from', current.name, '--to', next.name, '--meta', next.metas.join(','), '--config-sync-ms', String(CONFIG_SYNC_MS)]);
          say(`   temp → cluster ${next.name} (meta-proxy-ctl exit ${moved.code}); live client so far: ${landed(watcher.ops, 0)}`);
          current = next;
          nextSwitch += 10_000;
        }
        await client.query('temp', seq++);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      await watching.stop();
      watcher.close();
    }
    client.close();
  } finally {
    proxy.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => proxy.once('exit', r));
    if (code !== 0) throw new Error(`meta-proxy exited with code ${code} on SIGTERM`);
    await a.close();
    await b.close();
  }
  say('\nmeta-proxy stopped cleanly (SIGTERM). Done.');
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
