/**
 * The fleet from outside: the instances registered under
 * `zookeeper.instances_path`, and their admin endpoints asked over HTTP.
 * Used by `meta-proxy-ctl fleet`; anything that must hear from every
 * instance (a switch waiting for each to serve the new route) can use it too.
 */
import type { Config } from '../config/types.js';
import { ConfigError, ZooKeeperError } from '../errors.js';
import { readChildren } from '../io/zkChildren.js';
import type { ZooKeeperDriver } from '../io/zookeeper.js';
import { parseFleet } from '../streams/fleet.js';
import type { FleetInstance } from '../model/fleetTypes.js';
import { CtlFailure } from './errors.js';

export type { FleetInstance } from '../model/fleetTypes.js';

/** What one instance answered: each path's JSON, or why it could not be heard. */
export type InstanceAnswer =
  | { reachable: true; answers: Record<string, unknown> }
  | { reachable: false; reason: string };

/**
 * Every registered instance, by name. Throws a `ConfigError` without a
 * zookeeper section, a `CtlFailure` when ZooKeeper cannot be read.
 */
export async function readFleet(config: Config, deps: { driver?: ZooKeeperDriver } = {}): Promise<FleetInstance[]> {
  const zk = config.zookeeper;
  if (zk === undefined) {
    throw new ConfigError(`${config.file}: has no "zookeeper" section: instances register in ZooKeeper, so with registry.file there is no fleet to list.`);
  }
  let driver = deps.driver;
  if (driver === undefined) {
    // Loaded only here, so that the rest works without the native ZooKeeper addon.
    const { createZooKeeperDriver } = await import('../io/zookeeper.js');
    const auth = zk.auth ? { auth: { scheme: zk.auth.scheme, credential: zk.auth.credential } } : {};
    driver = createZooKeeperDriver({ address: zk.address, timeoutMs: zk.timeoutMs, ...auth, nativeLogLevel: 0 });
  }
  try {
    return parseFleet(await readChildren(driver, zk.instancesPath));
  } catch (error) {
    if (!(error instanceof ZooKeeperError)) throw error;
    throw new CtlFailure(`Cannot read the instances under ${zk.instancesPath} in ZooKeeper ${zk.address.join(',')}: ${error.message} Check that ZooKeeper is running and zookeeper.address (and zookeeper.auth) in ${config.file}.`, { cause: error });
  } finally {
    if (deps.driver === undefined) driver.close();
  }
}

/**
 * Asks an instance's admin endpoint for `paths` (e.g. `/status.json?size=1`,
 * `/tables`) in parallel, each answer parsed as JSON, all within `timeoutMs`.
 * Never rejects: an instance that cannot be heard is `reachable: false` with
 * the reason in words.
 */
export async function askInstance(instance: Pick<FleetInstance, 'admin'>, paths: readonly string[], timeoutMs: number): Promise<InstanceAnswer> {
  if (instance.admin === null) return { reachable: false, reason: 'no admin endpoint (admin.listen is off)' };
  const base = instance.admin.replace(/\/+$/, '');
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const bodies = await Promise.all(
      paths.map(async (path) => {
        const response = await fetch(`${base}${path}`, { signal, headers: { accept: 'application/json' } });
        if (!response.ok) throw new AnswerError(`${path} answered HTTP ${response.status}`);
        try {
          return JSON.parse(await response.text()) as unknown;
        } catch {
          throw new AnswerError(`${path} did not answer JSON`);
        }
      }),
    );
    return { reachable: true, answers: Object.fromEntries(paths.map((path, i) => [path, bodies[i]])) };
  } catch (error) {
    return { reachable: false, reason: reasonOf(error, timeoutMs) };
  }
}

class AnswerError extends Error {}

function reasonOf(error: unknown, timeoutMs: number): string {
  if (error instanceof AnswerError) return error.message;
  const name = (error as { name?: unknown } | undefined)?.name;
  if (name === 'TimeoutError' || name === 'AbortError') return `no answer within ${timeoutMs} ms`;
  const cause = (error as { cause?: { code?: unknown; message?: unknown } } | undefined)?.cause;
  const code = typeof cause?.code === 'string' ? cause.code : undefined;
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'host name does not resolve';
  if (code !== undefined) return code;
  if (typeof cause?.message === 'string') return cause.message;
  return error instanceof Error ? error.message : String(error);
}
