#!/usr/bin/env node
/** Entry point of the cluster simulator as its own process; see cliMain.ts for the protocol. */
import { runSimCli, SimUsageError } from './cliMain.js';

const stop = new AbortController();
process.once('SIGTERM', () => stop.abort());
process.once('SIGINT', () => stop.abort());

runSimCli(process.argv.slice(2), process.stdin, process.stdout, stop.signal).then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(err instanceof SimUsageError ? 2 : 1);
  },
);
