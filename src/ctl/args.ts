/**
 * The `meta-proxy-ctl` command line: pure parsing and validation, no I/O.
 * Table names, cluster names and meta addresses are checked here with the
 * same rules the proxy applies to route nodes.
 */
import { UsageError } from '../errors.js';
import { metaAddressProblem, tableNameProblem } from '../streams/parseRoute.js';
import { DENY_MODES, FENCE_MODE, isDenyMode, type DenyMode } from '../protocol/updateAppEnv.js';
import type { RouteTarget } from './routeStore.js';

export const DEFAULT_CONFIG = 'meta-proxy.yaml';

export type CtlCommand =
  | { kind: 'help'; topic?: CommandName }
  | { kind: 'version' }
  | { kind: 'list'; json: boolean }
  | { kind: 'get'; table: string; json: boolean }
  | { kind: 'set'; table: string; route: RouteTarget; force: boolean }
  | { kind: 'delete'; table: string; force: boolean }
  | { kind: 'switch'; from: string; to: RouteTarget; tables?: string[]; dryRun: boolean; fence: boolean; configSyncMs: number; fleetWaitMs: number; waitClientsS?: number }
  | { kind: 'fence'; tables: string[]; cluster: ClusterChoice; lift: boolean; mode: DenyMode; dryRun: boolean }
  | { kind: 'fences'; cluster?: ClusterChoice; json: boolean }
  | { kind: 'import'; cluster: RouteTarget; dryRun: boolean; overwrite: boolean }
  | { kind: 'check'; json: boolean }
  | { kind: 'fleet'; table?: string; json: boolean; timeoutMs: number };

export type CommandName = 'list' | 'get' | 'set' | 'delete' | 'switch' | 'fence' | 'fences' | 'import' | 'check' | 'fleet';

/** How long `fleet` waits for each instance's admin endpoint by default. */
export const DEFAULT_FLEET_TIMEOUT_MS = 2000;

/**
 * A cluster named on the command line: by name (its metas are read from the
 * routes that name it), by its metas, or both (the name then only labels it).
 */
export type ClusterChoice = { name: string; metas?: string[] } | { name?: string; metas: string[] };

/** A parsed command line: the command and the configuration file to read. */
export interface CtlInvocation {
  configFile: string;
  command: CtlCommand;
}

const COMMON = `
Options of every command:
  --config FILE   the proxy's configuration (default ./${DEFAULT_CONFIG}); its zookeeper section,
                  or registry.file when there is none, says where the routes are
  --help          this command's help
Exit codes: 0 done, 1 the operation failed (nothing half-done), 2 bad command line or configuration,
3 (switch, fence) the routes were written but a fence or lift was not done: finish with the command printed,
4 (switch --wait-clients) done, but some client hosts had not followed in time (they are listed).`;

export const USAGE = `Usage: meta-proxy-ctl [--config FILE] <command> [options]

Manage meta-proxy routes (table -> cluster) in ZooKeeper or in the registry file.

Commands:
  list                                    every route: table, cluster, metas
  get <table>                             one route
  set <table> --cluster NAME --meta a:p,b:p   create or update a route (version-checked)
  delete <table>                          delete a route (version-checked)
  switch --from A --to B --meta b1:p,b2:p [--tables t1,t2] [--no-fence] [--dry-run]
                                          move every table of cluster A (or the named ones) to B, all or nothing,
                                          then fence them on A so live clients follow
  fence <table>... (--cluster NAME | --meta a:p,b:p) [--lift] [--mode reconfig*all] [--dry-run]
                                          turn clients away from (or --lift: let them back to) tables of a cluster
  fences [--cluster NAME | --meta a:p,b:p] [--json]
                                          tables fenced on the routed clusters (or on one cluster)
  import --cluster NAME --meta a:p,b:p [--dry-run] [--overwrite]
                                          add a route for every available table of a cluster
  check                                   ask each route's cluster for its table; report what is wrong
  fleet [--table T]                       the registered proxy instances and what each serves

Run "meta-proxy-ctl <command> --help" for a command's options.
${COMMON}
`;

