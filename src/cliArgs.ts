import { UsageError } from './errors.js';

/** What the command line asks for. */
export type CliCommand =
  | { kind: 'help' }
  | { kind: 'version' }
  | { kind: 'check'; configFile: string }
  | { kind: 'run'; configFile: string; logFile?: string };

export const USAGE = `Usage:
  meta-proxy <config.yaml> [log-file]     run the proxy (logs: JSON lines to log-file, rotated, or to stdout)
  meta-proxy --check-config <config.yaml> validate the configuration and exit
  meta-proxy --help | --version

Exit codes: 0 clean shutdown, 2 bad command line or configuration, 1 other start-up failure.
`;

/**
 * Reads the command line (without the node and script paths). The positional
 * form is the original service's: `<config.yaml> [log-file]`. `--help` and
 * `--version` win over anything else on the line. Throws a `UsageError`.
 */
export function parseArgs(argv: readonly string[]): CliCommand {
  const positionals: string[] = [];
  let check = false;
  let checkFile: string | undefined;
  let help = false;
  let version = false;
  const unknown: string[] = [];
  let optionsEnded = false;
  for (const arg of argv) {
    if (optionsEnded || arg === '-' || !arg.startsWith('-')) {
      positionals.push(arg);
    } else if (arg === '--') {
      optionsEnded = true;
    } else if (arg === '--help' || arg === '-h') {
      help = true;
    } else if (arg === '--version' || arg === '-v') {
      version = true;
    } else if (arg === '--check-config') {
      check = true;
    } else if (arg.startsWith('--check-config=')) {
      check = true;
      checkFile = arg.slice('--check-config='.length);
      if (checkFile === '') throw new UsageError('--check-config= needs a file name.');
    } else {
      unknown.push(arg);
    }
  }
  if (help) return { kind: 'help' };
  if (version) return { kind: 'version' };
  if (unknown.length > 0) {
    throw new UsageError(`Unknown option${unknown.length > 1 ? 's' : ''}: ${unknown.join(' ')}.`);
  }
  if (check) {
    const files = checkFile === undefined ? positionals : [checkFile, ...positionals];
    if (files.length !== 1) {
      throw new UsageError(
        files.length === 0
          ? '--check-config needs the configuration file to check.'
          : `--check-config takes one configuration file, got ${files.length}: ${files.join(' ')}.`,
      );
    }
    return { kind: 'check', configFile: files[0] as string };
  }
  const [configFile, logFile, ...extra] = positionals;
  if (configFile === undefined) throw new UsageError('The configuration file is missing.');
  if (extra.length > 0) throw new UsageError(`Too many arguments: ${extra.join(' ')}.`);
  return logFile === undefined ? { kind: 'run', configFile } : { kind: 'run', configFile, logFile };
}
