import type { Logger } from 'pino';
import type { Config } from './config/types.js';

/** A running proxy: where it listens, and how to stop it. */
export interface RunningProxy {
  address: { host: string; port: number };
  adminAddress?: { host: string; port: number };
  /** Stop accepting, answer in-flight requests within the drain time, close everything. */
  dispose(): Promise<void>;
}

/** Wires the drivers to the streams and starts serving. */
export async function run(config: Config, logger: Logger): Promise<RunningProxy> {
  void config;
  void logger;
  throw new Error('run() is not wired yet');
}
