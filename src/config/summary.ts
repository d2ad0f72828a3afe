import { formatHostPort } from '../protocol/hostPort.js';
import type { Config } from './types.js';

/** One line an operator can eyeball after `--check-config`: where routes come from, where it listens. */
export function summarizeConfig(config: Config): string {
  const routes = config.zookeeper
    ? `routes from zookeeper ${config.zookeeper.address.join(',')} under ${config.zookeeper.root}` +
      (config.registry.file === undefined ? '' : ' (registry.file ignored)')
    : `routes from file ${config.registry.file ?? '(none)'}`;
  const admin = config.admin.listen ? formatHostPort(config.admin.listen) : 'off';
  const custom = config.metric.custom.length > 0 ? ` (+${config.metric.custom.length} custom)` : '';
  const workers =
    config.server.workers === 1 ? '' : ` (${config.server.workers === 0 ? 'one worker per core' : `${config.server.workers} workers`})`;
  return `${routes}; listen ${formatHostPort(config.server.listen)}${workers}; admin ${admin}; metrics ${config.metric.type}${custom}; log level ${config.log.level}`;
}
