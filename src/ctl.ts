#!/usr/bin/env node
import { runCtl } from './ctl/run.js';
import { readVersion } from './version.js';

const code = await runCtl({
  argv: process.argv.slice(2),
  version: readVersion(),
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
});
// The ZooKeeper client's native threads must not keep a finished command alive.
process.exit(code);