export const COMMAND_USAGE: Record<CommandName, string> = {
  list: `Usage: meta-proxy-ctl list [--json]

Prints every route under the ZooKeeper root (or in the registry file): table, cluster, metas.
Entries that are not usable routes are shown with the reason.
  --json   one JSON array instead of the aligned table
${COMMON}
`,
  get: `Usage: meta-proxy-ctl get <table> [--json]

Prints the route of one table. Exit 1 when there is none.
  --json   JSON instead of text
${COMMON}
`,
  set: `Usage: meta-proxy-ctl set <table> --cluster NAME --meta host:port[,host:port...] [--force]

Creates or updates the route of <table> as {"cluster_name":NAME,"meta_addrs":"host:port,..."}.
The route is read first and written only if nobody changed it in between; if somebody did,
nothing is written: re-run the command, or use --force.
  --cluster NAME   the cluster's name (non-empty)
  --meta LIST      the cluster's MetaServers, comma-separated host:port
  --force          write whatever the route holds now
${COMMON}
`,
  delete: `Usage: meta-proxy-ctl delete <table> [--force]

Deletes the route of <table>; the proxies then answer ERR_OBJECT_NOT_FOUND for it.
Written only if nobody changed the route since it was read; --force deletes anyway.
${COMMON}
`,
  switch: `Usage: meta-proxy-ctl switch --from CLUSTER_A --to CLUSTER_B --meta b1:p,b2:p [--tables t1,t2] [--no-fence]
                             [--fleet-wait-ms N] [--wait-clients SECONDS] [--config-sync-ms N] [--dry-run]

Moves every table routed to CLUSTER_A (or only --tables) to CLUSTER_B with the given metas, in one
ZooKeeper transaction (or one rewrite of the registry file): every route moves, or none does.
Each route is written only if it is still as read; if one changed, nothing moves: re-run the command.
Every proxy sees the new routes through its watch and re-issues queries in flight to CLUSTER_B.

With ZooKeeper, it then asks every registered proxy instance (zookeeper.instances_path) until each
serves the new routes for the tables it has cached, for at most --fleet-wait-ms, printing a line per
instance and naming the laggards (a laggard keeps handing clients CLUSTER_A); then it goes on.

Clients keep a table's configuration and ask again only when a replica turns them away, so after
the routes are written each table is, by default:
  1. lifted on CLUSTER_B: its env replica.deny_client_request is deleted there (an earlier switch may have set it);
  2. fenced on CLUSTER_A: the env is set to ${FENCE_MODE}, so A's replicas answer every read and write
     ERR_INVALID_STATE and every client asks the proxies again at its next op, and is handed CLUSTER_B.
Replicas learn envs at their config sync (config_sync_interval_ms, 30 s by default): clients move
within that time. When a lift removed a fence (a switch back), the fences wait one config sync so
that B's replicas serve again before A turns clients to them. A table whose lift failed is not
fenced (it would be served nowhere).
When a fence or lift cannot be done (CLUSTER_A is down: the disaster case) the routes stay switched,
the command exits 3 and prints the command that finishes the job. CLUSTER_A must be fenced before it
serves again, or clients still holding its configuration will write to it (split brain).
--from and --to may name the same cluster, to move it to new MetaServer machines (nothing is fenced).
  --from NAME     the cluster the tables leave
  --to NAME       the cluster they go to
  --meta LIST     CLUSTER_B's MetaServers, comma-separated host:port
  --tables LIST   only these tables (each must be routed to CLUSTER_A)
  --no-fence      only write the routes: no lift, no fence (live clients stay on CLUSTER_A)
  --config-sync-ms N   the clusters' config_sync_interval_ms (default 30000): the wait after a lift
  --fleet-wait-ms N    how long to wait for every proxy to serve the new routes (default 10000; 0: do not)
  --wait-clients S     after the fences, wait up to S seconds until every client host that used a switched
                       table in the last hour has asked a proxy again and got CLUSTER_B (progress is printed);
                       exit 4, listing them, when some had not
  --dry-run       print the plan and change nothing
${COMMON}
`,
  fence: `Usage: meta-proxy-ctl fence <table>... (--cluster NAME | --meta a:p,b:p) [--lift] [--mode MODE] [--dry-run]

Sets the table env replica.deny_client_request on each <table> in one cluster, through its
MetaServer leader (RPC_CM_UPDATE_APP_ENV), or with --lift deletes it. Fenced with reconfig*...,
the cluster's replicas answer the denied ops ERR_INVALID_STATE and clients ask the proxies for the
table again; with timeout*... they answer nothing. Replicas apply it at their next config sync.
  --cluster NAME   the cluster; its metas are read from the routes that name it
  --meta LIST      its MetaServers, comma-separated host:port (with --cluster, that name labels them)
  --lift           delete the env instead of setting it
  --mode MODE      ${DENY_MODES.join(' | ')} (default ${FENCE_MODE})
  --dry-run        print what would be done and change nothing
Exit 0 when every table was done, 3 when some were not (each is named, with the reason).
${COMMON}
`,
  fences: `Usage: meta-proxy-ctl fences [--cluster NAME | --meta a:p,b:p] [--json]

Lists the tables whose env holds replica.deny_client_request, with its value, on every cluster the
routes name (or on the one given), read from each leader's list-apps. A fenced table that a route
still points at is marked: every client of it is being turned away.
  --cluster NAME   only this cluster (its metas from the routes, or --meta)
  --meta LIST      only the cluster with these MetaServers
  --json           JSON instead of text
Exit 1 when a cluster cannot be listed.
${COMMON}
`,
  import: `Usage: meta-proxy-ctl import --cluster NAME --meta a:p,b:p [--dry-run] [--overwrite]

Asks the cluster's MetaServer leader for its tables (RPC_CM_LIST_APPS; a follower's forward is
followed) and creates a route for every available table that has none, all in one transaction.
A table already routed elsewhere is reported and kept, unless --overwrite.
  --cluster NAME   the cluster's name, written into the routes
  --meta LIST      its MetaServers, comma-separated host:port
  --overwrite      also re-point tables routed to another cluster (or other metas)
  --dry-run        print the plan and change nothing
${COMMON}
`,
  check: `Usage: meta-proxy-ctl check [--json]

For every route, asks its cluster for the table (query-config) and lists every cluster's tables
(list-apps, once per cluster). Reports:
  - routes whose cluster does not know the table (ERR_OBJECT_NOT_FOUND) or answers another error;
  - clusters that do not answer;
  - tables available in more than one cluster (a note, not a problem, when a copy is duplicating);
  - routes to a cluster where the table is fenced (replica.deny_client_request: every client fails);
  - as warnings: tables routed away from a reachable cluster that still has them unfenced
    (clients holding that cluster's configuration keep using it);
  - route entries that are not usable, and clusters whose routes disagree on the metas.
Exit 1 when any problem is found.
  --json   the report as JSON
${COMMON}
`,
  fleet: `Usage: meta-proxy-ctl fleet [--table T] [--json] [--timeout-ms N]

Lists the proxy instances registered under zookeeper.instances_path (needs the zookeeper section) and
asks each one's admin endpoint, in parallel, for its status: version, uptime, ready, ZooKeeper session
state, routes cached. An instance that does not answer is listed as unreachable, with the reason.
  --table T        also show the cluster and route version each instance serves for table T
                   ("not cached" when it has not been asked for it), and how many client hosts followed
                   its last switch where the instance tracks it
  --json           the same as JSON
  --timeout-ms N   how long to wait for each instance (default ${DEFAULT_FLEET_TIMEOUT_MS})
Exit 0 even when instances are unreachable; exit 1 only when ZooKeeper cannot be read.
${COMMON}
`,
};

