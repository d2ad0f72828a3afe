#!/usr/bin/env node
import { runCli } from './cliRun.js';
import { readVersion } from './version.js';

const SIGNALS = ['SIGTERM', 'SIGINT'] as const;

const code = await runCli({
  argv: process.argv.slice(2),
  version: readVersion(),
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  // Loaded only when serving, so --help and --check-config work without the native ZooKeeper addon.
  run: async (config, logger) => (await import('./main.js')).run(config, logger),
  onSignal: (handler) => {
    for (const signal of SIGNALS) process.on(signal, handler);
    return () => {
      for (const signal of SIGNALS) process.off(signal, handler);
    };
  },
  onFatal: (handler) => {
    process.on('uncaughtException', handler);
    return () => process.off('uncaughtException', handler);
  },
  exitNow: (exitCode) => process.exit(exitCode),
});
// Exit explicitly: once the proxy is disposed nothing useful is left, and a stray handle must not keep it alive.
process.exit(code);
