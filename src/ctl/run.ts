/**
 * The `meta-proxy-ctl` command: reads the command line and the proxy's
 * configuration, opens the route store it names (ZooKeeper, or the registry
 * file), runs one command and resolves its exit code.
 */
import { resolve } from 'node:path';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/types.js';
import { ConfigError, ZooKeeperError } from '../errors.js';
import { COMMAND_USAGE, CommandUsageError, parseCtlArgs, USAGE, type CommandName, type CtlCommand } from './args.js';
import { checkCommand } from './checkCommand.js';
import { createClusterAsker, type ClusterAsker } from './clusters.js';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, type CommandContext } from './context.js';
import { fleetCommand } from './fleetCommand.js';
import { askInstance, readFleet, type FleetInstance } from './fleet.js';
import { CtlFailure } from './errors.js';
import { openFileStore } from './fileStore.js';
import { importCommand } from './importCommand.js';
import { deleteCommand, getCommand, listCommand, setCommand } from './routeCommands.js';
import type { RouteStore } from './routeStore.js';
import { switchCommand } from './switchCommand.js';
import { fenceCommand, fencesCommand } from './fenceCommand.js';
import { shellWord } from './format.js';

/** Everything the command needs from the process, passed in so it runs in-process in tests. */
export interface CtlEnv {
  argv: readonly string[];
  version: string;
  /** Where a relative `--config` is resolved. Default: the process's working directory. */
  cwd?: string;
  stdout(text: string): void;
  stderr(text: string): void;
  /**
   * Called after the routes were read and before the write is sent. The
   * production bin passes none; tests write a concurrent change here.
   */
  beforeCommit?(command: CommandName, tables: readonly string[]): Promise<void> | void;
  /** Replace how the route store is opened (tests). */
  openStore?(config: Config): RouteStore | Promise<RouteStore>;
  /** Replace how clusters are asked (tests). */
  openClusters?(config: Config): ClusterAsker;
  /** Replace how the registered instances are read (tests). */
  readFleet?(config: Config): Promise<FleetInstance[]>;
}

async function openStore(config: Config): Promise<RouteStore> {
  if (config.zookeeper) {
    // Loaded only here, so that --help and the file registry work without the native ZooKeeper addon.
    const { openZkStore } = await import('./zkStore.js');
    return openZkStore(config.zookeeper, config.file);
  }
  if (config.registry.file !== undefined) return openFileStore(config.registry.file);
  throw new ConfigError(`${config.file}: neither a "zookeeper" section nor "registry.file" is set: there are no routes to manage.`);
}

async function execute(ctx: CommandContext, command: Exclude<CtlCommand, { kind: 'help' | 'version' | 'fleet' }>): Promise<number> {
  switch (command.kind) {
    case 'list':
      return listCommand(ctx, command.json);
    case 'get':
      return getCommand(ctx, command.table, command.json);
    case 'set':
      return setCommand(ctx, command.table, command.route, command.force);
    case 'delete':
      return deleteCommand(ctx, command.table, command.force);
    case 'switch':
      return switchCommand(ctx, { from: command.from, to: command.to, ...(command.tables && { tables: command.tables }), dryRun: command.dryRun, fence: command.fence, configSyncMs: command.configSyncMs, fleetWaitMs: command.fleetWaitMs, ...(command.waitClientsS !== undefined && { waitClientsS: command.waitClientsS }) });
    case 'fence':
      return fenceCommand(ctx, command);
    case 'fences':
      return fencesCommand(ctx, command);
    case 'import':
      return importCommand(ctx, { cluster: command.cluster, dryRun: command.dryRun, overwrite: command.overwrite });
    case 'check':
      return checkCommand(ctx, command.json);
  }
}

async function runFleet(env: CtlEnv, config: Config, command: Extract<CtlCommand, { kind: 'fleet' }>): Promise<number> {
  try {
    return await fleetCommand(
      { config, out: (text) => env.stdout(text), note: (text) => env.stderr(text), ...(env.readFleet && { readFleet: env.readFleet }) },
      { ...(command.table !== undefined && { table: command.table }), json: command.json, timeoutMs: command.timeoutMs },
    );
  } catch (error) {
    if (!(error instanceof CtlFailure)) throw error;
    env.stderr(`meta-proxy-ctl fleet: ${error.message}\n`);
    return EXIT_FAILED;
  }
}

/** Runs one `meta-proxy-ctl` command line; resolves the exit code (0 ok, 1 failed, 2 usage/config). */
export async function runCtl(env: CtlEnv): Promise<number> {
  let invocation;
  try {
    invocation = parseCtlArgs(env.argv);
  } catch (error) {
    if (!(error instanceof CommandUsageError)) throw error;
    const usage = error.command === undefined ? USAGE : COMMAND_USAGE[error.command];
    env.stderr(`meta-proxy-ctl: ${error.message}\n\n${usage}`);
    return EXIT_USAGE;
  }
  const { command } = invocation;
  if (command.kind === 'help') {
    env.stdout(command.topic === undefined ? USAGE : COMMAND_USAGE[command.topic]);
    return EXIT_OK;
  }
  if (command.kind === 'version') {
    env.stdout(`${env.version}\n`);
    return EXIT_OK;
  }

  let config: Config;
  let store: RouteStore;
  try {
    config = loadConfig(resolve(env.cwd ?? process.cwd(), invocation.configFile));
    // The fleet is read from ZooKeeper's instances path, not from the route store.
    if (command.kind === 'fleet') return await runFleet(env, config, command);
    store = await (env.openStore ?? openStore)(config);
  } catch (error) {
    if (!(error instanceof ConfigError || error instanceof ZooKeeperError)) throw error;
    env.stderr(`meta-proxy-ctl: invalid configuration:\n${error.message}\nGive the proxy's configuration with --config FILE.\n`);
    return EXIT_USAGE;
  }

  let clusters: ClusterAsker | undefined;
  const ctx: CommandContext = {
    store,
    invokedAs: `meta-proxy-ctl --config ${shellWord(invocation.configFile)}`,
    ...(config.zookeeper !== undefined && {
      fleet: {
        path: config.zookeeper.instancesPath,
        routesRoot: config.zookeeper.root,
        read: () => (env.readFleet ?? readFleet)(config),
        ask: askInstance,
      },
    }),
    clusters: () => (clusters ??= (env.openClusters ?? createClusterAsker)(config)),
    out: (text) => env.stdout(text),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    note: (text) => env.stderr(text),
    beforeCommit: async (name, tables) => {
      await env.beforeCommit?.(name, tables);
    },
  };
  try {
    return await execute(ctx, command);
  } catch (error) {
    if (error instanceof CtlFailure) {
      env.stderr(`meta-proxy-ctl ${command.kind}: ${error.message}\n`);
      return EXIT_FAILED;
    }
    env.stderr(`meta-proxy-ctl ${command.kind}: unexpected failure: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return EXIT_FAILED;
  } finally {
    clusters?.close();
    store.close();
  }
}