const COMMANDS = Object.keys(COMMAND_USAGE) as CommandName[];

type OptionKind = 'flag' | 'value';
const OPTIONS: Record<CommandName, Record<string, OptionKind>> = {
  list: { json: 'flag' },
  get: { json: 'flag' },
  set: { cluster: 'value', meta: 'value', force: 'flag' },
  delete: { force: 'flag' },
  switch: { from: 'value', to: 'value', meta: 'value', tables: 'value', 'dry-run': 'flag', 'no-fence': 'flag', 'config-sync-ms': 'value', 'fleet-wait-ms': 'value', 'wait-clients': 'value' },
  fence: { cluster: 'value', meta: 'value', lift: 'flag', mode: 'value', 'dry-run': 'flag' },
  fences: { cluster: 'value', meta: 'value', json: 'flag' },
  import: { cluster: 'value', meta: 'value', 'dry-run': 'flag', overwrite: 'flag' },
  check: { json: 'flag' },
  fleet: { table: 'value', json: 'flag', 'timeout-ms': 'value' },
};
const POSITIONALS: Record<CommandName, string[]> = {
  list: [],
  get: ['table'],
  set: ['table'],
  delete: ['table'],
  switch: [],
  fence: ['table'],
  fences: [],
  import: [],
  check: [],
  fleet: [],
};

/** A usage error of one command: its message and that command's usage. */
export class CommandUsageError extends UsageError {
  constructor(
    message: string,
    readonly command: CommandName | undefined,
  ) {
    super(message);
  }
}

const isCommand = (word: string): word is CommandName => (COMMANDS as string[]).includes(word);

export function parseTable(table: string, command: CommandName): string {
  const problem = tableNameProblem(table);
  if (problem !== undefined) throw new CommandUsageError(`Invalid table name: ${problem}.`, command);
  return table;
}

export function parseClusterName(value: string, option: string, command: CommandName): string {
  const name = value.trim();
  if (name === '') throw new CommandUsageError(`--${option} needs a non-empty cluster name.`, command);
  return name;
}

