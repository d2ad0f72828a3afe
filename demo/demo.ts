/**
 * `npm run demo`: shows what meta-proxy is for, with nothing but Node.js.
 *
 * Two simulated Pegasus clusters (A and B) run in this process; the real
 * `meta-proxy` CLI runs as its own process with the embedded file registry.
 * A client asks the proxy for table `temp`, the route is switched from A to B
 * by rewriting one file, and the next answers come from B. The proxy's status
 * page is up while the demo runs (its URL is printed); `--hold[=SECONDS]`
 * keeps the proxy up that much longer (default 30 s), with a trickle of
 * queries and a switch every 10 s, so a person can watch it.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { startSimCluster, type SimCluster } from '../sim/cluster.js';
import { identifyCluster } from '../sim/identify.js';
import { TestClient, queryConfigArgs, requestBody, v0Frame, type Reply } from '../sim/client.js';

const cli = new URL('../src/cli.js', import.meta.url).pathname;
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

function writeRoutes(file: string, routes: Record<string, SimCluster>) {
  const body = Object.entries(routes)
    .map(([table, c]) => `${table}: { cluster_name: ${c.name}, meta_addrs: "${c.metas.join(',')}" }`)
    .join('\n');
  // Write-then-rename, as an editor or a deployment tool would.
  writeFileSync(`${file}.tmp`, `${body}\n`);
  renameSync(`${file}.tmp`, file);
}

function describe(reply: Reply): string {
  if (reply.err !== 'ERR_OK') return `seqid ${reply.seqid}: ${reply.err} (in the reply body, header ${reply.headerError})`;
  const from = identifyCluster(reply.frame, ['A', 'B']);
  return `seqid ${reply.seqid}: ${reply.err}, app_id ${reply.appId}, ${reply.partitionCount} partitions, partition 0 primary ${reply.primary ?? '-'} → cluster ${from ?? '?'}`;
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
  const a = await startSimCluster({ name: 'A', metas: 3, leader: 1, tables: { temp: { appId: 2, partitionCount: 8 } } });
  const b = await startSimCluster({ name: 'B', metas: 3, leader: 0, tables: { temp: { appId: 5, partitionCount: 8 } } });
  say(`cluster A: metas ${a.metas.join(', ')} (leader ${a.metas[1]})`);
  say(`cluster B: metas ${b.metas.join(', ')} (leader ${b.metas[0]})`);

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

    say('\n3. switching temp to cluster B by rewriting the route file...');
    const switchedAt = Date.now();
    writeRoutes(routes, { temp: b });
    let reply: Reply;
    let seq = 10;
    do {
      reply = await client.query('temp', seq++);
    } while (identifyCluster(reply.frame, ['A', 'B']) !== 'B' && Date.now() - switchedAt < 5000);
    say(`   ${describe(reply)}`);
    say(`   rerouted ${Date.now() - switchedAt} ms after the edit, with no client change`);
    if (hold > 0) {
      say(`\n4. holding the proxy up for ${hold} s: a query every 200 ms, and temp switches cluster every 10 s`);
      say(`   watch it on the status page: http://127.0.0.1:${adminPort}/`);
      const until = Date.now() + hold * 1000;
      let nextSwitch = Date.now() + 10_000;
      let current = b;
      while (Date.now() < until) {
        if (Date.now() >= nextSwitch) {
          current = current === b ? a : b;
          writeRoutes(routes, { temp: current });
          say(`   temp → cluster ${current.name}`);
          nextSwitch += 10_000;
        }
        await client.query('temp', seq++);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
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
