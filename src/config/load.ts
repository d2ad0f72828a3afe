import { readFileSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import yaml from 'js-yaml';
import { ConfigError } from '../errors.js';
import { createConfigSchema } from './schema.js';
import type { Config } from './types.js';

/**
 * Reads, parses and validates a YAML configuration file, and checks that the
 * files it names exist. Throws a `ConfigError` listing every problem, one per
 * line, each naming the file and the key.
 */
export function loadConfig(file: string): Config {
  const absolute = resolve(file);
  let text: string;
  try {
    text = readFileSync(absolute, 'utf8');
  } catch (error) {
    throw new ConfigError(`${absolute}: cannot read the configuration file: ${reasonOf(error)}`, { cause: error });
  }
  const config = parseConfig(text, absolute);
  const problems = [
    ...(config.registry.file === undefined || config.zookeeper !== undefined
      ? []
      : missingFile(config.registry.file, 'registry.file')),
    ...config.metric.custom.flatMap((module, index) => missingFile(module, `metric.custom[${index}]`)),
  ];
  if (problems.length > 0) {
    throw new ConfigError(problems.map((problem) => `${absolute}: ${problem}`).join('\n'));
  }
  return config;
}

/**
 * Parses and validates configuration text. `file` names the source in
 * messages, and its folder anchors relative paths. Touches no file.
 */
export function parseConfig(text: string, file: string): Config {
  const absolute = resolve(file);
  let document: unknown;
  try {
    document = yaml.load(text, { filename: absolute });
  } catch (error) {
    if (error instanceof yaml.YAMLException) {
      const where = `${absolute}:${error.mark.line + 1}:${error.mark.column + 1}`;
      throw new ConfigError(`${where}: not valid YAML: ${error.reason}`, { cause: error });
    }
    throw error;
  }
  const schema = createConfigSchema({ baseDir: dirname(absolute), hostname: hostname() });
  const result = schema.safeParse(document, { reportInput: true });
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      const key = formatKeyPath(issue.path);
      return key === '' ? `${absolute}: ${issue.message}` : `${absolute}: ${key}: ${issue.message}`;
    });
    throw new ConfigError([...new Set(lines)].join('\n'));
  }
  return { file: absolute, ...result.data };
}

/**
 * A copy fit for logs: the ZooKeeper credential and any password in the
 * Falcon agent URL replaced by "***".
 */
export function redactConfig(config: Config): unknown {
  const copy = structuredClone(config);
  if (copy.zookeeper?.auth) copy.zookeeper.auth.credential = '***';
  try {
    const url = new URL(copy.metric.falcon.agentUrl);
    if (url.password !== '') {
      url.password = '***';
      copy.metric.falcon.agentUrl = url.toString();
    }
  } catch {
    // Validated at load; a hand-built config may carry anything, and redaction must not throw.
  }
  return copy;
}

/** `zookeeper.address[1]`, `upstream.clusters["c.1"].drop_host_port_fields`. */
export function formatKeyPath(path: ReadonlyArray<PropertyKey>): string {
  let text = '';
  for (const segment of path) {
    if (typeof segment === 'number') text += `[${segment}]`;
    else if (typeof segment === 'string' && /^[A-Za-z_][A-Za-z0-9_-]*$/.test(segment)) text += text === '' ? segment : `.${segment}`;
    else text += `[${JSON.stringify(String(segment))}]`;
  }
  return text;
}

function missingFile(path: string, key: string): string[] {
  try {
    return statSync(path).isFile() ? [] : [`${key}: expected a file, got the directory "${path}"`];
  } catch (error) {
    return [`${key}: expected an existing file, got "${path}" (${reasonOf(error)})`];
  }
}

function reasonOf(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES') return 'permission denied';
  if (code === 'EISDIR') return 'it is a directory';
  return error instanceof Error ? error.message : String(error);
}