/** `a:p,b:p` → the addresses, trimmed and deduplicated, each valid as the proxy reads route nodes. */
export function parseMetas(value: string, command: CommandName): string[] {
  const metas: string[] = [];
  for (const piece of value.split(',')) {
    const entry = piece.trim();
    if (entry === '') continue;
    const problem = metaAddressProblem(entry);
    if (problem !== undefined) throw new CommandUsageError(`--meta: ${problem}.`, command);
    if (!metas.includes(entry)) metas.push(entry);
  }
  if (metas.length === 0) throw new CommandUsageError('--meta needs at least one host:port.', command);
  return metas;
}

/** Pegasus's default config_sync_interval_ms: how long replicas may take to learn a table env. */
export const DEFAULT_CONFIG_SYNC_MS = 30_000;

/** How long a switch waits for every registered proxy to serve the new routes, by default. */
export const DEFAULT_FLEET_WAIT_MS = 10_000;

function nonNegativeInt(value: string | undefined, option: string, fallback: number, command: CommandName, unit = 'milliseconds'): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) throw new CommandUsageError(`--${option} needs a whole number of ${unit}, not ${JSON.stringify(value)}.`, command);
  return n;
}

function clusterChoice(values: ReadonlyMap<string, string>, command: CommandName): ClusterChoice | undefined {
  const name = values.has('cluster') ? parseClusterName(values.get('cluster') as string, 'cluster', command) : undefined;
  const metas = values.has('meta') ? parseMetas(values.get('meta') as string, command) : undefined;
  if (metas !== undefined) return { ...(name !== undefined && { name }), metas };
  if (name !== undefined) return { name };
  return undefined;
}

/**
 * Reads the command line (without the node and script paths). `--config` and
 * `--help` may stand anywhere. Throws a `CommandUsageError`.
 */
