import type { CommandName } from './args.js';
import type { ClusterAsker } from './clusters.js';
import type { RouteStore } from './routeStore.js';
import type { FleetAccess } from './fleetWait.js';

/** What a command works with; built by `runCtl`. */
export interface CommandContext {
  store: RouteStore;
  /** How this command was invoked, for the commands it prints: `meta-proxy-ctl --config FILE`. */
  invokedAs: string;
  /** Opened on first use: only the commands that talk to clusters open it. */
  clusters(): ClusterAsker;
  /** The command's output (stdout). */
  out(text: string): void;
  /** Warnings and notes beside the output (stderr). */
  note(text: string): void;
  /** The registered proxy instances (ZooKeeper only; undefined with the routes file). */
  fleet?: FleetAccess;
  /** Waits (the switch waits for replicas to apply a lift); tests may shorten it. */
  sleep(ms: number): Promise<void>;
  /** Runs after the routes are read and before the write is sent: the window a concurrent edit races in. */
  beforeCommit(command: CommandName, tables: readonly string[]): Promise<void>;
}

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
/** The routes were written but a fence or lift was not done: the command to finish it was printed. */
export const EXIT_UNFINISHED = 3;
/** `switch --wait-clients`: some client hosts had not followed by the deadline (they are listed). */
export const EXIT_CLIENTS_PENDING = 4;
