/**
 * The `meta-proxy-ctl` command line: pure parsing and validation, no I/O.
 * Table names, cluster names and meta addresses are checked here with the
 * same rules the proxy applies to route nodes.
 */
import { UsageError } from '../errors.js';
import { metaAddressProblem, tableNameProblem } from '../streams/parseRoute.js';
import type { RouteTarget } from './routeStore.js';

export const DEFAULT_CONFIG = 'meta-proxy.yaml';

export type CtlCommand =
  | { kind: 'help'; topic?: CommandName }
  | { kind: 'version' }
  | { kind: 'list'; json: boolean }
  | { kind: 'get'; table: string; json: boolean }
  | { kind: 'set'; table: string; route: RouteTarget; force: boolean }
  | { kind: 'delete'; table: string; force: boolean }
  | { kind: 'switch'; from: string; to: RouteTarget; tables?: string[]; dryRun: boolean }
  | { kind: 'import'; cluster: RouteTarget; dryRun: boolean; overwrite: boolean }
  | { kind: 'check'; json: boolean }
  | { kind: 'fleet'; table?: string; json: boolean; timeoutMs: number };

export type CommandName = 'list' | 'get' | 'set' | 'delete' | 'switch' | 'import' | 'check' | 'fleet';

/** How long `fleet` waits for each instance's admin endpoint by default. */
export const DEFAULT_FLEET_TIMEOUT_MS = 2000;

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
Exit codes: 0 done, 1 the operation failed (nothing half-done), 2 bad command line or configuration.`;

export const USAGE = `Usage: meta-proxy-ctl [--config FILE] <command> [options]

Manage meta-proxy routes (table -> cluster) in ZooKeeper or in the registry file.

Commands:
  list                                    every route: table, cluster, metas
  get <table>                             one route
  set <table> --cluster NAME --meta a:p,b:p   create or update a route (version-checked)
  delete <table>                          delete a route (version-checked)
  switch --from A --to B --meta b1:p,b2:p [--tables t1,t2] [--dry-run]
                                          move every table of cluster A (or the named ones) to B, all or nothing
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
  switch: `Usage: meta-proxy-ctl switch --from CLUSTER_A --to CLUSTER_B --meta b1:p,b2:p [--tables t1,t2] [--dry-run]

Moves every table routed to CLUSTER_A (or only --tables) to CLUSTER_B with the given metas, in one
ZooKeeper transaction (or one rewrite of the registry file): every route moves, or none does.
Each route is written only if it is still as read; if one changed, nothing moves: re-run the command.
Every proxy sees the new routes through its watch and re-issues queries in flight to CLUSTER_B.
--from and --to may name the same cluster, to move it to new MetaServer machines.
  --from NAME     the cluster the tables leave
  --to NAME       the cluster they go to
  --meta LIST     CLUSTER_B's MetaServers, comma-separated host:port
  --tables LIST   only these tables (each must be routed to CLUSTER_A)
  --dry-run       print the plan and change nothing
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
  switch: { from: 'value', to: 'value', meta: 'value', tables: 'value', 'dry-run': 'flag' },
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
  if (positionals.length < expected.length) throw new CommandUsageError(`${command} needs the ${expected[positionals.length]} name.`, command);
  if (positionals.length > expected.length) throw new CommandUsageError(`Unexpected argument${positionals.length - expected.length > 1 ? 's' : ''}: ${positionals.slice(expected.length).join(' ')}.`, command);

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
      return { configFile, command: { kind: 'switch', from, to, ...(tables && { tables }), dryRun: flags.has('dry-run') } };
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