export function parseCtlArgs(argv: readonly string[]): CtlInvocation {
  let configFile = DEFAULT_CONFIG;
  let help = false;
  let version = false;
  let command: CommandName | undefined;
  const positionals: string[] = [];
  const values = new Map<string, string>();
  const flags = new Set<string>();
  let optionsEnded = false;

  const takeValue = (name: string, inline: string | undefined, next: () => string | undefined): string => {
    const value = inline ?? next();
    if (value === undefined || (inline === undefined && value.startsWith('--'))) throw new CommandUsageError(`--${name} needs a value.`, command);
    return value;
  };

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const next = (): string | undefined => argv[++i];
    if (optionsEnded || !arg.startsWith('-') || arg === '-') {
      if (command === undefined && !optionsEnded) {
        if (arg === 'help') {
          help = true;
          continue;
        }
        if (!isCommand(arg)) throw new CommandUsageError(`Unknown command ${JSON.stringify(arg)}: use one of ${COMMANDS.join(', ')}.`, undefined);
        command = arg;
        continue;
      }
      positionals.push(arg);
      continue;
    }
    if (arg === '--') {
      optionsEnded = true;
      continue;
    }
    const eq = arg.indexOf('=');
    const name = (eq < 0 ? arg : arg.slice(0, eq)).replace(/^--?/, '');
    const inline = eq < 0 ? undefined : arg.slice(eq + 1);
    if (name === 'help' || name === 'h') help = true;
    else if (name === 'version' || name === 'v') version = true;
    else if (name === 'config') {
      configFile = takeValue(name, inline, next);
      if (configFile === '') throw new CommandUsageError('--config needs a file name.', command);
    } else {
      const kind = command === undefined ? undefined : OPTIONS[command][name];
      if (kind === 'flag') {
        if (inline !== undefined) throw new CommandUsageError(`--${name} takes no value.`, command);
        flags.add(name);
      } else if (kind === 'value') {
        values.set(name, takeValue(name, inline, next));
      } else {
        throw new CommandUsageError(`Unknown option --${name}${command === undefined ? ' (options come after the command)' : ` for ${command}`}.`, command);
      }
    }
  }

  if (help) return { configFile, command: command === undefined ? { kind: 'help' } : { kind: 'help', topic: command } };
  if (version) return { configFile, command: { kind: 'version' } };
  if (command === undefined) throw new CommandUsageError('No command given.', undefined);

  const expected = POSITIONALS[command];
  // fence takes one or more tables.
  const most = command === 'fence' ? Infinity : expected.length;
  if (positionals.length < expected.length) throw new CommandUsageError(`${command} needs the ${expected[positionals.length]} name.`, command);
  if (positionals.length > most) throw new CommandUsageError(`Unexpected argument${positionals.length - expected.length > 1 ? 's' : ''}: ${positionals.slice(expected.length).join(' ')}.`, command);

  const need = (name: string): string => {
    const value = values.get(name);
    if (value === undefined) throw new CommandUsageError(`${command} needs --${name}.`, command);
    return value;
  };
  const cmd = command;
  const table = (): string => parseTable(positionals[0] as string, cmd);

  switch (cmd) {
    case 'list':
      return { configFile, command: { kind: 'list', json: flags.has('json') } };
    case 'get':
      return { configFile, command: { kind: 'get', table: table(), json: flags.has('json') } };
    case 'set':
      return {
        configFile,
        command: { kind: 'set', table: table(), route: { cluster: parseClusterName(need('cluster'), 'cluster', cmd), metas: parseMetas(need('meta'), cmd) }, force: flags.has('force') },
      };
    case 'delete':
      return { configFile, command: { kind: 'delete', table: table(), force: flags.has('force') } };
    case 'switch': {
      const from = parseClusterName(need('from'), 'from', cmd);
      const to = { cluster: parseClusterName(need('to'), 'to', cmd), metas: parseMetas(need('meta'), cmd) };
      const listed = values.get('tables');
      let tables: string[] | undefined;
      if (listed !== undefined) {
        tables = [...new Set(listed.split(',').map((t) => t.trim()).filter((t) => t !== ''))].map((t) => parseTable(t, cmd));
        if (tables.length === 0) throw new CommandUsageError('--tables needs at least one table name.', cmd);
      }
      const configSyncMs = nonNegativeInt(values.get('config-sync-ms'), 'config-sync-ms', DEFAULT_CONFIG_SYNC_MS, cmd);
      const fleetWaitMs = nonNegativeInt(values.get('fleet-wait-ms'), 'fleet-wait-ms', DEFAULT_FLEET_WAIT_MS, cmd);
      const waitClients = values.get('wait-clients');
      const waitClientsS = waitClients === undefined ? undefined : nonNegativeInt(waitClients, 'wait-clients', 0, cmd, 'seconds');
      if (waitClientsS !== undefined && flags.has('no-fence')) throw new CommandUsageError('--wait-clients waits for the clients a fence moves; it makes no sense with --no-fence.', cmd);
      return {
        configFile,
        command: { kind: 'switch', from, to, ...(tables && { tables }), dryRun: flags.has('dry-run'), fence: !flags.has('no-fence'), configSyncMs, fleetWaitMs, ...(waitClientsS !== undefined && { waitClientsS }) },
      };
    }
    case 'fence': {
      const cluster = clusterChoice(values, cmd);
      if (cluster === undefined) throw new CommandUsageError('fence needs --cluster NAME or --meta LIST.', cmd);
      const mode = values.get('mode') ?? FENCE_MODE;
      if (!isDenyMode(mode)) throw new CommandUsageError(`--mode must be one of ${DENY_MODES.join(', ')}, not ${JSON.stringify(mode)}.`, cmd);
      if (flags.has('lift') && values.has('mode')) throw new CommandUsageError('--mode sets a fence; it makes no sense with --lift.', cmd);
      const tables = [...new Set(positionals)].map((t) => parseTable(t, cmd));
      return { configFile, command: { kind: 'fence', tables, cluster, lift: flags.has('lift'), mode, dryRun: flags.has('dry-run') } };
    }
    case 'fences': {
      const cluster = clusterChoice(values, cmd);
      return { configFile, command: { kind: 'fences', ...(cluster && { cluster }), json: flags.has('json') } };
    }
    case 'import':
      return {
        configFile,
        command: {
          kind: 'import',
          cluster: { cluster: parseClusterName(need('cluster'), 'cluster', cmd), metas: parseMetas(need('meta'), cmd) },
          dryRun: flags.has('dry-run'),
          overwrite: flags.has('overwrite'),
        },
      };
    case 'check':
      return { configFile, command: { kind: 'check', json: flags.has('json') } };
    case 'fleet': {
      const listed = values.get('table');
      const timeout = values.get('timeout-ms');
      const timeoutMs = timeout === undefined ? DEFAULT_FLEET_TIMEOUT_MS : Number(timeout);
      if (!/^\d+$/.test(timeout ?? '0') || !Number.isSafeInteger(timeoutMs) || timeoutMs < 1) {
        throw new CommandUsageError(`--timeout-ms needs a positive whole number of milliseconds, not ${JSON.stringify(timeout)}.`, cmd);
      }
      return { configFile, command: { kind: 'fleet', ...(listed !== undefined && { table: parseTable(listed, cmd) }), json: flags.has('json'), timeoutMs } };
    }
  }
}
